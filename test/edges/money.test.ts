// The payment record at its edges: refunds Stripe counted and then failed, money without a PaymentIntent, records and trips from before versions, malformed stored data.
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelBooking, checkPayments, retryRefund } from '../../lambdas/shared/domain/payment-operations';
import type { Trip } from '../../lambdas/shared/domain/model';
import { bookingItem, keys, tripItem } from '../../lambdas/shared/dynamodb/items';
import { startStripeFake, type FakeRefund, type StripeFake } from '../../scripts/local/stripe-fake';
import { overwriteSlot, testDocumentClient, testTableName } from '../support/store';
import { chargeRefunded, checkoutSession, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { paymentScenario } from '../support/payment-scenario';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const scenario = (options: { register?: boolean } = {}) => paymentScenario(fake, options);

const putRaw = (item: Record<string, unknown>) => testDocumentClient().send(new PutCommand({ TableName: testTableName(), Item: item }));

describe('a refund Stripe counted on the charge, which then fails', () => {
  it('puts the payment in front of a person when refund.failed arrives after charge.refunded counted the pending refund in full', async () => {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[1], isBlocked: true });
    fake.nextRefundStatus('pending');
    expect((await s.pay()).body).toMatchObject({ outcome: 'refunded', reason: 'SLOT_BLOCKED' });
    const [pending] = fake.refundsOf(s.paymentIntent) as [FakeRefund];

    // Stripe counts a pending refund in the charge's amount_refunded at once.
    const charge = await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId })));
    expect(charge.body).toMatchObject({ outcome: 'refunded' });
    const failed = fake.setRefundStatus(pending.id, 'failed', 'expired_or_canceled_card');
    const response = await s.send('refund.failed', refundObject(failed));

    expect(fake.totalRefunded(s.paymentIntent)).toBe(0);
    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention' } });
    expect(await s.record()).toMatchObject({ status: 'needs_attention', amountRefunded: 0, attention: { reason: 'refund_failed' } });
  });

  it('lets a person retry a failed refund after a late charge.refunded reported the refund from before it failed', async () => {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[1], isBlocked: true });
    fake.nextRefundStatus('pending');
    await s.pay();
    const [pending] = fake.refundsOf(s.paymentIntent) as [FakeRefund];
    // charge.refunded was sent while the refund was pending; its first delivery got a 500, so it comes back late.
    const lateCharge = chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId });
    const failed = fake.setRefundStatus(pending.id, 'failed', 'expired_or_canceled_card');
    expect((await s.send('refund.failed', refundObject(failed))).body).toMatchObject({ outcome: 'needs_attention' });

    await s.webhook.send(signedRequest(lateCharge));
    const retried = await retryRefund(s.ops, s.paymentIntent, 'ana');

    expect(retried).toMatchObject({ ok: true });
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect(await s.record()).toMatchObject({ status: 'refunded', amountRefunded: s.trip.amount });
  });

  it('takes a failed share refund off the books when charge.refunded counted it before its answer was recorded, and retries the whole share', async () => {
    const s = await scenario();
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    const bookings = await s.store.listBookingsOfTrip(s.trip.tripId);
    const big = bookings.find((booking) => booking.guestCount === 2)!;
    const share = big.amount as number;
    const events = webhookHarness(fake); // its own client: not held

    // The operator's cancellation: the release commits, Stripe makes the refund (pending), and the write of its answer is held.
    const release = s.faults.hold('TransactWriteItemsCommand');
    const answer = s.faults.hold('TransactWriteItemsCommand');
    fake.nextRefundStatus('pending');
    const cancelling = cancelBooking(s.ops, { reference: big.reference, reason: 'guide ill', actorId: 'ana', refund: true });
    await release.reached;
    release.release();
    await answer.reached;
    const [pending] = fake.refundsOf(s.paymentIntent) as [FakeRefund];
    // Meanwhile Stripe reports the charge (the pending refund counted) and then the refund's failure.
    await events.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { refunded: share, tripId: s.trip.tripId })));
    const failed = fake.setRefundStatus(pending.id, 'failed', 'expired_or_canceled_card');
    expect((await events.send(signedRequest(stripeEvent('refund.failed', refundObject(failed))))).body).toMatchObject({ outcome: 'needs_attention' });
    answer.release();
    await cancelling;

    expect(fake.totalRefunded(s.paymentIntent)).toBe(0);
    expect(await s.record()).toMatchObject({ status: 'needs_attention', amountRefunded: 0 });
    await retryRefund(s.ops, s.paymentIntent, 'ana');
    expect(fake.totalRefunded(s.paymentIntent)).toBe(share);
  });
  it('lets a person retry when a dashboard refund that charge.refunded counted fails before its refund.created arrived', async () => {
    const s = await scenario();
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    fake.nextRefundStatus('pending');
    const dashboard = await fake.client().refunds.create({ payment_intent: s.paymentIntent });
    expect((await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId })))).body).toMatchObject({
      outcome: 'released',
    });
    // Out of order: the failure is the first refund.* event about this refund to arrive.
    const failed = fake.setRefundStatus(dashboard.id, 'failed', 'expired_or_canceled_card');
    expect((await s.send('refund.failed', refundObject(failed))).body).toMatchObject({ outcome: 'needs_attention' });

    expect(await s.record()).toMatchObject({ status: 'needs_attention', amountRefunded: 0 });
    expect(await retryRefund(s.ops, s.paymentIntent, 'ana')).toMatchObject({ ok: true });
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
  });

  it('releases the booking still confirmed when the whole charge is refunded while a refused share refund waits for a person', async () => {
    const s = await scenario();
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    const [first] = await s.store.listBookingsOfTrip(s.trip.tripId);
    fake.refuseNext('charge_disputed');
    expect(await cancelBooking(s.ops, { reference: first!.reference, reason: 'guide ill', actorId: 'ana', refund: true })).toMatchObject({
      ok: true,
      refund: { status: 'failed' },
    });
    // Someone refunds the whole charge in the dashboard.
    await fake.client().refunds.create({ payment_intent: s.paymentIntent });

    const refunded = await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId })));

    expect(refunded.status).toBe(200);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect((await s.store.listBookingsOfTrip(s.trip.tripId)).map((booking) => booking.status)).toEqual(['cancelled', 'cancelled']);
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.tripStatus()).not.toBe('booked');
    expect((await checkPayments(s.store)).problems.filter((problem) => problem.paymentId === s.paymentIntent)).toEqual([]);
  });
});

