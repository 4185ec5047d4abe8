// payments retry-refund where Stripe's charge total and our refunds part ways, over DynamoDB Local and the Stripe fake: a
// reason found while the payment already needs a person is kept, a gesture made in the Dashboard stays counted when one of
// our refunds fails after it, a total reported late that still counts a failed refund sends a person to the Dashboard, a
// total delivered after a later failure is believed only when what it counts can be told, and an ordinary discounted
// payment is retried in full.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BOOKED_TRIP_PRICE, bookedTripAt } from '../support/booked-trip';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import type { PaymentRecord, Slot } from '../../lambdas/shared/domain/model';
import type { PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { chargeTotalInDoubt } from '../../lambdas/shared/domain/payment-ledger';
import { paymentRecordItem, slotItem } from '../../lambdas/shared/dynamodb/items';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { FAST_RETRIES, overwriteSlot, readSlot, seedSlot, testDocumentClient, testStore, type TestStore, testTableName } from '../support/store';
import {
  chargeRefunded,
  checkoutSession,
  paymentIntentId,
  refundObject,
  refundStatusChange,
  signedRequest,
  stripeEvent,
} from '../../scripts/dev-kit/stripe-events';
import { createPendingTrip } from '../support/trips';
import { gatewayLosingRefundAnswers } from '../support/gateways';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { holdFirstCommit } from '../support/held-store';

/** Each slot's price a guest, as the shared booked trip seeds it. */
const PRICE = BOOKED_TRIP_PRICE;

/** Runs `story` against a Stripe fake whose clock stands still but for advance(): each second in it is exact. */
async function withFrozenStripe(story: (stripe: StripeFake) => Promise<void>): Promise<void> {
  const base = Math.floor(Date.now() / 1000) * 1000;
  const stripe = await startStripeFake({ now: () => base });
  try {
    await story(stripe);
  } finally {
    await stripe.close();
  }
}

/**
 * The first booking of `t` cancelled at Stripe's second C, its refund taken pending and failing `failsAfter` seconds later,
 * told at once by refund.failed: the payment is in front of a person. Answers C.
 */
async function firstShareFailed(stripe: StripeFake, t: Awaited<ReturnType<typeof bookedTripAt>>, failsAfter = 0): Promise<number> {
  stripe.nextRefundStatus('pending');
  expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
  const [a] = stripe.refundsOf(t.pi);
  const created = a?.created as number;
  stripe.advance(failsAfter * 1_000);
  const failedA = refundObject(stripe.setRefundStatus(a?.id as string, 'failed', 'expired_or_canceled_card'));
  expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', failedA), created: created + failsAfter }))).body.outcome).toBe(
    'needs_attention',
  );
  return created;
}

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** As in test/ops/payments.test.ts: one booking per entry of `guests`, each on its own slot, booked through the webhook. */
async function bookedTrip(guests: readonly number[], discount = 0) {
  const t = await bookedTripAt(fake, guests, { discount });
  return {
    ...t,
    cancelWith: (store_: TestStore, gateway_: PaymentGateway, reference: string) =>
      cancelBooking({ store: store_, gateway: gateway_, clock: systemClock, ids: randomIds }, { reference, reason: 'guide ill', actorId: 'ana', refund: true }),
  };
}

/** An event as Stripe created it `seconds` from now (negative: earlier), for deliveries out of order. */
function createdAt<E extends { created: number }>(event: E, seconds: number): E {
  return { ...event, created: Math.floor(Date.now() / 1000) + seconds };
}

describe('a payment already in front of a person', () => {
  it('keeps stored_data_unusable of a full refund it could not act on, so a retry of the refused share does not clear the payment', async () => {
    const t = await bookedTrip([1, 2]);
    const [first, second] = t.references as [string, string];
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_refused', code: 'charge_disputed' } });

    const slot = (await readSlot(t.store, t.slots[1]?.slotId as string)) as Slot;
    await testDocumentClient().send(new PutCommand({ TableName: testTableName(), Item: { ...slotItem(slot), availableCount: 'lots' } }));
    try {
      // Support refunds the whole charge in the Dashboard; the release of the booking still confirmed cannot read its slot.
      await fake.client().refunds.create({ payment_intent: t.pi });
      const refunded = await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId })));
      expect(refunded.body.outcome).toBe('needs_attention');
      const afterEvent = await t.record();

      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);
      const listed = (await ops(['attention', 'list'])).out.split('\n').filter((line) => line.includes(t.pi));

      // What stays true: all of the money is back at Stripe, the second booking is still confirmed, its trip booked.
      expect(fake.totalRefunded(t.pi)).toBe(t.paid);
      expect(await t.bookingStatus(second)).toBe('confirmed');
      expect(await t.tripStatus()).toBe('booked');
      // The reason the full refund was not acted on is kept on the payment, and it stays in front of a person.
      expect(afterEvent.attention?.more ?? []).toContainEqual(expect.objectContaining({ reason: 'stored_data_unusable' }));
      expect(retried.code).toBe(1);
      expect(await t.record()).toMatchObject({ status: 'needs_attention' });
      expect(listed).toHaveLength(1);
    } finally {
      await overwriteSlot(slot);
    }
  });
});

