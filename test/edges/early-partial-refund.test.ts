// A refund made in the Dashboard before the payment's confirmation arrived (its delivery failed, Stripe retries it later): the trip keeps that it was seen, and the payment's first record starts with what Stripe counts back when it is written, so what is asked back later is what Stripe still holds.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { chargeRefunded, checkoutSession, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { deps, overwriteSlot, readSlot, testDocumentClient, testStore, testTableName, uniqueId } from '../support/store';
import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { PAYMENT_RECORD_ATTEMPTS } from '../../lambdas/shared/domain/state-moved';
import { committingFirst } from '../support/held-store';
import { webhookHarness } from '../support/webhook';
import { servedStripeFake } from '../support/webhook-server';
import { minutesLater, testReconciler } from '../support/reconciler';
import { ReconciliationStoppedError } from '../../lambdas/stripe-reconciler/reconciler';
import { ops } from '../support/ops';

let fake: StripeFake;
let stop: () => Promise<void>;
const store = testStore();
beforeEach(async () => {
  ({ fake, stop } = await servedStripeFake(store));
});
afterEach(() => stop());

const DASHBOARD_REFUND = 3_000;

/** A checked-out trip paid (its slot blocked first when asked), the delivery of its completion failed: Stripe retries it later. */
async function paidCompletionLate(options: { blocked?: boolean } = {}) {
  const trip = await checkedOutTrip(store, fake);
  if (options.blocked) await overwriteSlot({ ...((await readSlot(store, trip.slot.slotId)) as Slot), isBlocked: true });
  fake.dropNextDeliveries(1);
  const completion = await trip.pay();
  return { ...trip, completion, paymentId: trip.paymentIntent() };
}

/**
 * A checked-out trip paid and refunded in part in the Dashboard, none of it delivered yet: its completion and the refund's
 * charge.refunded, for a test to deliver in the order it means.
 */
async function paidThenRefundedInPart() {
  const trip = await checkedOutTrip(store, fake);
  fake.dropNextDeliveries(3);
  const completion = await trip.pay();
  const paymentId = trip.paymentIntent();
  await fake.client().refunds.create({ payment_intent: paymentId, amount: DASHBOARD_REFUND });
  const total = fake.events.find((event) => event.type === 'charge.refunded') as FakeEvent;
  return { ...trip, completion, paymentId, total };
}

/**
 * A checked-out trip paid, the delivery of its completion failed (Stripe retries it later); meanwhile a person refunds
 * part of it in the Dashboard, and that refund's events (refund.created, charge.refunded) are delivered.
 */
async function refundedInPartBeforeItsConfirmation(options: { blocked?: boolean } = {}) {
  const { completion, paymentId, ...trip } = await paidCompletionLate(options);
  await fake.client().refunds.create({ payment_intent: paymentId, amount: DASHBOARD_REFUND });
  expect(fake.deliveries.map((delivery) => [delivery.type, delivery.status])).toEqual([
    ['refund.created', 200],
    ['charge.refunded', 200],
  ]);
  return { ...trip, paymentId, completion, record: () => store.getPaymentRecord(paymentId) };
}

function cancelDeps() {
  return { store, gateway: new StripePaymentGateway(async () => fake.client()), clock: systemClock, ids: randomIds };
}

/**
 * The same trip paid a second time (another session), nothing of it delivered yet: its payment, and the completion Stripe
 * would send for it (a session without items, as a retried checkout's).
 */
async function paidAgain(trip: { amount: number; trip(): Promise<Trip | undefined> }) {
  const paymentId = paymentIntentId();
  fake.registerPayment(paymentId, trip.amount, 'eur');
  const completion = stripeEvent(
    'checkout.session.completed',
    checkoutSession((await trip.trip()) as Trip, { withItems: false, paymentIntent: paymentId, sessionId: 'cs_test_second_attempt', table: store.tableName }),
  );
  return { paymentId, completion };
}

/** The charge.refunded of `paymentId` with `refunded` of it back, delivered before the payment has a record. */
async function deliverPartialRefund(trip: { tripId: string; amount: number }, paymentId: string, refunded: number) {
  const partial = chargeRefunded(paymentId, trip.amount, { refunded, tripId: trip.tripId, table: store.tableName });
  expect((await webhookHarness(fake, { store }).send(signedRequest(partial))).body).toMatchObject({ outcome: 'partial_refund_recorded' });
}