describe('money taken without a PaymentIntent', () => {
  it('puts the payment in front of a person when the bookings of a paid session without a PaymentIntent are cancelled with a refund, instead of keeping the money silently', async () => {
    const s = await scenario();
    expect((await s.pay({ paymentIntent: null })).body).toMatchObject({ outcome: 'booked' });
    const sessionId = s.trip.checkoutSessionId as string;

    for (const booking of await s.store.listBookingsOfTrip(s.trip.tripId)) {
      expect(await cancelBooking(s.ops, { reference: booking.reference, reason: 'guide ill', actorId: 'ana', refund: true })).toMatchObject({ ok: true });
    }

    expect(await s.store.getPaymentRecord(sessionId)).toMatchObject({ amountPaid: s.trip.amount, amountRefunded: 0, status: 'needs_attention' });
  });
});

describe('records and trips written before payment records had versions', () => {
  it('refunds a set-aside payment whose legacy record is still refund_pending when its checkout is redelivered', async () => {
    const s = await scenario();
    const at = new Date().toISOString();
    const paid = s.trip.amount + 100;
    fake.registerPayment(`${s.paymentIntent}x`, paid);
    const pi = `${s.paymentIntent}x`;
    // The old code wrote this, then Stripe was down (500): the refund was never made.
    await putRaw({
      ...keys.paymentRecord(pi),
      entity: 'payment',
      paymentId: pi,
      tripId: s.trip.tripId,
      status: 'refund_pending',
      reason: 'amount_mismatch',
      amount: paid,
      currency: 'eur',
      createdAt: at,
      updatedAt: at,
    });

    const response = await s.pay({ paymentIntent: pi, amount: paid });

    expect(response).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.totalRefunded(pi)).toBe(paid);
    expect(await s.store.getPaymentRecord(pi)).toMatchObject({ status: 'refunded', amountRefunded: paid });
    expect(await s.tripStatus()).toBe('pending_payment');
  });

  it('finishes the refund of a legacy refund_pending trip (no record) when its checkout is redelivered: refunded once, and the trip ends refunded', async () => {
    const s = await scenario();
    const stored = (await s.store.getTrip(s.trip.tripId)) as Trip;
    // The old code moved the unbookable trip to refund_pending, then Stripe was down: no refund was made.
    await putRaw(tripItem({ ...stored, status: 'refund_pending', paymentId: s.paymentIntent, statusReason: 'SLOT_BLOCKED' }));

    const response = await s.pay();

    expect(response.status).toBe(200);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect(await s.tripStatus()).toBe('refunded');
    expect(await s.record()).toMatchObject({ status: 'refunded', setAside: false });
  });

  it('recognises the refund the old code made under refund-<pi> an hour before, instead of calling it a refusal', async () => {
    const s = await scenario();
    const stored = (await s.store.getTrip(s.trip.tripId)) as Trip;
    await putRaw(tripItem({ ...stored, status: 'refund_pending', paymentId: s.paymentIntent, statusReason: 'SLOT_BLOCKED' }));
    // The old gateway: a full refund (no amount), reason in the metadata, key refund-<pi>; its answer was never written.
    await fake
      .client()
      .refunds.create(
        { payment_intent: s.paymentIntent, metadata: { reason: 'SLOT_BLOCKED', tripId: s.trip.tripId } },
        { idempotencyKey: `refund-${s.paymentIntent}` },
      );

    const response = await s.pay();

    expect(response).toMatchObject({ status: 200 });
    expect(response.body.outcome).not.toBe('needs_attention');
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect(await s.tripStatus()).toBe('refunded');
  });
});