describe('a gesture made in the Dashboard, then one of our refunds failing', () => {
  it('asks again only what is surely owed for a share that failed after a gesture, as for one refused after a gesture', async () => {
    const t = await bookedTrip([1, 1]);
    const [first, second] = t.references as [string, string];
    // A 20.00 gesture in the Dashboard, reported by charge.refunded.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: 2_000 });
    const gesture = await t.webhook.send(signedRequest(createdAt(chargeRefunded(t.pi, t.paid, { refunded: 2_000, tripId: t.trip.tripId }), -60)));
    expect(gesture.body.outcome).toBe('partial_refund_recorded');
    // The first booking is cancelled: what the standing booking does not keep of its share (25.00) is asked, the rest before
    // a person (was the gesture this share's?); Stripe takes the refund as pending (its charge.refunded, 45.00, on its way).
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    const refund = fake.refundsOf(t.pi).find((candidate) => candidate.amount === PRICE - 2_000);
    const snapshot = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: refund?.created as number };
    // The refund fails at the bank 30 s later; its refund.failed arrives before the charge.refunded of its creation.
    const failed = fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');
    const failure = { ...stripeEvent('refund.failed', refundObject(failed)), created: (refund?.created as number) + 30 };
    expect((await t.webhook.send(signedRequest(failure))).body.outcome).toBe('needs_attention');
    await t.webhook.send(signedRequest(snapshot));
    const before = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    // Stripe's total without the failed refund: the gesture, which stays counted. What is surely owed is asked again; the
    // standing booking's money stays, and the rest of the share stays before a person.
    expect(before.chargeRefunded).toBe(2_000);
    expect(retried.code).toBe(1);
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear' } });
    expect(await t.bookingStatus(second)).toBe('confirmed');
  });
});

describe('a reason joining a payment already in front of a person', () => {
  it('is written once and counted once over redeliveries of its event, and a second reason is kept too', async () => {
    const store = testStore();
    const slots: Slot[] = [await seedSlot(store, { capacity: 5, priceAmount: PRICE }), await seedSlot(store, { capacity: 5, priceAmount: PRICE })];
    const trip = await createPendingTrip(store, [
      [slots[0] as Slot, 1],
      [slots[1] as Slot, 1],
    ]);
    const pi = paymentIntentId();
    fake.registerPayment(pi, trip.amount);
    const webhook = webhookHarness(fake, { store });
    expect((await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: pi }))))).body.outcome).toBe(
      'booked',
    );
    const bookings = await store.listBookingsOfTrip(trip.tripId);
    const first = bookings.find((booking) => booking.slotId === slots[0]?.slotId)?.reference as string;
    const gateway = new StripePaymentGateway(async () => fake.client());
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], gateway)).code).toBe(1);

    const slot = (await readSlot(store, slots[1]?.slotId as string)) as Slot;
    await testDocumentClient().send(new PutCommand({ TableName: testTableName(), Item: { ...slotItem(slot), availableCount: 'lots' } }));
    try {
      await fake.client().refunds.create({ payment_intent: pi });
      const added = vi.spyOn(webhook.metrics, 'addMetric');
      const event = chargeRefunded(pi, trip.amount, { tripId: trip.tripId });
      const once = await webhook.send(signedRequest(event));
      const afterOnce = (await store.getPaymentRecord(pi)) as PaymentRecord;
      const twice = await webhook.send(signedRequest(event));
      const thrice = await webhook.send(signedRequest(event));
      const after = (await store.getPaymentRecord(pi)) as PaymentRecord;

      expect([once.body.outcome, twice.body.outcome, thrice.body.outcome]).toEqual(['needs_attention', 'needs_attention', 'needs_attention']);
      expect(after.version).toBe(afterOnce.version);
      expect(after.attention?.more).toHaveLength(1);
      expect(added.mock.calls.filter(([name]) => name === 'PaymentsNeedingAttention')).toHaveLength(1);
      const audits = (await store.listAudit('payment', pi)).filter((entry) => entry.eventType === 'payment.needs_attention');
      expect(audits).toHaveLength(1);
    } finally {
      await overwriteSlot(slot);
    }
  });
});

describe('a gesture in the Dashboard, then two of our refunds failing', () => {
  it('keeps the gesture counted after the second failure too, and asks again only what is surely owed, as for one', async () => {
    const t = await bookedTrip([1, 1, 1]);
    const [first, second, third] = t.references as [string, string, string];
    // A 20.00 gesture in the Dashboard, reported by charge.refunded a minute ago.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: 2_000 });
    expect((await t.webhook.send(signedRequest(createdAt(chargeRefunded(t.pi, t.paid, { refunded: 2_000, tripId: t.trip.tripId }), -60)))).body.outcome).toBe(
      'partial_refund_recorded',
    );
    // Two bookings are cancelled: Stripe takes both refunds as pending (their charge.refunded are on their way). The first
    // is asked less the gesture (was it this share's?), the payment before a person; the second in full.
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    // Both fail at the bank; their refund.updated arrive before the charge.refunded of their creation.
    const [, a, b] = fake.refundsOf(t.pi);
    expect([a?.amount, b?.amount]).toEqual([PRICE - 2_000, PRICE]);
    const failedA = fake.setRefundStatus(a?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failedA))))).body.outcome).toBe('needs_attention');
    const afterFirst = await t.record();
    const failedB = fake.setRefundStatus(b?.id as string, 'failed', 'expired_or_canceled_card');
    await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failedB))));
    const afterSecond = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    // What is surely owed is asked again (as for one failure after a gesture): the third booking keeps its money, and the
    // first share's rest stays before a person.
    expect({ code: retried.code, refundedAtStripe: fake.totalRefunded(t.pi) }).toEqual({ code: 1, refundedAtStripe: t.paid - PRICE });
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear' } });
    expect(await t.bookingStatus(third)).toBe('confirmed');
    // The gesture stays counted after each failure: no total was taken after either refund was created.
    expect([afterFirst.chargeRefunded, afterSecond.chargeRefunded]).toEqual([2_000, 2_000]);
  });
});

describe('a charge refunded in full, learned from an already_refunded answer, then our pending refund failing', () => {
  it('takes the failed refund off the full total and asks it again: both bookings are cancelled and half the money is not back', async () => {
    const t = await bookedTrip([1, 1]);
    const [first, second] = t.references as [string, string];
    // Support refunds the second booking's 45.00 in the Dashboard; its charge.refunded is still on its way.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    // The first booking is cancelled: Stripe takes its refund as pending (its charge.refunded, total 90.00, is on its way).
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    // The second is cancelled in this service too: Stripe answers charge_already_refunded (90.00 of 90.00 counted).
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const beforeFailure = await t.record();
    // The pending refund fails at the bank.
    const refund = fake.refundsOf(t.pi).find((candidate) => candidate.status === 'pending');
    const failed = fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');
    const afterFailure = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(beforeFailure.chargeRefunded).toBe(t.paid);
    // No booking stands: what is left is owed, and asked for.
    expect({ code: retried.code, err: retried.err, refundedAtStripe: fake.totalRefunded(t.pi) }).toEqual({ code: 0, err: '', refundedAtStripe: t.paid });
    // Stripe's total without the failed refund: the 45.00 made in the Dashboard.
    expect(afterFailure).toMatchObject({ chargeRefunded: PRICE, amountRefunded: PRICE });
  });
});

