// Money at the edges, through the real webhook: refunds racing confirmations, Stripe refusing, refunds failing later, discounts, free and foreign sessions, unusable data.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import { keys, slotItem } from '../../lambdas/shared/dynamodb/items';
import { GLOBAL_INDEXES } from '../../lambdas/shared/dynamodb/table-definition';
import { REFUND_KEY_METADATA } from '../../lambdas/shared/stripe/stripe-gateway';
import { startStripeFake, type FakeRefund, type StripeFake } from '../../scripts/local/stripe-fake';
import type { Trip } from '../../lambdas/shared/domain/model';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { LOCAL_INDEXES, overwriteSlot, testDocumentClient, testStore, testTableName } from '../support/store';
import { chargeRefunded, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { paymentScenario } from '../support/payment-scenario';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const scenario = (options: { register?: boolean } = {}) => paymentScenario(fake, options);

/** A second webhook over its own client, so one side of a race can be held at the SDK boundary while the other runs. */
function otherSide() {
  const client = testDocumentClient();
  const faults = injectFaults(client);
  const store = testStore(client);
  return { faults, store, webhook: webhookHarness(fake, { store }) };
}

const refundPosts = (paymentIntent: string) => fake.refundsOf(paymentIntent).length;

describe('a full refund racing the confirmation of the same payment', () => {
  it.each([{ metadata: true }, { metadata: false }])(
    'refund committed while the confirmation was on its way (the charge names its trip: $metadata): nothing booked, the trip ends refunded, both 200',
    async ({ metadata }) => {
      const s = await scenario();
      const refundSide = otherSide();
      const held = s.faults.hold('TransactWriteItemsCommand');

      const confirmation = s.pay();
      await held.reached;
      const refund = await refundSide.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: metadata ? s.trip.tripId : '' })));
      held.release();
      const confirmed = await confirmation;

      expect(refund).toMatchObject({ status: 200, body: { outcome: 'refund_recorded' } });
      expect(confirmed).toMatchObject({ status: 200, body: { outcome: 'already_refunded' } });
      expect(await s.store.listBookingsOfTrip(s.trip.tripId)).toEqual([]);
      expect(await s.available()).toEqual([5, 5]);
      expect(await s.tripStatus()).toBe('refunded');
      expect(await s.record()).toMatchObject({ status: 'refunded', reason: 'refunded_before_confirmation', amountRefunded: s.trip.amount });
      expect(refundPosts(s.paymentIntent)).toBe(0);
    },
  );

  it.each([{ metadata: true }, { metadata: false }])(
    'confirmation committed while the refund was on its way (the charge names its trip: $metadata): the bookings are released, never booked-and-refunded',
    async ({ metadata }) => {
      const s = await scenario();
      const refundSide = otherSide();
      const held = refundSide.faults.hold('TransactWriteItemsCommand');

      const refunding = refundSide.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: metadata ? s.trip.tripId : '' })));
      await held.reached;
      const confirmed = await s.pay();
      held.release();
      const refund = await refunding;

      expect(confirmed).toMatchObject({ status: 200, body: { outcome: 'booked' } });
      expect(refund).toMatchObject({ status: 200, body: { outcome: 'released', tripId: s.trip.tripId } });
      expect((await s.store.listBookingsOfTrip(s.trip.tripId)).map((booking) => booking.status)).toEqual(['cancelled', 'cancelled']);
      expect(await s.available()).toEqual([5, 5]);
      expect(await s.tripStatus()).toBe('refunded');
      expect(await s.record()).toMatchObject({ status: 'refunded', amountRefunded: s.trip.amount, amountPaid: s.trip.amount });
    },
  );

  it('releases a booked trip on a refund without trip metadata while the payment index has not caught up', async () => {
    const s = await scenario();
    await s.pay();
    const refundSide = otherSide();
    refundSide.faults.lagIndex(GLOBAL_INDEXES.bySlotOrPayment.indexName);

    const refund = await refundSide.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: '' })));

    expect(refund).toMatchObject({ status: 200, body: { outcome: 'released', tripId: s.trip.tripId } });
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.tripStatus()).toBe('refunded');
  });
});