describe('a payment refunded in part in the Dashboard before its confirmation arrived', () => {
  it('is booked with a record that knows the refund, and its cancellation refunds what Stripe still holds, once', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    expect((await trip.trip())?.chargeRefundedEarly).toMatchObject([{ paymentId: trip.paymentId, amount: DASHBOARD_REFUND }]);

    const booked = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });
    const again = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(booked).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    // Kept for the record its confirmation wrote, and gone with it.
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect(cancelled).toMatchObject({ ok: true });
    expect(again).toMatchObject({ ok: true, released: [] });
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect((await trip.record())?.status).not.toBe('needs_attention');
    expect((await trip.record())?.attention).toBeUndefined();
  });

  it('refunds what is left of a trip it cannot book, and nothing more when the completion comes again a day later', async () => {
    const trip = await refundedInPartBeforeItsConfirmation({ blocked: true });

    const answered = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    fake.advance(25 * 3_600_000);
    const dayLater = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(answered).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'SLOT_BLOCKED' } });
    expect(dayLater).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect(await trip.record()).toMatchObject({ status: 'refunded', amountRefunded: trip.amount, refunds: [{ amount: trip.amount - DASHBOARD_REFUND }] });
    expect((await store.listAudit('payment', trip.paymentId)).find((entry) => entry.eventType === 'payment.refund_requested')?.metadata).toMatchObject({
      amount: trip.amount - DASHBOARD_REFUND,
    });
    expect(await trip.available()).toBe(4);
  });

  it('sets aside a payment for a trip that expired meanwhile, and refunds what is left of it', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    const stored = (await trip.trip()) as Trip;
    const expired = stripeEvent('checkout.session.expired', { ...checkoutSession(stored), status: 'expired', payment_status: 'unpaid' });
    expect((await webhookHarness(fake, { store }).send(signedRequest(expired))).body).toMatchObject({ outcome: 'expired' });

    const answered = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(answered).toMatchObject({ status: 200, body: { outcome: 'refunded', setAside: true } });
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    // Its own partial refund has served: the trip keeps none.
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect(await trip.record()).toMatchObject({ setAside: true, status: 'refunded', refunds: [{ amount: trip.amount - DASHBOARD_REFUND }] });
  });

  it('keeps the newest total on the trip: a second refund adds to it, and the first total redelivered late changes nothing', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    const firstTotal = fake.events.find((event) => event.type === 'charge.refunded') as FakeEvent;
    fake.advance(2_000);
    await fake.client().refunds.create({ payment_intent: trip.paymentId, amount: 1_000 });

    const late = await webhookHarness(fake, { store }).send(signedRequest(firstTotal));
    const booked = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(late.body).toMatchObject({ outcome: 'duplicate' });
    expect(booked.body).toMatchObject({ outcome: 'booked' });
    expect(await trip.record()).toMatchObject({ status: 'booked', chargeRefunded: DASHBOARD_REFUND + 1_000, amountRefunded: DASHBOARD_REFUND + 1_000 });
  });

  it('records the total on the record when the confirmation commits between the partial refund’s read and its write', async () => {
    const trip = await paidThenRefundedInPart();
    const { completion, paymentId, total } = trip;
    let confirmedFirst = false;
    const racing = committingFirst(store, async (write) => {
      if (write.paymentRecordAbsent === undefined || confirmedFirst) return;
      confirmedFirst = true;
      expect((await webhookHarness(fake, { store }).send(signedRequest(completion))).body).toMatchObject({ outcome: 'booked' });
    });

    const answered = await webhookHarness(fake, { store: racing }).send(signedRequest(total));
    const again = await webhookHarness(fake, { store }).send(signedRequest(total));

    expect(confirmedFirst).toBe(true);
    expect(answered.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect(again.body).toMatchObject({ outcome: 'duplicate' });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'booked', chargeRefunded: DASHBOARD_REFUND, amountRefunded: DASHBOARD_REFUND });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect((await store.listAudit('payment', paymentId)).filter((entry) => entry.eventType === 'payment.partially_refunded')).toHaveLength(1);
  });

  it('is audited once when no record comes in between, and the confirmation’s record starts with what Stripe counts back', async () => {
    const trip = await paidThenRefundedInPart();

    const first = await webhookHarness(fake, { store }).send(signedRequest(trip.total));
    const twice = await Promise.all([0, 1].map(() => webhookHarness(fake, { store }).send(signedRequest(trip.total))));
    const booked = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(first.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect(twice.map((answer) => answer.body.outcome)).toEqual(['duplicate', 'duplicate']);
    expect(booked.body).toMatchObject({ outcome: 'booked' });
    expect((await store.listAudit('payment', trip.paymentId)).map((entry) => entry.eventType)).toEqual(['payment.partially_refunded']);
    expect(await store.getPaymentRecord(trip.paymentId)).toMatchObject({
      status: 'booked',
      chargeRefunded: DASHBOARD_REFUND,
      amountRefunded: DASHBOARD_REFUND,
    });
  });

  it('starts the record with a total kept between the confirmation’s read of the trip and its write', async () => {
    const trip = await paidThenRefundedInPart();
    const { paymentId, total } = trip;
    // A session that carries no items (opened before they were carried): the confirmation reads the trip first.
    const completion = stripeEvent('checkout.session.completed', {
      ...checkoutSession((await trip.trip()) as Trip, { withItems: false, paymentIntent: paymentId, table: store.tableName }),
    });
    let keptFirst = false;
    const racing = committingFirst(store, async (write) => {
      if (write.tripTransition?.to !== 'booked' || keptFirst) return;
      keptFirst = true;
      expect((await webhookHarness(fake, { store }).send(signedRequest(total))).body).toMatchObject({ outcome: 'partial_refund_recorded' });
    });

    const answered = await webhookHarness(fake, { store: racing }).send(signedRequest(completion));
    const [booking] = await trip.bookings();
    await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(keptFirst).toBe(true);
    expect(answered.body).toMatchObject({ outcome: 'booked' });
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    expect((await store.getPaymentRecord(paymentId))?.attention).toBeUndefined();
  });

  it('is recorded as before when the charge names no trip we hold: audited only, nothing kept', async () => {
    const trip = await paidThenRefundedInPart();
    const { paymentId } = trip;
    const total = trip.total as FakeEvent & { data: { object: { metadata: Record<string, string> } } };
    const elsewhere = { ...structuredClone(total), id: `${total.id}_elsewhere` };
    elsewhere.data.object.metadata[TRIP_MARK] = 'trip-not-ours';

    const answered = await webhookHarness(fake, { store }).send(signedRequest(elsewhere));

    expect(answered.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect((await store.listAudit('payment', paymentId)).map((entry) => entry.eventType)).toEqual(['payment.partially_refunded']);
  });

  it('asks Stripe, not the total it kept: a Dashboard refund that failed before the completion leaves everything to refund (booked, then cancelled)', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    const [dashboard] = fake.refundsOf(trip.paymentId);
    const failed = fake.setRefundStatus(dashboard?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await webhookHarness(fake, { store }).send(signedRequest(stripeEvent('refund.failed', refundObject(failed))))).body).toMatchObject({
      outcome: 'no_change',
    });

    const booked = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(booked.body).toMatchObject({ outcome: 'booked' });
    expect(cancelled).toMatchObject({ ok: true });
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect(await trip.record()).toMatchObject({ amountRefunded: trip.amount });
    expect((await trip.record())?.attention).toBeUndefined();
  });

  it('asks Stripe, not the total it kept: a trip it cannot book after a Dashboard refund that failed gets all of it back', async () => {
    const trip = await refundedInPartBeforeItsConfirmation({ blocked: true });
    const [dashboard] = fake.refundsOf(trip.paymentId);
    const failed = fake.setRefundStatus(dashboard?.id as string, 'failed', 'expired_or_canceled_card');
    await webhookHarness(fake, { store }).send(signedRequest(stripeEvent('refund.failed', refundObject(failed))));

    const answered = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(answered.body).toMatchObject({ outcome: 'refunded', reason: 'SLOT_BLOCKED' });
    expect(
      fake
        .refundsOf(trip.paymentId)
        .filter((refund) => refund.status === 'succeeded')
        .map((refund) => refund.amount),
    ).toEqual([trip.amount]);
    expect(await trip.record()).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
  });

  it('answers 500 while Stripe cannot say what is back, books nothing, and books with Stripe’s word when the event comes again', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    fake.failNextRefundLists(1, 500);

    const whileDown = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    const tripWhileDown = await trip.trip();
    const again = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(whileDown.status).toBe(500);
    expect(tripWhileDown?.status).toBe('pending_payment');
    expect(again).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect(await store.getPaymentRecord(trip.paymentId)).toMatchObject({ status: 'booked', chargeRefunded: DASHBOARD_REFUND });
  });

  it('asks Stripe for a second payment of the trip, refunded in part before its completion, what is back of it: set aside, the rest refunded', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    expect((await webhookHarness(fake, { store }).send(signedRequest(trip.completion))).body).toMatchObject({ outcome: 'booked' });
    // The same trip paid a second time, and part of that refunded in the Dashboard before its completion.
    const { paymentId: second, completion } = await paidAgain(trip);
    fake.dropNextDeliveries(2);
    await fake.client().refunds.create({ payment_intent: second, amount: DASHBOARD_REFUND });
    await deliverPartialRefund(trip, second, DASHBOARD_REFUND);

    const answered = await webhookHarness(fake, { store }).send(signedRequest(completion));

    expect(answered.body).toMatchObject({ outcome: 'refunded', setAside: true });
    expect(fake.totalRefunded(second)).toBe(trip.amount);
    expect(await store.getPaymentRecord(second)).toMatchObject({ status: 'refunded', refunds: [{ amount: trip.amount - DASHBOARD_REFUND }] });
    expect(fake.totalRefunded(trip.paymentId)).toBe(DASHBOARD_REFUND);
  });

  it('leaves the partial refund another payment of the trip kept when this one is booked: that payment, set aside later, gets the rest', async () => {
    const trip = await checkedOutTrip(store, fake);
    fake.dropNextDeliveries(1);
    const completion = await trip.pay();
    // The trip paid a second time, part of that refunded in the Dashboard, before either completion arrived.
    const { paymentId: second, completion: secondCompletion } = await paidAgain(trip);
    fake.dropNextDeliveries(2);
    await fake.client().refunds.create({ payment_intent: second, amount: DASHBOARD_REFUND });
    await deliverPartialRefund(trip, second, DASHBOARD_REFUND);

    const booked = await webhookHarness(fake, { store }).send(signedRequest(completion));
    const keptAfter = (await trip.trip())?.chargeRefundedEarly;
    const setAside = await webhookHarness(fake, { store }).send(signedRequest(secondCompletion));

    expect(booked.body).toMatchObject({ outcome: 'booked' });
    expect(keptAfter).toMatchObject([{ paymentId: second }]);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'booked', amountRefunded: 0 });
    expect(setAside.body).toMatchObject({ outcome: 'refunded', setAside: true });
    expect(fake.totalRefunded(second)).toBe(trip.amount);
    expect(await store.getPaymentRecord(second)).toMatchObject({ status: 'refunded', refunds: [{ amount: trip.amount - DASHBOARD_REFUND }] });
  });

  it('leaves to the sweep a Dashboard refund that fails between Stripe’s answer and the record’s write: the payment goes before a person, and nothing is lost', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    const [dashboard] = fake.refundsOf(trip.paymentId);
    let failedBetween = false;
    const racing = committingFirst(store, async (write) => {
      if (failedBetween || write.tripTransition?.to !== 'booked' || write.tripTransition.chargeRefundedEarlyAsRead === undefined) return;
      failedBetween = true;
      // Its refund.failed finds no record and names no trip: answered, and left for the sweep (nothing recorded as processed).
      const failed = stripeEvent('refund.failed', refundObject(fake.setRefundStatus(dashboard?.id as string, 'failed', 'expired_or_canceled_card')));
      fake.events.push(failed as never);
      expect((await webhookHarness(fake, { store }).send(signedRequest(failed))).body).toMatchObject({ outcome: 'no_change' });
    });
    expect((await webhookHarness(fake, { store: racing }).send(signedRequest(trip.completion))).body).toMatchObject({ outcome: 'booked' });
    expect(await trip.record()).toMatchObject({ amountRefunded: DASHBOARD_REFUND });

    await testReconciler(fake, store, { clock: minutesLater(10) }).run(undefined as never, undefined as never);
    const [booking] = await trip.bookings();
    await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(failedBetween).toBe(true);
    expect(await trip.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' } });
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
  });

  it('keeps each payment’s partial refund until its own record: a payment set aside after another payment of the trip was booked gets the rest', async () => {
    const trip = await checkedOutTrip(store, fake);
    fake.dropNextDeliveries(1);
    const completion = await trip.pay();
    const first = trip.paymentIntent();
    const { paymentId: second, completion: secondCompletion } = await paidAgain(trip);
    fake.dropNextDeliveries(4);
    await fake.client().refunds.create({ payment_intent: second, amount: DASHBOARD_REFUND });
    fake.advance(2_000);
    await fake.client().refunds.create({ payment_intent: first, amount: 1_000 });
    // Both payments refunded in part before either completion: the second's seen first, then the first's.
    await deliverPartialRefund(trip, second, DASHBOARD_REFUND);
    await deliverPartialRefund(trip, first, 1_000);
    const keptBoth = (await trip.trip())?.chargeRefundedEarly;

    const booked = await webhookHarness(fake, { store }).send(signedRequest(completion));
    const keptAfter = (await trip.trip())?.chargeRefundedEarly;
    const setAside = await webhookHarness(fake, { store }).send(signedRequest(secondCompletion));

    expect(keptBoth?.map((entry) => [entry.paymentId, entry.amount])).toEqual([
      [second, DASHBOARD_REFUND],
      [first, 1_000],
    ]);
    expect(booked.body).toMatchObject({ outcome: 'booked' });
    expect(await store.getPaymentRecord(first)).toMatchObject({ status: 'booked', amountRefunded: 1_000 });
    expect(keptAfter?.map((entry) => entry.paymentId)).toEqual([second]);
    expect(setAside.body).toMatchObject({ outcome: 'refunded', setAside: true });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect(fake.totalRefunded(second)).toBe(trip.amount);
    expect(await store.getPaymentRecord(second)).toMatchObject({ status: 'refunded', refunds: [{ amount: trip.amount - DASHBOARD_REFUND }] });
  });
});