describe('a charge total reported late, still counting a refund that failed', () => {
  it('asks nothing for the failed share and sends a person to the Dashboard: what the total counts cannot be told apart from a refund made there', async () => {
    const t = await bookedTrip([1, 1]);
    const first = t.references[0] as string;
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const faultyStore = testStore(client);
    // Stripe takes the refund (pending); then every attempt to write its answer fails: the share stays requested.
    const answersThenTableFails: PaymentGateway = {
      refundable: (id) => t.gateway.refundable(id),
      findRefund: (id, key) => t.gateway.findRefund(id, key),
      holdsPayment: (id) => t.gateway.holdsPayment(id),
      refundedSoFar: (id) => t.gateway.refundedSoFar(id),
      refund: async (request) => {
        const answer = await t.gateway.refund(request);
        faults.queue('TransactWriteItemsCommand', ...Array.from({ length: FAST_RETRIES.maxAttempts }, () => 'throttle' as const));
        return answer;
      },
    };
    fake.nextRefundStatus('pending');
    await expect(t.cancelWith(faultyStore, answersThenTableFails, first)).rejects.toMatchObject({ name: 'StoreUnavailableError' });
    // Stripe's charge.refunded for it (total 45.00, the pending refund) cannot be delivered while the table is down.
    const snapshot = chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId });
    // The refund fails at the bank; the operator asks again for the share still requested: it is found failed.
    const [refund] = fake.refundsOf(t.pi);
    fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');
    const found = await ops(['payments', 'retry-refund', t.pi], t.gateway);
    expect(found.code).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' } });
    // Stripe delivers the charge.refunded again, now that the table is back.
    expect((await t.webhook.send(signedRequest(snapshot))).body.outcome).toBeDefined();
    const before = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    // The failure was learned by looking the refund up, with no time of Stripe's: the total, taken before it, is believed.
    expect(before.chargeRefunded).toBe(PRICE);
    expect(retried).toMatchObject({ code: 1, err: expect.stringMatching(/REFUND_UNCLEAR: .*Look at the charge in the Dashboard/) });
    expect(fake.totalRefunded(t.pi)).toBe(0);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' } });
  });
});