describe('Stripe refuses a refund for good', () => {
  it.each([
    { code: 'charge_disputed', refuse: (f: StripeFake) => f.refuseNext('charge_disputed', { message: 'This charge is disputed.' }) },
    { code: 'amount_too_large', refuse: (f: StripeFake) => f.refuseNext('amount_too_large', { param: 'amount' }) },
    { code: 'idempotency_error', refuse: (f: StripeFake) => f.refuseNext('idempotency_error', { type: 'idempotency_error' }) },
    { code: 'resource_missing', refuse: () => undefined, register: false },
  ])(
    '$code: the payment needs attention, the audit has Stripe’s code, the alarm metric fires, Stripe gets 200 and is not asked again',
    async ({ code, refuse, register }) => {
      const s = await scenario({ register: register ?? true });
      await overwriteSlot({ ...s.slots[1], isBlocked: true });
      const added = vi.spyOn(s.webhook.metrics, 'addMetric');
      refuse(fake);
      const event = stripeEvent('checkout.session.completed', s.session());

      const first = await s.webhook.send(signedRequest(event));
      const again = await s.webhook.send(signedRequest(event));

      expect(first).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: code } });
      expect(again).toMatchObject({ status: 200, body: { outcome: 'needs_attention' } });
      expect(await s.record()).toMatchObject({
        status: 'needs_attention',
        attention: { reason: 'refund_refused', code, previousStatus: 'refund_pending' },
        refunds: [{ status: 'failed', failureCode: code }],
      });
      expect(await s.tripStatus()).toBe('refund_pending');
      expect(fake.calls.filter((call) => call.method === 'POST' && call.idempotencyKey === `refund-${s.paymentIntent}`)).toHaveLength(1);
      expect(await s.store.listAudit('payment', s.paymentIntent)).toContainEqual(
        expect.objectContaining({ eventType: 'payment.refund_failed', metadata: expect.objectContaining({ code }) }),
      );
      // Counted by the delivery that put it in front of a person; the redelivery finds it there and counts nothing.
      expect(added.mock.calls.filter(([name]) => name === 'PaymentsNeedingAttention')).toHaveLength(1);
      expect((await s.store.listPaymentsNeedingAttention()).map((record) => record.paymentId)).toContain(s.paymentIntent);
    },
  );

  it.each([
    { failure: 500 as const, count: 1 },
    { failure: 429 as const, count: 1 },
    { failure: 'lock_timeout' as const, count: 1 },
    { failure: 'reset' as const, count: 2 },
  ])('a transient $failure answers 500, keeps the refund requested, and refunds exactly once when redelivered', async ({ failure, count }) => {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[0], availableCount: 1 });
    fake.failNext(count, failure);
    const event = stripeEvent('checkout.session.completed', s.session());

    const first = await s.webhook.send(signedRequest(event));
    expect(first.status).toBe(500);
    expect(await s.record()).toMatchObject({ status: 'refund_pending', refunds: [{ status: 'requested', amount: s.trip.amount }] });
    const again = await s.webhook.send(signedRequest(event));

    expect(again).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'INSUFFICIENT_AVAILABILITY' } });
    expect(fake.refundsOf(s.paymentIntent).map((refund) => refund.amount)).toEqual([s.trip.amount]);
    expect(await s.record()).toMatchObject({ status: 'refunded', amountRefunded: s.trip.amount });
    expect(await s.tripStatus()).toBe('refunded');
  });
});