describe('stored payment records that are malformed', () => {
  it('puts a payment whose stored record has no refunds list in front of a person (200), instead of failing every delivery', async () => {
    const s = await scenario();
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    const record = (await s.record())!;
    const { refunds: _dropped, ...withoutRefunds } = record;
    await putRaw({ ...keys.paymentRecord(s.paymentIntent), entity: 'payment', ...withoutRefunds });

    const response = await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId })));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'stored_data_unusable' } });
  });

  it('puts a payment whose stored record has an unknown status in front of a person, instead of treating it as an old refund_pending record', async () => {
    const s = await scenario();
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    const record = (await s.record())!;
    await putRaw({ ...keys.paymentRecord(s.paymentIntent), entity: 'payment', ...record, status: 'charged_back' });

    const response = await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId })));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'stored_data_unusable' } });
  });

  it('puts the payment in front of a person instead of cancelling a booking whose stored guest count is unusable without its seats coming back', async () => {
    const s = await scenario();
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    const single = (await s.store.listBookingsOfTrip(s.trip.tripId)).find((booking) => booking.guestCount === 1)!;
    await putRaw({ ...bookingItem(single), guestCount: 'one' });

    const response = await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId })));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'stored_data_unusable' } });
    const stored = await testDocumentClient().send(new GetCommand({ TableName: testTableName(), Key: keys.booking(single.reference) }));
    expect(stored.Item?.status).toBe('confirmed');
    await putRaw(bookingItem(single)); // leave the file's table readable for other runs of the check
  });
});

describe('running again 25 hours later, after Stripe forgot the key', () => {
  it('finds the refund Stripe made for an unbookable trip whose answer was never written, and refunds nothing twice, when Stripe redelivers 25 hours later', async () => {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[1], isBlocked: true });
    const event = stripeEvent('checkout.session.completed', checkoutSession(s.trip, { paymentIntent: s.paymentIntent }));
    // The confirmation is refused, the refund is requested, Stripe refunds; then DynamoDB throttles the write of its answer.
    const confirmation = s.faults.hold('TransactWriteItemsCommand');
    const requested = s.faults.hold('TransactWriteItemsCommand');
    const answered = s.faults.hold('TransactWriteItemsCommand');
    const first = s.webhook.send(signedRequest(event));
    await confirmation.reached;
    confirmation.release();
    await requested.reached;
    requested.release();
    await answered.reached;
    s.faults.queue('TransactWriteItemsCommand', 'throttle', 'throttle', 'throttle', 'throttle', 'throttle');
    answered.release();
    expect((await first).status).toBe(500);
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect(await s.record()).toMatchObject({ status: 'refund_pending', refunds: [{ status: 'requested' }] });

    fake.advance(25 * 3_600_000);
    const later = new Date(Date.now() + 25 * 3_600_000);
    const redelivered = await webhookHarness(fake, { clock: { now: () => later } }).send(
      signedRequest(event, { timestamp: Math.floor(later.getTime() / 1000) }),
    );

    expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'SLOT_BLOCKED' } });
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect(fake.calls.filter((call) => call.method === 'GET' && call.path === '/v1/refunds')).not.toHaveLength(0);
    expect(await s.record()).toMatchObject({ status: 'refunded', amountRefunded: s.trip.amount });
    expect(await s.tripStatus()).toBe('refunded');
  });
});