describe('a failure learned without a time of Stripe, then a late total still counting it, no booking standing', () => {
  it('sends a person to the Dashboard, never says all of it is back with 45.00 of 90.00 back', async () => {
    const t = await bookedTrip([1, 1]);
    const [first, second] = t.references as [string, string];
    // The second booking is cancelled and refunded: 45.00 back.
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    // The first (the last booking) is cancelled; Stripe takes its refund as pending, then the table fails: it stays requested.
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const answersThenTableFails: PaymentGateway = {
      refundable: (id) => t.gateway.refundable(id),
      findRefund: (id, key) => t.gateway.findRefund(id, key),
      holdsPayment: (id) => t.gateway.holdsPayment(id),
      refundedSoFar: (id) => t.gateway.refundedSoFar(id),
      refund: async (request) => {
        const answer = await t.gateway.refund(request);
        faults.queue('TransactWriteItemsCommand', ...Array.from({ length: FAST_RETRIES.maxAttempts }, () => 'throttle' as const));
        return answer;
      },
    };
    fake.nextRefundStatus('pending');
    await expect(t.cancelWith(testStore(client), answersThenTableFails, first)).rejects.toMatchObject({ name: 'StoreUnavailableError' });
    // Stripe's charge.refunded of its creation (total 90.00, counting the pending refund) cannot be delivered yet.
    const snapshot = chargeRefunded(t.pi, t.paid, { refunded: t.paid, tripId: t.trip.tripId });
    // The refund fails at the bank; the operator's retry finds it failed by looking it up.
    const pending = fake.refundsOf(t.pi).find((refund) => refund.status === 'pending');
    fake.setRefundStatus(pending?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(1);
    // The late charge.refunded is delivered.
    await t.webhook.send(signedRequest(snapshot));
    const before = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(await t.bookingStatus(first)).toBe('cancelled');
    expect(await t.bookingStatus(second)).toBe('cancelled');
    expect(before.chargeRefunded).toBe(t.paid); // the late total was believed over the failure
    // Both bookings cancelled with a refund, 45.00 still owed: what the late total counts cannot be told apart from a refund
    // made in the Dashboard, so a person is sent there, never told that all of it is back.
    expect(retried).toMatchObject({
      code: 1,
      err: expect.stringMatching(/REFUND_UNCLEAR: .*more than is left to refund \(0\.00 EUR\).*Look at the charge in the Dashboard/),
    });
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
  });
});

describe('a record stored before the total’s own time was kept (a gesture counted), then our refund failing', () => {
  it('keeps the gesture counted and asks again only what is surely owed, as for a record written today', async () => {
    const t = await bookedTrip([1, 1]);
    const [first, second] = t.references as [string, string];
    // A 20.00 gesture in the Dashboard, reported by charge.refunded a minute ago.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: 2_000 });
    await t.webhook.send(signedRequest(createdAt(chargeRefunded(t.pi, t.paid, { refunded: 2_000, tripId: t.trip.tripId }), -60)));
    // The first booking is cancelled: its share less the gesture is asked (the rest before a person); Stripe takes it as pending.
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    // All of this was stored by yesterday's code: no chargeRefundedTakenAt, no providerCreated on the refund.
    const stored = await t.record();
    const { chargeRefundedTakenAt: _taken, ...yesterdays } = stored;
    const refunds = stored.refunds.map(({ providerCreated: _created, ...entry }) => entry);
    await testDocumentClient().send(new PutCommand({ TableName: testTableName(), Item: paymentRecordItem({ ...yesterdays, refunds }) }));
    expect(stored.chargeRefundedTakenAt).toBeDefined();
    const legacy = await t.record();
    expect(legacy.chargeRefundedTakenAt).toBeUndefined();
    expect(legacy.chargeRefundedAsOf).toBeDefined();
    // Today's code: the refund fails at the bank (the refund.updated carries its created time).
    const refund = fake.refundsOf(t.pi).find((candidate) => candidate.amount === PRICE - 2_000);
    const failed = fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');
    const after = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(await t.bookingStatus(second)).toBe('confirmed');
    // The total held was taken a minute before the refund existed: it never counted it, the gesture stays counted, and the
    // standing booking keeps its money.
    expect({ chargeRefunded: after.chargeRefunded, code: retried.code, refundedAtStripe: fake.totalRefunded(t.pi) }).toEqual({
      chargeRefunded: 2_000,
      code: 1,
      refundedAtStripe: PRICE,
    });
  });
});

describe('a record stored before the total’s own time was kept, whose watermark an earlier failure moved on', () => {
  it('keeps the gesture counted when a second refund of ours fails, and asks again only what is surely owed (a standing booking)', async () => {
    const store = testStore();
    const slots: Slot[] = [];
    for (let i = 0; i < 3; i++) slots.push(await seedSlot(store, { capacity: 5, priceAmount: PRICE }));
    const trip = await createPendingTrip(
      store,
      slots.map((slot) => [slot, 1] as [Slot, number]),
    );
    const pi = paymentIntentId();
    fake.registerPayment(pi, trip.amount);
    const webhook = webhookHarness(fake, { store });
    expect((await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: pi }))))).body.outcome).toBe(
      'booked',
    );
    const bookings = await store.listBookingsOfTrip(trip.tripId);
    const [first, second, third] = slots.map((slot) => bookings.find((booking) => booking.slotId === slot.slotId)?.reference as string) as [
      string,
      string,
      string,
    ];
    const gateway = new StripePaymentGateway(async () => fake.client());
    const record = async () => (await store.getPaymentRecord(pi)) as PaymentRecord;

    // A 20.00 gesture in the Dashboard, reported a minute ago.
    await fake.client().refunds.create({ payment_intent: pi, amount: 2_000 });
    await webhook.send(signedRequest(createdAt(chargeRefunded(pi, trip.amount, { refunded: 2_000, tripId: trip.tripId }), -60)));
    // Two bookings cancelled, both refunds pending at Stripe: the first less the gesture (the rest before a person), the
    // second in full.
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], gateway)).code).toBe(1);
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], gateway)).code).toBe(0);
    const [, a, b] = fake.refundsOf(pi);
    expect([a?.amount, b?.amount]).toEqual([PRICE - 2_000, PRICE]);
    // The first fails at the bank (the gesture stays counted, the watermark moves past the failure).
    const failedA = fake.setRefundStatus(a?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failedA))))).body.outcome).toBe('needs_attention');
    const afterFirst = await record();
    expect(afterFirst.chargeRefunded).toBe(2_000);
    // The record as it was stored before the total's own time was kept (the refunds' creation times already were).
    const { chargeRefundedTakenAt: _taken, ...yesterdays } = afterFirst;
    await testDocumentClient().send(new PutCommand({ TableName: testTableName(), Item: paymentRecordItem(yesterdays) }));
    expect((await record()).chargeRefundedTakenAt).toBeUndefined();
    // Today's code: the second refund fails at the bank too.
    const failedB = fake.setRefundStatus(b?.id as string, 'failed', 'expired_or_canceled_card');
    await webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failedB))));
    const afterSecond = await record();

    const retried = await ops(['payments', 'retry-refund', pi], gateway);

    expect((await store.getBookings([third]))[0]?.status).toBe('confirmed');
    // As for a record written today (two failures after a gesture, above).
    expect({ chargeRefunded: afterSecond.chargeRefunded, code: retried.code, refundedAtStripe: fake.totalRefunded(pi) }).toEqual({
      chargeRefunded: 2_000,
      code: 1,
      refundedAtStripe: trip.amount - PRICE,
    });
  });
});

describe('our refund failing, a hand refund made in the Dashboard after, its total delivered before the failure', () => {
  it('sends a person to the Dashboard (REFUND_UNCLEAR), never asks the failed share again with the other booking confirmed', async () => {
    const { store, webhook, pi, gateway, trip: created, references } = await bookedTrip([1, 1]);
    const [first, second] = references as [string, string];

    // X is cancelled: Stripe takes its refund as pending.
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], gateway)).code).toBe(0);
    const ours = fake.refundsOf(pi).find((candidate) => candidate.amount === PRICE);
    // It fails at the bank 10 s later; its refund.updated is delayed.
    const failed = fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
    const failure = createdAt(stripeEvent('refund.updated', refundObject(failed)), 10);
    // 20 s later support pays X back by hand in the Dashboard: Stripe's charge.refunded says 45.00 of 90.00 back.
    await fake.client().refunds.create({ payment_intent: pi, amount: PRICE });
    const handTotal = createdAt(chargeRefunded(pi, created.amount, { refunded: PRICE, tripId: created.tripId }), 20);
    // Delivered out of order: the later total first, then the failure.
    expect((await webhook.send(signedRequest(handTotal))).body.outcome).toBe('partial_refund_recorded');
    expect((await webhook.send(signedRequest(failure))).body.outcome).toBe('needs_attention');
    const before = (await store.getPaymentRecord(pi)) as PaymentRecord;

    const retried = await ops(['payments', 'retry-refund', pi], gateway);

    // Stripe's total as last said (45.00, the hand refund) stays counted, the retry asks nothing, Y's money stays.
    expect({
      chargeRefunded: before.chargeRefunded,
      retryCode: retried.code,
      atStripe: fake.totalRefunded(pi),
      second: (await store.getBookings([second]))[0]?.status,
    }).toEqual({ chargeRefunded: PRICE, retryCode: 1, atStripe: PRICE, second: 'confirmed' });
    expect(retried.err).toContain('REFUND_UNCLEAR');
  });
});