/** create-booking confirming the trip with its payment, as a platform's server does on the traveller's return. */
async function bookedByCreateBooking(trip: { tripId: string; paymentId: string; trip(): Promise<Trip | undefined> }) {
  const stored = (await trip.trip()) as Trip;
  const invoke = createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) });
  const direct = await invoke({ paymentId: trip.paymentId, tripId: trip.tripId, userId: stored.userId, tripItems: stored.items.map((item) => ({ ...item })) });
  expect(direct.success).toBe(true);
}

describe('create-booking books a payment refunded in part before any record of it, without asking Stripe', () => {
  it('its completion lost, the sweep stops at it while Stripe cannot say what is back, and the next run tells the record', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    const cursor = uniqueId('cursor');
    fake.failNextRefundLists(1, 500);

    const first = await testReconciler(fake, store, { cursor, clock: minutesLater(20) })
      .run()
      .catch((error: unknown) => error);
    const whileDown = await trip.record();
    await testReconciler(fake, store, { cursor, clock: minutesLater(35) }).run();
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(first).toBeInstanceOf(ReconciliationStoppedError);
    expect(whileDown).not.toHaveProperty('chargeRefunded');
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect(cancelled).toMatchObject({ ok: true, refund: { status: 'succeeded', amount: trip.amount - DASHBOARD_REFUND } });
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
  });

  it('its completion tells the record what Stripe counts back, so the cancellation refunds what Stripe still holds; a day later nothing is asked again', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    expect(await trip.record()).not.toHaveProperty('chargeRefunded');

    const completed = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });
    fake.advance(25 * 3_600_000);
    fake.failNextRefundLists(1, 500);
    const dayLater = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(completed).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: [booking?.reference] } });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect(cancelled).toMatchObject({ ok: true });
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect((await trip.record())?.attention).toBeUndefined();
    // Stripe is not asked again: its list failing changes nothing.
    expect(dayLater).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect((await store.listAudit('payment', trip.paymentId)).filter((entry) => entry.eventType === 'payment.charge_total_recorded')).toHaveLength(1);
  });

  it('records Stripe’s total once when two deliveries of the completion come at once', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);

    const answers = await Promise.all([1, 2].map(() => webhookHarness(fake, { store }).send(signedRequest(trip.completion))));

    expect(answers.map((answer) => [answer.status, answer.body.outcome])).toEqual([
      [200, 'duplicate'],
      [200, 'duplicate'],
    ]);
    expect(await trip.record()).toMatchObject({ status: 'booked', chargeRefunded: DASHBOARD_REFUND, amountRefunded: DASHBOARD_REFUND });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect((await store.listAudit('payment', trip.paymentId)).filter((entry) => entry.eventType === 'payment.charge_total_recorded')).toHaveLength(1);
  });

  it('keeps the newer total when a second Dashboard refund’s event commits between the completion’s read and its write', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    fake.advance(2_000);
    fake.dropNextDeliveries(2);
    await fake.client().refunds.create({ payment_intent: trip.paymentId, amount: 1_000 });
    const secondTotal = fake.events.findLast((event) => event.type === 'charge.refunded') as FakeEvent;
    let between: Awaited<ReturnType<ReturnType<typeof webhookHarness>['send']>> | undefined;
    const interleaved = committingFirst(store, async (write) => {
      if (between !== undefined || write.tripChargeRefundedEarlyAsRead === undefined) return;
      between = await webhookHarness(fake, { store }).send(signedRequest(secondTotal));
    });

    const completed = await webhookHarness(fake, { store: interleaved }).send(signedRequest(trip.completion));

    expect(between?.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect(completed.body).toMatchObject({ outcome: 'duplicate' });
    expect(await trip.record()).toMatchObject({ chargeRefunded: DASHBOARD_REFUND + 1_000, amountRefunded: DASHBOARD_REFUND + 1_000 });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    const [booking] = await trip.bookings();
    await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
  });

  it('answers 500 while Stripe cannot say what is back, and tells the record when the event comes again', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    fake.failNextRefundLists(1, 500);

    const whileDown = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    const recordWhileDown = await trip.record();
    const again = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(whileDown.status).toBe(500);
    expect(recordWhileDown).not.toHaveProperty('chargeRefunded');
    expect(again).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    expect(await trip.record()).toMatchObject({ status: 'booked', chargeRefunded: DASHBOARD_REFUND });
  });

  it('tells the record all the same when create-booking commits while the completion’s own confirmation runs', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    let booked = false;
    // The completion read the trip waiting, with the kept refund, and asked Stripe; create-booking commits just before its write.
    const interleaved = committingFirst(store, async (write) => {
      if (booked || write.tripTransition?.to !== 'booked' || write.tripTransition.chargeRefundedEarlyAsRead === undefined) return;
      booked = true;
      await bookedByCreateBooking(trip);
    });

    const completed = await webhookHarness(fake, { store: interleaved }).send(signedRequest(trip.completion));
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(booked).toBe(true);
    expect(completed).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: [booking?.reference] } });
    expect(cancelled).toMatchObject({ ok: true });
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect((await trip.record())?.attention).toBeUndefined();
  });

  it('answers a record that knows Stripe’s total already without asking Stripe: refunded in full before its completion', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await fake.client().refunds.create({ payment_intent: trip.paymentId, amount: trip.amount - DASHBOARD_REFUND });
    expect(await trip.record()).toMatchObject({ status: 'refunded', reason: 'refunded_before_confirmation', chargeRefunded: trip.amount });
    expect((await trip.trip())?.chargeRefundedEarly).toHaveLength(1);
    fake.failNextRefundLists(1, 500);

    const completed = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(completed).toMatchObject({ status: 200, body: { outcome: 'already_refunded' } });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect((await store.listAudit('payment', trip.paymentId)).map((entry) => entry.eventType)).not.toContain('payment.charge_total_recorded');
  });

  it('gives back everything when the Dashboard refund fails after Stripe’s total was recorded', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    const [dashboard] = fake.refundsOf(trip.paymentId);
    const failed = fake.setRefundStatus(dashboard?.id as string, 'failed', 'expired_or_canceled_card');

    const failure = await webhookHarness(fake, { store }).send(signedRequest(stripeEvent('refund.failed', refundObject(failed))));
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(failure.status).toBe(200);
    expect(cancelled).toMatchObject({ ok: true });
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect(await trip.record()).toMatchObject({ amountRefunded: trip.amount });
  });

  it('an operator’s cancellation before the completion tells the record first: what Stripe still holds is refunded, once, and the completion asks nothing', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    const [booking] = await trip.bookings();
    const cancel = () => cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true, actorId: 'ops-1' });

    const [first, second] = await Promise.all([cancel(), cancel()]);
    fake.failNextRefundLists(1, 500);
    const completed = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect([first, second]).toMatchObject([{ ok: true }, { ok: true }]);
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect(await trip.record()).toMatchObject({ status: 'refunded', chargeRefunded: trip.amount, amountRefunded: trip.amount });
    expect((await trip.record())?.attention).toBeUndefined();
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    const told = (await store.listAudit('payment', trip.paymentId)).filter((entry) => entry.eventType === 'payment.charge_total_recorded');
    expect(told).toMatchObject([{ actorType: 'operator', actorId: 'ops-1', metadata: { amountRefunded: DASHBOARD_REFUND } }]);
    expect(completed).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
  });

  it('an operator’s cancellation while Stripe cannot say what is back cancels nothing, and cancels with Stripe’s word when run again', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    const [booking] = await trip.bookings();
    fake.failNextRefundLists(1, 500);

    const whileDown = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });
    const [untouched] = await trip.bookings();
    const again = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(whileDown).toMatchObject({ ok: false, errorCode: 'STRIPE_UNAVAILABLE', retryable: true });
    expect(untouched?.status).toBe('confirmed');
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    expect(again).toMatchObject({ ok: true });
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
  });

  it('`bookings cancel` says so when Stripe cannot say what is back: STRIPE_UNAVAILABLE, exit 1, the booking still confirmed; run again, it cancels', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    const [booking] = await trip.bookings();
    const gateway = new StripePaymentGateway(async () => fake.client());
    fake.failNextRefundLists(1, 500);

    const whileDown = await ops(['bookings', 'cancel', booking?.reference as string, '--reason', 'guide ill'], gateway);
    const [untouched] = await trip.bookings();
    const again = await ops(['bookings', 'cancel', booking?.reference as string, '--reason', 'guide ill'], gateway);

    expect(whileDown.code).toBe(1);
    expect(whileDown.err).toMatch(
      new RegExp(
        `^error: STRIPE_UNAVAILABLE: Stripe could not say what is back of payment ${trip.paymentId} .*: booking ${booking?.reference} was not cancelled and nothing was asked; run it again\\.$`,
      ),
    );
    expect(untouched?.status).toBe('confirmed');
    expect(again.code).toBe(0);
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
  });

  it('`bookings cancel` with a key of another Stripe account cancels nothing: ACCOUNT_MISMATCH, exit 2; the deployment’s key cancels it', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    const [booking] = await trip.bookings();
    const reference = booking?.reference as string;
    const otherAccount = await startStripeFake();
    try {
      const wrongKey = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], new StripePaymentGateway(async () => otherAccount.client()));
      const [untouched] = await trip.bookings();
      const rightKey = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], new StripePaymentGateway(async () => fake.client()));

      expect(wrongKey.code).toBe(2);
      expect(wrongKey.err).toBe(
        `error: ACCOUNT_MISMATCH: the Stripe account of STRIPE_API_KEY holds no payment ${trip.paymentId} (a key of another account, or a payment ` +
          `Stripe no longer has): is it a key of this deployment's account? booking ${reference} was not cancelled and nothing was asked`,
      );
      expect(untouched?.status).toBe('confirmed');
      expect(otherAccount.calls.filter((call) => call.method === 'POST')).toEqual([]);
      expect(rightKey.code).toBe(0);
      expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    } finally {
      await otherAccount.close();
    }
  });

  it('asks Stripe when the record’s total is older than the kept one: a first refund’s charge.refunded redelivered late, on the record', async () => {
    const trip = await paidCompletionLate();
    const { completion, paymentId } = trip;
    // A first Dashboard refund whose events are not delivered now (Stripe retries them later)…
    fake.dropNextDeliveries(2);
    await fake.client().refunds.create({ payment_intent: paymentId, amount: 1_000 });
    const firstTotal = fake.events.find((event) => event.type === 'charge.refunded') as FakeEvent;
    fake.advance(2_000);
    // …and a second one, delivered: no record yet, so the trip keeps Stripe's total, 3,000.
    await fake.client().refunds.create({ payment_intent: paymentId, amount: 2_000 });
    expect((await trip.trip())?.chargeRefundedEarly).toMatchObject([{ paymentId, amount: 3_000 }]);
    await bookedByCreateBooking({ tripId: trip.tripId, paymentId, trip: () => trip.trip() });
    // Stripe's retry of the first charge.refunded (a total of 1,000) lands on create-booking's record.
    expect((await webhookHarness(fake, { store }).send(signedRequest(firstTotal))).body).toMatchObject({ outcome: 'partial_refund_recorded' });

    const completed = await webhookHarness(fake, { store }).send(signedRequest(completion));
    const recordAfter = await store.getPaymentRecord(paymentId);
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(completed.body).toMatchObject({ outcome: 'duplicate' });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
    expect(recordAfter).toMatchObject({ chargeRefunded: 3_000, amountRefunded: 3_000 });
    expect(cancelled).toMatchObject({ ok: true });
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    expect((await store.getPaymentRecord(paymentId))?.attention).toBeUndefined();
  });

  it.each([
    { by: 'create-booking', first: true },
    { by: 'its completion', first: false },
  ])(
    'booked by $by while Stripe says all of it is back, its full charge.refunded delivered after: a person looks, nothing is asked again',
    async ({ first }) => {
      const trip = await refundedInPartBeforeItsConfirmation();
      if (first) await bookedByCreateBooking(trip);
      fake.dropNextDeliveries(2);
      await fake.client().refunds.create({ payment_intent: trip.paymentId, amount: trip.amount - DASHBOARD_REFUND });
      const fullTotal = fake.events.findLast((event) => event.type === 'charge.refunded') as FakeEvent;
      fake.advance(60_000);

      const completed = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
      const recordBefore = await trip.record();
      const late = await webhookHarness(fake, { store }).send(signedRequest(fullTotal));

      expect(completed.body).toMatchObject({ outcome: first ? 'duplicate' : 'booked' });
      expect(recordBefore).toMatchObject({ status: 'booked', chargeRefunded: trip.amount });
      // Older than the total the record holds, it may count a refund failed since: the ledger releases nothing on it.
      expect(late.body).toMatchObject({ outcome: 'needs_attention', reason: 'full_refund_stale' });
      expect((await trip.bookings()).map((booking) => booking.status)).toEqual(['confirmed']);
      expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
      expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    },
  );

  it('with a key Stripe refuses for good, answers the completion 500 and refuses the cancellation (fix the key): nothing cancelled, asked or taken off', async () => {
    const trip = await refundedInPartBeforeItsConfirmation();
    await bookedByCreateBooking(trip);
    const [booking] = await trip.bookings();
    fake.refuseApiKey('sk_test_fake', 401);

    const completed = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(completed.status).toBe(500);
    expect(cancelled).toMatchObject({ ok: false, errorCode: 'STRIPE_UNAVAILABLE', retryable: false });
    expect((cancelled as { message: string }).message).toMatch(/fix STRIPE_API_KEY, then run it again\.$/);
    expect((await trip.bookings()).map((each) => each.status)).toEqual(['confirmed']);
    expect((await trip.trip())?.chargeRefundedEarly).toMatchObject([{ paymentId: trip.paymentId, amount: DASHBOARD_REFUND }]);
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND]);
  });

  it('asks Stripe when an earlier refund’s total of the same second as the kept one lands late on the record', async () => {
    const trip = await paidCompletionLate();
    const { completion, paymentId } = trip;
    // Stripe's clock at the start of a second: both refunds below are made in it.
    fake.advance(1_000 - (Date.now() % 1_000) + 20);
    fake.dropNextDeliveries(2);
    await fake.client().refunds.create({ payment_intent: paymentId, amount: 1_000 });
    const firstTotal = fake.events.find((event) => event.type === 'charge.refunded') as FakeEvent;
    await fake.client().refunds.create({ payment_intent: paymentId, amount: 2_000 });
    expect((await trip.trip())?.chargeRefundedEarly).toMatchObject([{ paymentId, amount: 3_000, asOf: firstTotal.created }]);
    await bookedByCreateBooking({ tripId: trip.tripId, paymentId, trip: () => trip.trip() });
    expect((await webhookHarness(fake, { store }).send(signedRequest(firstTotal))).body).toMatchObject({ outcome: 'partial_refund_recorded' });

    await webhookHarness(fake, { store }).send(signedRequest(completion));
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(cancelled).toMatchObject({ ok: true, refund: { amount: trip.amount - 3_000, status: 'succeeded' } });
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
  });

  it('asks Stripe when the earlier refund failed since: its failure moves the record’s time past the kept total, not its count', async () => {
    const trip = await paidCompletionLate();
    const { completion, paymentId } = trip;
    fake.dropNextDeliveries(2);
    const first = await fake.client().refunds.create({ payment_intent: paymentId, amount: 1_000 });
    const firstTotal = fake.events.find((event) => event.type === 'charge.refunded') as FakeEvent;
    fake.advance(2_000);
    await fake.client().refunds.create({ payment_intent: paymentId, amount: 2_000 });
    await bookedByCreateBooking({ tripId: trip.tripId, paymentId, trip: () => trip.trip() });
    await webhookHarness(fake, { store }).send(signedRequest(firstTotal));
    fake.advance(3_000);
    const failed = stripeEvent('refund.failed', refundObject(fake.setRefundStatus(first.id, 'failed', 'expired_or_canceled_card')));
    failed.created = firstTotal.created + 5;
    await webhookHarness(fake, { store }).send(signedRequest(failed));
    // Stripe answers the seconds after that failure.
    fake.advance(2_000);

    await webhookHarness(fake, { store }).send(signedRequest(completion));
    const [booking] = await trip.bookings();
    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ chargeRefunded: trip.amount });
    expect(cancelled).toMatchObject({ ok: true, refund: { amount: trip.amount - 2_000, status: 'succeeded' } });
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
  });

  describe('the rest refunded in the Dashboard, pending, before the completion (Stripe says all of it is back); it fails', () => {
    /** Paid, its completion not delivered; 3,000 refunded (delivered: the trip keeps it); the rest refunded, pending, its events late. */
    async function restPendingBeforeCompletion() {
      const trip = await paidCompletionLate();
      const { completion, paymentId } = trip;
      await fake.client().refunds.create({ payment_intent: paymentId, amount: DASHBOARD_REFUND });
      fake.nextRefundStatus('pending');
      fake.dropNextDeliveries(2);
      const rest = await fake.client().refunds.create({ payment_intent: paymentId, amount: trip.amount - DASHBOARD_REFUND });
      const fullTotal = fake.events.findLast((event) => event.type === 'charge.refunded') as FakeEvent;
      fake.advance(5_000);
      return { trip, completion, paymentId, rest, fullTotal };
    }

    it('booked, then its refund.failed: the cancellation refunds what Stripe holds', async () => {
      const { trip, completion, paymentId, rest, fullTotal } = await restPendingBeforeCompletion();
      expect((await webhookHarness(fake, { store }).send(signedRequest(completion))).body).toMatchObject({ outcome: 'booked' });
      const failed = stripeEvent('refund.failed', refundObject(fake.setRefundStatus(rest.id, 'failed', 'expired_or_canceled_card')));
      // It fails after the completion asked Stripe.
      failed.created = fullTotal.created + 6;
      await webhookHarness(fake, { store }).send(signedRequest(failed));

      const [booking] = await trip.bookings();
      const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

      expect(cancelled).toMatchObject({ ok: true, refund: { amount: trip.amount - DASHBOARD_REFUND, status: 'succeeded' } });
      expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    });

    it('its refund.failed between the completion’s question and its write: the late full total releases nothing', async () => {
      const { trip, completion, paymentId, rest, fullTotal } = await restPendingBeforeCompletion();
      let failedBetween = false;
      const racing = committingFirst(store, async (write) => {
        if (failedBetween || write.tripTransition?.to !== 'booked' || write.tripTransition.chargeRefundedEarlyAsRead === undefined) return;
        failedBetween = true;
        const failed = stripeEvent('refund.failed', refundObject(fake.setRefundStatus(rest.id, 'failed', 'expired_or_canceled_card')));
        failed.created = fullTotal.created + 6;
        expect((await webhookHarness(fake, { store }).send(signedRequest(failed))).body).toMatchObject({ outcome: 'no_change' });
      });
      expect((await webhookHarness(fake, { store: racing }).send(signedRequest(completion))).body).toMatchObject({ outcome: 'booked' });

      const late = await webhookHarness(fake, { store }).send(signedRequest(fullTotal));

      expect(failedBetween).toBe(true);
      expect(fake.totalRefunded(paymentId)).toBe(DASHBOARD_REFUND);
      expect(late.body).toMatchObject({ outcome: 'needs_attention' });
      expect((await trip.trip())?.status).toBe('booked');
      expect((await trip.bookings()).map((booking) => booking.status)).toEqual(['confirmed']);
    });

    it('a later Dashboard refund’s failure on the record: the late full total releases nothing', async () => {
      const { trip, completion, paymentId, rest, fullTotal } = await restPendingBeforeCompletion();
      expect((await webhookHarness(fake, { store }).send(signedRequest(completion))).body).toMatchObject({ outcome: 'booked' });
      fake.setRefundStatus(rest.id, 'failed', 'expired_or_canceled_card');
      fake.advance(5_000);
      fake.nextRefundStatus('pending');
      fake.dropNextDeliveries(2);
      const more = await fake.client().refunds.create({ payment_intent: paymentId, amount: 1_000 });
      fake.advance(5_000);
      const moreFailed = stripeEvent('refund.failed', refundObject(fake.setRefundStatus(more.id, 'failed', 'expired_or_canceled_card')));
      moreFailed.created = fullTotal.created + 15;
      expect((await webhookHarness(fake, { store }).send(signedRequest(moreFailed))).body).toMatchObject({ outcome: 'needs_attention' });

      const late = await webhookHarness(fake, { store }).send(signedRequest(fullTotal));

      expect(fake.totalRefunded(paymentId)).toBe(DASHBOARD_REFUND);
      expect(late.body.outcome).not.toBe('released');
      expect((await trip.trip())?.status).toBe('booked');
      expect((await trip.bookings()).map((booking) => booking.status)).toEqual(['confirmed']);
    });
  });

  it('tells the record when the partial refund is kept and create-booking books the trip while the completion runs, its trip read before either', async () => {
    const trip = await checkedOutTrip(store, fake);
    fake.dropNextDeliveries(1);
    await trip.pay();
    const paymentId = trip.paymentIntent();
    fake.dropNextDeliveries(2);
    await fake.client().refunds.create({ payment_intent: paymentId, amount: DASHBOARD_REFUND });
    // A session without items: the full path reads the trip first (no partial refund kept yet).
    const completion = stripeEvent(
      'checkout.session.completed',
      checkoutSession((await trip.trip()) as Trip, { withItems: false, paymentIntent: paymentId, table: store.tableName }),
    );
    let between = false;
    const racing = committingFirst(store, async (write) => {
      if (between || write.tripTransition?.to !== 'booked') return;
      between = true;
      await deliverPartialRefund(trip, paymentId, DASHBOARD_REFUND);
      await bookedByCreateBooking({ tripId: trip.tripId, paymentId, trip: () => trip.trip() });
    });

    const answered = await webhookHarness(fake, { store: racing }).send(signedRequest(completion));

    expect(between).toBe(true);
    expect(answered).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: (await trip.trip())?.bookingReferences } });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ chargeRefunded: DASHBOARD_REFUND, amountRefunded: DASHBOARD_REFUND });
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
  });

  it('a booking made before payment records existed, refunded in part in the Dashboard: its cancellation asks only what Stripe still holds', async () => {
    const trip = await checkedOutTrip(store, fake);
    await trip.pay();
    expect((await trip.trip())?.status).toBe('booked');
    const paymentId = trip.paymentIntent();
    // Booked by a version before payment records: no record of it.
    await testDocumentClient().send(new DeleteCommand({ TableName: testTableName(), Key: keys.paymentRecord(paymentId) }));
    await fake.client().refunds.create({ payment_intent: paymentId, amount: DASHBOARD_REFUND });
    expect((await trip.trip())?.chargeRefundedEarly).toMatchObject([{ paymentId, amount: DASHBOARD_REFUND }]);
    const [booking] = await trip.bookings();

    const cancelled = await cancelBooking(cancelDeps(), { reference: booking?.reference as string, reason: 'guide ill', refund: true });

    expect(cancelled).toMatchObject({ ok: true, refund: { amount: trip.amount - DASHBOARD_REFUND, status: 'succeeded' } });
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    expect((await store.getPaymentRecord(paymentId))?.attention).toBeUndefined();
    expect((await trip.trip())?.chargeRefundedEarly).toBeUndefined();
  });

  it('answers duplicate when create-booking books the trip before the completion’s last attempt, another payment’s partial refunds having moved it before each', async () => {
    const trip = await paidCompletionLate();
    const { paymentId } = trip;
    const completion = stripeEvent(
      'checkout.session.completed',
      checkoutSession((await trip.trip()) as Trip, { withItems: false, paymentIntent: paymentId, table: store.tableName }),
    );
    let confirmations = 0;
    const racing = committingFirst(store, async (write) => {
      if (write.tripTransition?.to !== 'booked') return;
      confirmations++;
      if (confirmations < PAYMENT_RECORD_ATTEMPTS) {
        // What a charge.refunded of another payment of the trip, with no record yet, writes on it.
        await testDocumentClient().send(
          new UpdateCommand({
            TableName: testTableName(),
            Key: keys.trip(trip.tripId),
            UpdateExpression: 'SET chargeRefundedEarly = :kept',
            ExpressionAttributeValues: { ':kept': [{ paymentId: 'pi_other_session', amount: 100 * confirmations }] },
          }),
        );
      } else if (confirmations === PAYMENT_RECORD_ATTEMPTS) {
        await bookedByCreateBooking(trip);
      }
    });

    const answered = await webhookHarness(fake, { store: racing }).send(signedRequest(completion));

    expect(confirmations).toBe(PAYMENT_RECORD_ATTEMPTS);
    expect(answered).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: (await trip.trip())?.bookingReferences } });
  });
});