describe('Stripe says yes, then the refund changes', () => {
  async function refundedUnbookableTrip() {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[1], isBlocked: true });
    expect((await s.pay()).body).toMatchObject({ outcome: 'refunded' });
    const [refund] = fake.refundsOf(s.paymentIntent);
    return { s, refund: refund as FakeRefund };
  }

  it('puts a released, refunded trip’s payment in front of a person when refund.failed arrives, and takes the money back off the books', async () => {
    const { s, refund } = await refundedUnbookableTrip();
    const failed = fake.setRefundStatus(refund.id, 'failed', 'expired_or_canceled_card');

    const response = await s.webhook.send(signedRequest(stripeEvent('refund.failed', refundObject(failed))));
    const lateSuccess = await s.webhook.send(signedRequest(stripeEvent('refund.updated', { ...refundObject(failed), status: 'succeeded' })));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'expired_or_canceled_card' } });
    expect(lateSuccess).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    expect(await s.record()).toMatchObject({
      status: 'needs_attention',
      amountRefunded: 0,
      attention: { reason: 'refund_failed', code: 'expired_or_canceled_card' },
      refunds: [{ status: 'failed', stripeRefundId: refund.id }],
    });
    expect((await s.store.listPaymentsNeedingAttention()).map((record) => record.paymentId)).toContain(s.paymentIntent);
  });

  it('follows a pending refund to succeeded from refund.updated, and only then calls the trip refunded', async () => {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[1], isBlocked: true });
    fake.nextRefundStatus('pending');

    expect((await s.pay()).body).toMatchObject({ outcome: 'refunded' });
    expect(await s.record()).toMatchObject({ status: 'refund_pending', amountRefunded: 0, refunds: [{ status: 'pending' }] });
    expect(await s.tripStatus()).toBe('refund_pending');
    const [refund] = fake.refundsOf(s.paymentIntent);
    const succeeded = fake.setRefundStatus(refund!.id, 'succeeded');

    const created = await s.webhook.send(signedRequest(stripeEvent('refund.created', { ...refundObject(succeeded), status: 'pending' })));
    const updated = await s.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(succeeded))));

    expect(created.body).toMatchObject({ outcome: 'duplicate' });
    expect(updated.body).toMatchObject({ outcome: 'refund_updated' });
    expect(await s.record()).toMatchObject({ status: 'refunded', amountRefunded: s.trip.amount, refunds: [{ status: 'succeeded' }] });
    expect(await s.tripStatus()).toBe('refunded');
  });

  it('records a refund made in the dashboard on the payment, and ignores refunds of payments it holds no record of', async () => {
    const s = await scenario();
    await s.pay();
    const dashboard = {
      id: 're_dashboard_1',
      object: 'refund',
      amount: 1_000,
      currency: 'eur',
      payment_intent: s.paymentIntent,
      status: 'succeeded',
      metadata: {},
    };

    const recorded = await s.webhook.send(signedRequest(stripeEvent('refund.created', dashboard)));
    const foreign = await s.webhook.send(signedRequest(stripeEvent('refund.created', { ...dashboard, id: 're_other', payment_intent: paymentIntentId() })));

    expect(recorded.body).toMatchObject({ outcome: 'refund_updated' });
    expect(foreign.body).toMatchObject({ outcome: 'no_change' });
    expect(await s.record()).toMatchObject({
      status: 'booked',
      amountRefunded: 1_000,
      refunds: [{ refundKey: 'stripe-re_dashboard_1', requestedBy: 'stripe', status: 'succeeded' }],
    });
    expect(await s.tripStatus()).toBe('booked');
  });

  it('sends our key in every refund’s metadata and nothing free-form', async () => {
    const { s, refund } = await refundedUnbookableTrip();

    expect(refund.metadata).toEqual({ [REFUND_KEY_METADATA]: `refund-${s.paymentIntent}`, tripId: s.trip.tripId });
  });
});

/** A session a 100 % coupon settled: nothing charged, so no PaymentIntent. */
function paidWithFullDiscount(trip: Trip) {
  return {
    paymentIntent: null,
    amount: 0,
    payment_status: 'no_payment_required',
    amount_subtotal: trip.amount,
    total_details: { amount_discount: trip.amount },
  } as const;
}