describe('our refund made at Stripe with its answer lost, failing, a hand refund made after, its total delivered, then the lookup', () => {
  it('sends a person to the Dashboard (REFUND_UNCLEAR), never asks the failed share again with the other booking confirmed', async () => {
    const { store, webhook, pi, gateway, trip: created, references } = await bookedTrip([1, 1]);
    const [first, second] = references as [string, string];

    // X is cancelled: Stripe makes the refund (pending), its answer is lost (a timeout): the share stays requested.
    const answerLost = gatewayLosingRefundAnswers(fake);
    fake.nextRefundStatus('pending');
    await cancelBooking(
      { store, gateway: answerLost, clock: systemClock, ids: randomIds },
      { reference: first, reason: 'guide ill', actorId: 'ana', refund: true },
    ).catch(() => undefined);
    expect((await store.getPaymentRecord(pi))?.refunds.map((entry) => entry.status)).toEqual(['requested']);
    // It fails at the bank; support pays X back by hand in the Dashboard 20 s later: 45.00 of 90.00 back, reported.
    const ours = fake.refundsOf(pi).find((candidate) => candidate.amount === PRICE);
    fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
    await fake.client().refunds.create({ payment_intent: pi, amount: PRICE });
    expect(
      (await webhook.send(signedRequest(createdAt(chargeRefunded(pi, created.amount, { refunded: PRICE, tripId: created.tripId }), 20)))).body.outcome,
    ).toBe('partial_refund_recorded');
    // The operator's retry looks the share up and finds it failed.
    await ops(['payments', 'retry-refund', pi], gateway);
    const before = (await store.getPaymentRecord(pi)) as PaymentRecord;

    const retried = await ops(['payments', 'retry-refund', pi], gateway);

    expect({
      status: before.status,
      chargeRefunded: before.chargeRefunded,
      retryCode: retried.code,
      atStripe: fake.totalRefunded(pi),
      second: (await store.getBookings([second]))[0]?.status,
    }).toEqual({ status: 'needs_attention', chargeRefunded: PRICE, retryCode: 1, atStripe: PRICE, second: 'confirmed' });
    expect(retried.err).toContain('REFUND_UNCLEAR');
  });
});

describe('the last booking cancelled while a refused share awaited a person, that share then paid back by hand in the Dashboard', () => {
  it('ends with its trip refunded once all of the money is back, not cancelled ("not all of the money back") for ever', async () => {
    const t = await bookedTrip([1, 1]);
    const [first, second] = t.references as [string, string];
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    // Support pays the refused share back in the Dashboard: all 90.00 is back, reported by charge.refunded.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    expect((await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId })))).body.outcome).toBe('refund_recorded');

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);
    const resolved = await ops(['payments', 'resolve', t.pi, '--note', 'paid back in the Dashboard']);

    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect((await t.record()).amountRefunded).toBe(t.paid);
    expect(retried).toMatchObject({ code: 1, err: expect.stringContaining('REFUND_UNCLEAR') });
    expect(resolved.code).toBe(0);
    expect(await t.tripStatus()).toBe('refunded');
    // As when our own refund brings the last money back: the trip names the latest refund of the payment's record.
    const secondRefund = (await t.record()).refunds.find((entry) => entry.refundKey === t.shareKey(second));
    expect((await t.store.getTrip(t.trip.tripId))?.refundId).toBe(secondRefund?.stripeRefundId);
    expect(secondRefund?.stripeRefundId).toMatch(/^re_/);
    expect((await t.store.listAudit('trip', t.trip.tripId)).map((entry) => entry.eventType)).toContain('trip.refunded');
  });
});

describe('an ordinary payment', () => {
  it('asks a refused share again in full on a discounted payment whose first share went pending, counted by charge.refunded before its answer was recorded, then succeeded', async () => {
    const t = await bookedTrip([1, 1, 1], 1_500);
    const [first, second, third] = t.references as [string, string, string];
    expect(t.shares).toEqual([4_000, 4_000, 4_000]);
    // Stripe takes the first share as pending and its charge.refunded is processed before the cancellation records the answer.
    const chargeFirst: PaymentGateway = {
      refundable: (id) => t.gateway.refundable(id),
      findRefund: (id, key) => t.gateway.findRefund(id, key),
      holdsPayment: (id) => t.gateway.holdsPayment(id),
      refundedSoFar: (id) => t.gateway.refundedSoFar(id),
      refund: async (request) => {
        const answer = await t.gateway.refund(request);
        const charge = await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { refunded: 4_000, tripId: t.trip.tripId })));
        expect(charge.body.outcome).toBe('partial_refund_recorded');
        return answer;
      },
    };
    fake.nextRefundStatus('pending');
    expect(await t.cancelWith(t.store, chargeFirst, first)).toMatchObject({ ok: true, refund: { status: 'pending' } });
    const [refund] = fake.refundsOf(t.pi);
    const succeeded = fake.setRefundStatus(refund?.id as string, 'succeeded');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(succeeded))))).body.outcome).toBe('refund_updated');
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(1);

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(retried.code).toBe(0);
    expect(fake.totalRefunded(t.pi)).toBe(8_000);
    expect(await t.bookingStatus(third)).toBe('confirmed');
    expect(await t.record()).toMatchObject({ status: 'booked', amountRefunded: 8_000 });
  });
});

describe('a share paid back by hand after it failed, then another booking cancelled before its charge.refunded', () => {
  it.each(['refund.failed', 'refund.updated'])('does not pay the first share again out of a booking still standing (the failure told by %s)', async (told) => {
    const t = await bookedTripAt(fake, [1, 1, 1]);
    const [first, second, third] = t.references as [string, string, string];
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const [ours] = fake.refundsOf(t.pi);
    const created = ours?.created as number;
    // The share fails at the bank; support pays it back by hand 20 s later, and Stripe's total of that (45.00) comes.
    const failed = fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
    fake.advance(20_000);
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 20 }));
    const failure = { ...stripeEvent(told, refundObject(failed)), created: told === 'refund.failed' ? created : created + 30 };
    expect((await t.webhook.send(signedRequest(failure))).body.outcome).toBe('needs_attention');

    // The second booking is cancelled (its refund made after that total), and the retry runs before its total comes.
    fake.advance(20_000);
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    // 45.00 by hand (the first share) and the second share: the third booking is still paid for.
    expect(retried.err).toContain('REFUND_UNCLEAR');
    expect(fake.totalRefunded(t.pi)).toBe(2 * PRICE);
    expect(await t.bookingStatus(third)).toBe('confirmed');
  });
});

describe('Stripe’s totals delivered after a later failure, newer than the total held', () => {
  it.each(['failed', 'canceled'] as const)(
    'are believed when what they count can be told: a share paid back by hand is not paid again (the second share %s)',
    async (how) => {
      await withFrozenStripe(async (stripe) => {
        const t = await bookedTripAt(stripe, [1, 1, 1]);
        const [, second, third] = t.references as [string, string, string];
        const created = await firstShareFailed(stripe, t);
        // At +20 support pays the first share back by hand; at +40 the second booking is cancelled. Both totals are delayed.
        stripe.advance(20_000);
        await stripe.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
        const byHand = signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 20 });
        stripe.advance(20_000);
        stripe.nextRefundStatus(how === 'failed' ? 'pending' : 'requires_action');
        expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
        const b = stripe.refundsOf(t.pi)[2];
        const withSecond = signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: 2 * PRICE, tripId: t.trip.tripId }), created: created + 40 });
        // At +60 the second share fails (told by refund.failed) or is canceled (told by the refund.updated of the change).
        stripe.advance(20_000);
        const endedB = refundObject(stripe.setRefundStatus(b?.id as string, how, how === 'failed' ? 'expired_or_canceled_card' : undefined));
        const told = how === 'failed' ? stripeEvent('refund.failed', endedB) : refundStatusChange(endedB, 'requires_action');
        expect((await t.webhook.send(signedRequest({ ...told, created: created + 60 }))).body.outcome).toBe('needs_attention');

        await t.webhook.send(byHand);
        await t.webhook.send(withSecond);
        const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

        // The first total is newer than any held and counts no failed refund: the 45.00 by hand. The second, less the second
        // share it may count (of its own second), says no more than that.
        expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, chargeRefundedTakenAt: created + 20 });
        // Asking both shares again would pay the first twice out of the third booking's money: a person decides.
        expect(retried.err).toContain('REFUND_UNCLEAR');
        expect(stripe.totalRefunded(t.pi)).toBe(PRICE);
        expect(await t.bookingStatus(third)).toBe('confirmed');
      });
    },
  );
});