describe('sessions that charged nothing, or not through a PaymentIntent', () => {
  it('books a 100 % coupon trip with nothing paid, and its later refund-less end is recorded as such', async () => {
    const s = await scenario({ register: false });

    const response = await s.pay(paidWithFullDiscount(s.trip));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    const sessionId = s.trip.checkoutSessionId as string;
    expect(await s.store.getPaymentRecord(sessionId)).toMatchObject({ status: 'booked', amountPaid: 0 });
    expect((await s.store.listBookingsOfTrip(s.trip.tripId)).map((booking) => booking.amount)).toEqual([0, 0]);
  });

  it('refunds nothing, and calls Stripe for nothing, when a free trip cannot be booked', async () => {
    const s = await scenario({ register: false });
    await overwriteSlot({ ...s.slots[0], isBlocked: true });
    const posts = fake.calls.length;

    const response = await s.pay(paidWithFullDiscount(s.trip));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'nothing_to_refund', reason: 'SLOT_BLOCKED' } });
    expect(await s.store.getPaymentRecord(s.trip.checkoutSessionId as string)).toMatchObject({ status: 'refunded', amountPaid: 0, refunds: [] });
    expect(await s.tripStatus()).toBe('refunded');
    expect(fake.calls.length).toBe(posts);
  });

  it('puts a paid session of ours without a PaymentIntent in front of a person, never refunding its session id', async () => {
    const s = await scenario({ register: false });
    const posts = fake.calls.length;

    const response = await s.pay({ paymentIntent: null, tripId: 'trip-that-never-was', amount: 2_000, amount_subtotal: 2_000 });

    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'no_payment_intent' } });
    expect(await s.store.getPaymentRecord(s.trip.checkoutSessionId as string)).toMatchObject({
      status: 'needs_attention',
      attention: { reason: 'no_payment_intent' },
    });
    expect(fake.calls.length).toBe(posts);
  });
});

describe('discounts', () => {
  it('books a session whose promotion code Stripe applied, storing what was actually paid on the record and the bookings', async () => {
    const s = await scenario();
    const paid = s.trip.amount - 2_001;

    const response = await s.pay({ amount: paid, amount_subtotal: s.trip.amount, total_details: { amount_discount: 2_001 } });

    expect(response).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect(await s.record()).toMatchObject({ status: 'booked', amountPaid: paid, amountRefunded: 0 });
    const shares = (await s.store.listBookingsOfTrip(s.trip.tripId)).map((booking) => booking.amount ?? 0);
    expect(shares.reduce((sum, share) => sum + share, 0)).toBe(paid);
  });

  it('refunds a discounted booked trip in full from charge.refunded with what was paid, never the list price', async () => {
    const s = await scenario();
    const paid = s.trip.amount - 1_500;
    await s.pay({ amount: paid, amount_subtotal: s.trip.amount, total_details: { amount_discount: 1_500 } });

    const refund = await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, paid, { tripId: s.trip.tripId })));

    expect(refund.body).toMatchObject({ outcome: 'released' });
    expect(await s.record()).toMatchObject({ status: 'refunded', amountPaid: paid, amountRefunded: paid });
  });
});

describe('stored data that cannot be acted on', () => {
  it('never refunds and never loops when a slot’s count is not a number: the payment needs a person', async () => {
    const s = await scenario();
    await testDocumentClient().send(new PutCommand({ TableName: testTableName(), Item: { ...slotItem(s.slots[0]), availableCount: 'lots' } }));
    const event = stripeEvent('checkout.session.completed', s.session());

    const first = await s.webhook.send(signedRequest(event));
    const again = await s.webhook.send(signedRequest(event));

    expect(first).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'stored_data_unusable' } });
    expect(again).toMatchObject({ status: 200, body: { outcome: 'needs_attention' } });
    expect(refundPosts(s.paymentIntent)).toBe(0);
    expect(await s.tripStatus()).toBe('pending_payment');
    expect(await s.store.listBookingsOfTrip(s.trip.tripId)).toEqual([]);
    expect(await s.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'stored_data_unusable' } });
    const check = await checkConsistency(s.store, LOCAL_INDEXES);
    expect(check.unusable).toContainEqual(
      expect.objectContaining({ entity: 'slot', id: s.slots[0].slotId, problem: expect.stringContaining('availableCount') }),
    );
    await overwriteSlot(s.slots[0]); // leave the file's table readable for other runs of the check
  });

  it('never refunds when the stored trip no longer parses', async () => {
    const s = await scenario();
    const raw = await testDocumentClient().send(
      new PutCommand({ TableName: testTableName(), Item: { ...keys.trip(s.trip.tripId), entity: 'trip', tripId: s.trip.tripId, status: 'teleported' } }),
    );
    expect(raw.$metadata.httpStatusCode).toBe(200);

    const response = await s.pay();

    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'stored_data_unusable' } });
    expect(refundPosts(s.paymentIntent)).toBe(0);
  });
});