describe('a failed refund created in the very second of a total delivered after its failure', () => {
  it('is taken off it, whether that total counted it or not, and the share paid back by hand is not paid again', async () => {
    await withFrozenStripe(async (stripe) => {
      const t = await bookedTripAt(stripe, [1, 1, 1, 1]);
      const [, second, third, fourth] = t.references as [string, string, string, string];
      // C: the first booking is cancelled; its refund A fails at once (refund.failed of C delivered).
      const created = await firstShareFailed(stripe, t);
      // C+20: support pays the first share back by hand; its total (45.00) comes at once and is held.
      stripe.advance(20_000);
      await stripe.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      const byHand = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 20 };
      expect((await t.webhook.send(signedRequest(byHand))).body.outcome).toBe('partial_refund_recorded');
      // C+40, one second: the third booking is cancelled (R, succeeds), then the second (B, pending).
      stripe.advance(20_000);
      expect((await ops(['bookings', 'cancel', third, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      stripe.nextRefundStatus('pending');
      expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const b = stripe.refundsOf(t.pi)[3];
      expect(b?.created).toBe(created + 40);
      // Stripe's totals of that second: R's (90.00: by hand + R, taken before B existed), then B's (135.00). Both delayed.
      const withR = { ...chargeRefunded(t.pi, t.paid, { refunded: 2 * PRICE, tripId: t.trip.tripId }), created: created + 40 };
      const withB = { ...chargeRefunded(t.pi, t.paid, { refunded: 3 * PRICE, tripId: t.trip.tripId }), created: created + 40 };
      // C+60: B fails, told at once by refund.failed.
      stripe.advance(20_000);
      const failedB = refundObject(stripe.setRefundStatus(b?.id as string, 'failed', 'expired_or_canceled_card'));
      expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', failedB), created: created + 60 }))).body.outcome).toBe('needs_attention');

      await t.webhook.send(signedRequest(withR));
      await t.webhook.send(signedRequest(withB));
      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

      // What is true at Stripe: 90.00 back (by hand for the first booking, R for the third). The first booking must not
      // be paid a second time out of the fourth booking's money.
      // Of the 135.00 of C+40, less the share that failed, what is beyond our own refunds (the third's) is the 45.00 by hand
      // the total held already says: it stays.
      expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, chargeRefundedTakenAt: created + 20 });
      expect({ retry: retried.code, err: retried.err, atStripe: stripe.totalRefunded(t.pi), fourth: await t.bookingStatus(fourth) }).toMatchObject({
        retry: 1,
        err: expect.stringContaining('REFUND_UNCLEAR'),
        atStripe: 2 * PRICE,
        fourth: 'confirmed',
      });
    });
  });
});

describe('two totals of one second delivered after a later failure, the higher one second', () => {
  it('keeps the higher one: money paid back by hand in that second is not lost, and not paid again', async () => {
    await withFrozenStripe(async (stripe) => {
      const t = await bookedTripAt(stripe, [1, 1, 1, 1]);
      const [first, second, , fourth] = t.references as [string, string, string, string];
      // C: the first booking is cancelled; Stripe takes A as pending.
      stripe.nextRefundStatus('pending');
      expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const [a] = stripe.refundsOf(t.pi);
      const created = a?.created as number;
      // C+20, one second: the second booking is cancelled (B succeeds), then support pays 45.00 back by hand (D).
      stripe.advance(20_000);
      expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      await stripe.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      const withB = { ...chargeRefunded(t.pi, t.paid, { refunded: 2 * PRICE, tripId: t.trip.tripId }), created: created + 20 };
      const withD = { ...chargeRefunded(t.pi, t.paid, { refunded: 3 * PRICE, tripId: t.trip.tripId }), created: created + 20 };
      // C+60: A fails, told at once by refund.failed; both totals of C+20 come after it, in the order they were made.
      stripe.advance(40_000);
      const failedA = refundObject(stripe.setRefundStatus(a?.id as string, 'failed', 'expired_or_canceled_card'));
      expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', failedA), created: created + 60 }))).body.outcome).toBe('needs_attention');
      await t.webhook.send(signedRequest(withB));
      await t.webhook.send(signedRequest(withD));
      const held = await t.record();
      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

      // At Stripe: B and D (90.00). Of the higher total (135.00) less A, 90.00 is back.
      expect({
        held: [held.chargeRefunded, (held.chargeRefundedTakenAt as number) - created],
        retry: retried.code,
        err: retried.err,
        atStripe: stripe.totalRefunded(t.pi),
        fourth: await t.bookingStatus(fourth),
      }).toMatchObject({ held: [2 * PRICE, 20], retry: 1, err: expect.stringContaining('REFUND_UNCLEAR'), atStripe: 2 * PRICE, fourth: 'confirmed' });
    });
  });
});

describe('a total and a later failure processed at once', () => {
  it.each(['failure held', 'total held'] as const)('ends as in either order (%s at its commit while the other commits)', async (which) => {
    await withFrozenStripe(async (stripe) => {
      const t = await bookedTripAt(stripe, [1, 1, 1]);
      const [, second, third] = t.references as [string, string, string];
      const created = await firstShareFailed(stripe, t);
      stripe.advance(20_000);
      await stripe.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 20 }));
      stripe.advance(20_000);
      stripe.nextRefundStatus('pending');
      expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const b = stripe.refundsOf(t.pi)[2];
      const withSecond = signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: 2 * PRICE, tripId: t.trip.tripId }), created: created + 40 });
      stripe.advance(20_000);
      const endedB = refundObject(stripe.setRefundStatus(b?.id as string, 'failed', 'expired_or_canceled_card'));
      const failure = signedRequest({ ...stripeEvent('refund.failed', endedB), created: created + 60 });

      const held = holdFirstCommit(t.store);
      const heldHook = webhookHarness(stripe, { store: held.store });
      const [first_, second_] = which === 'failure held' ? [failure, withSecond] : [withSecond, failure];
      const pending = heldHook.send(first_);
      await held.reached;
      await t.webhook.send(second_);
      held.release();
      await pending;
      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

      expect(await t.record()).toMatchObject({ chargeRefunded: PRICE });
      expect(retried.err).toContain('REFUND_UNCLEAR');
      expect(stripe.totalRefunded(t.pi)).toBe(PRICE);
      expect(await t.bookingStatus(third)).toBe('confirmed');
    });
  });
});

describe('a share paid back by hand, then another of ours created in that same second and failing later', () => {
  it.each(['both totals after the failure', 'D total before the failure, B total after'] as const)('%s: the first share is not paid twice', async (order) => {
    await withFrozenStripe(async (stripe) => {
      const t = await bookedTripAt(stripe, [1, 1, 1, 1]);
      const [, second, third, fourth] = t.references as [string, string, string, string];
      // C: first booking cancelled, A pending; A fails at C+10 (refund.failed delivered).
      const created = await firstShareFailed(stripe, t, 10);
      // C+20, one second: support pays the first share back by hand (D), then the second booking is cancelled (B pending).
      stripe.advance(10_000);
      await stripe.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      stripe.nextRefundStatus('pending');
      expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const b = stripe.refundsOf(t.pi)[2];
      expect(b?.created).toBe(created + 20);
      const withD = signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 20 });
      const withB = signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: 2 * PRICE, tripId: t.trip.tripId }), created: created + 20 });
      if (order !== 'both totals after the failure') await t.webhook.send(withD);
      // C+40: B fails, told at once.
      stripe.advance(20_000);
      const failedB = refundObject(stripe.setRefundStatus(b?.id as string, 'failed', 'expired_or_canceled_card'));
      expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', failedB), created: created + 40 }))).body.outcome).toBe('needs_attention');
      await t.webhook.send(withB);
      if (order === 'both totals after the failure') await t.webhook.send(withD);
      expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, chargeRefundedTakenAt: created + 20 });
      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);
      // True at Stripe: D only (45.00). Retrying A and B would pay the first booking twice out of the third and fourth's money.
      expect({
        err: retried.err,
        atStripe: stripe.totalRefunded(t.pi),
        third: await t.bookingStatus(third),
        fourth: await t.bookingStatus(fourth),
      }).toMatchObject({
        err: expect.stringContaining('REFUND_UNCLEAR'),
        atStripe: PRICE,
        third: 'confirmed',
        fourth: 'confirmed',
      });
    });
  });
});

describe('two shares of ours and a failing one made in one second, only the total from before the failing one delivered', () => {
  it('keeps the total held: the first share, paid back by hand, is not paid twice out of the fifth booking', async () => {
    await withFrozenStripe(async (stripe) => {
      const t = await bookedTripAt(stripe, [1, 1, 1, 1, 1]);
      const [, second, third, fourth, fifth] = t.references as [string, string, string, string, string];
      // C: first booking cancelled, A fails at once (refund.failed delivered).
      const created = await firstShareFailed(stripe, t);
      // C+20: the first share paid back by hand; its total (45.00) delivered at once and held.
      stripe.advance(20_000);
      await stripe.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      const byHand = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 20 };
      expect((await t.webhook.send(signedRequest(byHand))).body.outcome).toBe('partial_refund_recorded');
      // C+40, one second: third and fourth cancelled (R3, R4 succeed), then the second (B pending).
      stripe.advance(20_000);
      expect((await ops(['bookings', 'cancel', third, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      expect((await ops(['bookings', 'cancel', fourth, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      stripe.nextRefundStatus('pending');
      expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const b = stripe.refundsOf(t.pi)[4];
      expect(b?.created).toBe(created + 40);
      // Stripe's total of R4's refund (by hand + R3 + R4 = 135.00), taken before B existed; B's own total is still on its way.
      const withR4 = { ...chargeRefunded(t.pi, t.paid, { refunded: 3 * PRICE, tripId: t.trip.tripId }), created: created + 40 };
      // C+60: B fails, told at once.
      stripe.advance(20_000);
      const failedB = refundObject(stripe.setRefundStatus(b?.id as string, 'failed', 'expired_or_canceled_card'));
      expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', failedB), created: created + 60 }))).body.outcome).toBe('needs_attention');
      await t.webhook.send(signedRequest(withR4));
      const held = await t.record();
      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

      // True at Stripe before the retry: by hand 45 + R3 + R4 = 135.00 of 225.00; the fifth booking stands.
      expect(held).toMatchObject({ chargeRefunded: PRICE, chargeRefundedTakenAt: created + 20 });
      expect({ err: retried.err, atStripe: stripe.totalRefunded(t.pi), fifth: await t.bookingStatus(fifth) }).toMatchObject({
        err: expect.stringContaining('REFUND_UNCLEAR'),
        atStripe: 3 * PRICE,
        fifth: 'confirmed',
      });
    });
  });
});

describe('a total held in doubt (it may count a failure learned without its time), a late total, then the failure dated', () => {
  it('takes the late total for what it surely holds: the second booking is not paid twice out of the bookings still standing', async () => {
    await withFrozenStripe(async (stripe) => {
      const t = await bookedTripAt(stripe, [1, 1, 1, 1, 1, 1, 1]);
      const [a, b, c, d, e, f, g] = t.references as [string, string, string, string, string, string, string];
      // C: B cancelled, its refund F pending (its total of C never delivered).
      stripe.nextRefundStatus('pending');
      expect((await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const [refF] = stripe.refundsOf(t.pi);
      const created = refF?.created as number;
      // C+20: A cancelled (R0 succeeds); its total (F + R0 = 90.00) delivered and held.
      stripe.advance(20_000);
      expect((await ops(['bookings', 'cancel', a, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const withR0 = { ...chargeRefunded(t.pi, t.paid, { refunded: 2 * PRICE, tripId: t.trip.tripId }), created: created + 20 };
      await t.webhook.send(signedRequest(withR0));
      // C+30: D cancelled (R2 succeeds), then C (G pending).
      stripe.advance(10_000);
      expect((await ops(['bookings', 'cancel', d, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      stripe.nextRefundStatus('pending');
      expect((await ops(['bookings', 'cancel', c, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
      const refG = stripe.refundsOf(t.pi)[3];
      expect(refG?.created).toBe(created + 30);
      // C+40: B's share paid back by hand; its total (F + R0 + R2 + G + by hand = 225.00) on its way.
      stripe.advance(10_000);
      await stripe.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      const byHand = { ...chargeRefunded(t.pi, t.paid, { refunded: 5 * PRICE, tripId: t.trip.tripId }), created: created + 40 };
      // C+55: F fails at the bank (its refund.failed held back). C+60: G fails, told at once.
      stripe.advance(15_000);
      const failedF = refundObject(stripe.setRefundStatus(refF?.id as string, 'failed', 'expired_or_canceled_card'));
      stripe.advance(5_000);
      const failedG = refundObject(stripe.setRefundStatus(refG?.id as string, 'failed', 'expired_or_canceled_card'));
      expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', failedG), created: created + 60 }))).body.outcome).toBe('needs_attention');
      // C+70: a later refund.updated of F (not of its change) tells F failed, without when.
      await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', failedF), created: created + 70 }));
      expect(chargeTotalInDoubt(await t.record())).toBe(true);
      // The total of C+40 arrives late, then F's refund.failed of C+55.
      await t.webhook.send(signedRequest(byHand));
      // 225.00 less the two failed shares it may count: 135.00, of which 45.00 beyond our own refunds (the one by hand).
      expect(await t.record()).toMatchObject({ chargeRefunded: 3 * PRICE, chargeRefundedTakenAt: created + 40 });
      await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', failedF), created: created + 55 }));
      // Dated, F comes off no total twice: the total it was taken off is marked.
      expect(await t.record()).toMatchObject({ chargeRefunded: 3 * PRICE });
      const atStripeBefore = stripe.totalRefunded(t.pi);
      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

      // True at Stripe before the retry: R0 + R2 + 45.00 by hand (B's share) = 135.00 of 315.00; E, F, G stand (135.00), C is owed
      // 45.00. Asking again for both failed shares (90.00) pays B twice, out of the standing bookings' money.
      expect(atStripeBefore).toBe(3 * PRICE);
      expect({ atStripe: stripe.totalRefunded(t.pi), e: await t.bookingStatus(e), f: await t.bookingStatus(f), g: await t.bookingStatus(g) }).toMatchObject({
        e: 'confirmed',
        f: 'confirmed',
        g: 'confirmed',
      });
      expect(retried.err).toContain('REFUND_UNCLEAR');
      expect(stripe.totalRefunded(t.pi)).toBe(3 * PRICE);
    });
  });
});
