// Every transition of the trip's state machine through the real webhook handler: in order, out of order, and again.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { attachCheckoutSession } from '../../lambdas/shared/domain/create-trip';
import { deps, overwriteSlot, readSlot, seedSlot, testDocumentClient, testStore, uniqueId } from '../support/store';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { chargeRefunded, checkoutSession, paymentIntentId, signedRequest, stripeEvent, type SessionFacts } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

/** A trip on two slots (3 + 1 guests), with its checkout session recorded as checkout would. */
async function scenario(capacities: [number, number] = [5, 5]) {
  const store = testStore();
  const a = await seedSlot(store, { capacity: capacities[0] });
  const b = await seedSlot(store, { capacity: capacities[1] });
  const created = await createPendingTrip(store, [
    [a, 3],
    [b, 1],
  ]);
  const sessionId = uniqueId('cs_test').replace(/-/g, '');
  await attachCheckoutSession(deps(store), created.tripId, sessionId);
  const trip: Trip = { ...created, checkoutSessionId: sessionId };
  const webhook = webhookHarness(fake, { store });
  const session = (facts: SessionFacts = {}) => checkoutSession(trip, { paymentIntent: paymentIntent, ...facts });
  const paymentIntent = paymentIntentId();
  fake.registerPayment(paymentIntent, trip.amount);
  return {
    store,
    slots: [a, b] as [Slot, Slot],
    trip,
    paymentIntent,
    webhook,
    session,
    send: (type: string, object: Record<string, unknown>) => webhook.send(signedRequest(stripeEvent(type, object))),
    available: async () => Promise.all([a, b].map(async (slot) => (await readSlot(store, slot.slotId))?.availableCount)),
    status: async () => (await store.getTrip(trip.tripId))?.status,
  };
}

describe('checkout.session.completed', () => {
  it('books a paid trip in one transaction and answers 200 with its references', async () => {
    const s = await scenario();

    const response = await s.send('checkout.session.completed', s.session());

    expect(response).toMatchObject({ status: 200, body: { received: true, outcome: 'booked', tripId: s.trip.tripId } });
    expect(response.body.references).toHaveLength(2);
    expect(await s.available()).toEqual([2, 4]);
    const stored = await s.store.getTrip(s.trip.tripId);
    expect(stored).toMatchObject({ status: 'booked', paymentId: s.paymentIntent, bookingReferences: response.body.references });
    expect(await s.store.findTripByPayment(s.paymentIntent)).toMatchObject({ tripId: s.trip.tripId });
    expect(fake.refundsOf(s.paymentIntent)).toEqual([]);
  });

  it('moves an unpaid completion to awaiting_payment without taking seats, and books on async_payment_succeeded', async () => {
    const s = await scenario();

    const awaiting = await s.send('checkout.session.completed', s.session({ paymentStatus: 'unpaid' }));
    expect(awaiting).toMatchObject({ status: 200, body: { outcome: 'awaiting_payment' } });
    expect(await s.status()).toBe('awaiting_payment');
    expect(await s.available()).toEqual([5, 5]);

    const paid = await s.send('checkout.session.async_payment_succeeded', s.session({ paymentStatus: 'paid' }));
    expect(paid).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect(await s.available()).toEqual([2, 4]);
  });

  it.each([
    { type: 'checkout.session.async_payment_failed', status: 'payment_failed' },
    { type: 'checkout.session.expired', status: 'expired' },
  ])('moves the trip to $status on $type with no inventory change', async ({ type, status }) => {
    const s = await scenario();
    if (type.includes('async')) await s.send('checkout.session.completed', s.session({ paymentStatus: 'unpaid' }));

    const response = await s.send(type, s.session({ paymentStatus: 'unpaid' }));

    expect(response).toMatchObject({ status: 200, body: { outcome: status } });
    expect(await s.status()).toBe(status);
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.store.listAudit('trip', s.trip.tripId)).toMatchObject([
      ...(type.includes('async') ? [{ eventType: 'trip.awaiting_payment' }] : []),
      { eventType: `trip.${status}` },
    ]);
  });
});

describe('out of order', () => {
  it.each(['checkout.session.expired', 'checkout.session.async_payment_failed'])('changes nothing when %s arrives after the trip was booked', async (type) => {
    const s = await scenario();
    await s.send('checkout.session.completed', s.session());

    const late = await s.send(type, s.session({ paymentStatus: 'unpaid' }));

    expect(late).toMatchObject({ status: 200, body: { outcome: 'no_change' } });
    expect(await s.status()).toBe('booked');
    expect(await s.available()).toEqual([2, 4]);
  });

  it('books on async_payment_succeeded before completed, then treats completed as a duplicate', async () => {
    const s = await scenario();

    const first = await s.send('checkout.session.async_payment_succeeded', s.session());
    const second = await s.send('checkout.session.completed', s.session());
    const unpaidLate = await s.send('checkout.session.completed', s.session({ paymentStatus: 'unpaid' }));

    expect(first.body).toMatchObject({ outcome: 'booked' });
    expect(second.body).toMatchObject({ outcome: 'duplicate', references: first.body.references });
    expect(unpaidLate.body).toMatchObject({ outcome: 'no_change' });
    expect(await s.available()).toEqual([2, 4]);
    expect(await s.store.listBookingsOfTrip(s.trip.tripId)).toHaveLength(2);
  });

  it('does not book when the refund arrived before the confirmation, refunds nothing more, and ends the trip refunded', async () => {
    const s = await scenario();

    const refund = await s.send('charge.refunded', chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId }).data.object);
    const late = await s.send('checkout.session.completed', s.session());

    expect(refund).toMatchObject({ status: 200, body: { outcome: 'refund_recorded' } });
    expect(late).toMatchObject({ status: 200, body: { outcome: 'already_refunded', reason: 'refunded_before_confirmation' } });
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.store.listBookingsOfTrip(s.trip.tripId)).toEqual([]);
    expect(await s.status()).toBe('refunded');
    expect(fake.refundsOf(s.paymentIntent)).toEqual([]);
  });
});

describe('charge.refunded', () => {
  it('cancels the bookings of a booked trip and gives the seats back exactly once', async () => {
    const s = await scenario();
    const booked = await s.send('checkout.session.completed', s.session());
    const refund = chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId });

    const first = await s.webhook.send(signedRequest(refund));
    const again = await s.webhook.send(signedRequest(refund));
    const anotherEventSameRefund = await s.send('charge.refunded', chargeRefunded(s.paymentIntent, s.trip.amount).data.object);

    expect(first).toMatchObject({ status: 200, body: { outcome: 'released' } });
    expect([...(first.body.references ?? [])].sort()).toEqual([...(booked.body.references ?? [])].sort());
    expect(again).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    expect(anotherEventSameRefund).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.status()).toBe('refunded');
    for (const booking of await s.store.listBookingsOfTrip(s.trip.tripId)) {
      expect(booking.status).toBe('cancelled');
      expect((await s.store.listAudit('booking', booking.reference)).map((entry) => entry.eventType)).toEqual(['booking.confirmed', 'booking.cancelled']);
    }
  });

  it('records a partial refund without cancelling anything', async () => {
    const s = await scenario();
    await s.send('checkout.session.completed', s.session());

    const partial = await s.send('charge.refunded', chargeRefunded(s.paymentIntent, s.trip.amount, { refunded: 1_000 }).data.object);

    expect(partial).toMatchObject({ status: 200, body: { outcome: 'partial_refund_recorded', tripId: s.trip.tripId } });
    expect(await s.status()).toBe('booked');
    expect(await s.available()).toEqual([2, 4]);
    expect(await s.store.listAudit('payment', s.paymentIntent)).toMatchObject([
      { eventType: 'payment.partially_refunded', metadata: { amountRefunded: 1_000 } },
    ]);
  });
});

describe('paid but not bookable', () => {
  it('refunds a paid trip whose slot sold out meanwhile, records why, and answers 200', async () => {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[0], availableCount: 2 });

    const response = await s.send('checkout.session.completed', s.session());

    expect(response).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'INSUFFICIENT_AVAILABILITY' } });
    expect(await s.store.getTrip(s.trip.tripId)).toMatchObject({
      status: 'refunded',
      statusReason: 'INSUFFICIENT_AVAILABILITY',
      paymentId: s.paymentIntent,
      refundId: fake.refunds.at(-1)?.id,
    });
    expect(await s.available()).toEqual([2, 5]);
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect(fake.refundsOf(s.paymentIntent)[0]).toMatchObject({ idempotencyKey: `refund-${s.paymentIntent}`, metadata: { tripId: s.trip.tripId } });
    expect((await s.store.listAudit('trip', s.trip.tripId)).map((entry) => entry.eventType)).toEqual(['trip.refund_pending', 'trip.refunded']);
  });

  it('refunds once when a blocked slot’s payment is delivered again', async () => {
    const s = await scenario();
    await overwriteSlot({ ...s.slots[1], isBlocked: true });
    const event = stripeEvent('checkout.session.completed', s.session());

    const first = await s.webhook.send(signedRequest(event));
    const again = await s.webhook.send(signedRequest(event));

    expect(first.body).toMatchObject({ outcome: 'refunded', reason: 'SLOT_BLOCKED' });
    expect(again.body).toMatchObject({ outcome: 'refunded', reason: 'SLOT_BLOCKED' });
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
  });

  it.each([
    { name: 'amount', facts: { amount: 100 }, reason: 'amount_mismatch' },
    { name: 'currency', facts: { currency: 'usd' }, reason: 'currency_mismatch' },
    { name: 'user', facts: { userId: 'someone-else' }, reason: 'user_mismatch' },
    { name: 'session', facts: { sessionId: 'cs_test_other_session' }, reason: 'session_mismatch' },
  ])('sets aside and refunds a payment whose $name does not match the trip, leaving the trip as it was', async ({ facts, reason }) => {
    const s = await scenario();

    const response = await s.send('checkout.session.completed', s.session(facts));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'refunded', reason, setAside: true } });
    expect(await s.status()).toBe('pending_payment');
    expect(await s.available()).toEqual([5, 5]);
    expect(await s.store.getPaymentRecord(s.paymentIntent)).toMatchObject({
      status: 'refunded',
      setAside: true,
      reason,
      tripId: s.trip.tripId,
      amountRefunded: ('amount' in facts ? facts.amount : undefined) ?? s.trip.amount,
    });
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect((await s.store.listAudit('payment', s.paymentIntent)).map((entry) => entry.eventType)).toEqual(['payment.set_aside', 'payment.refund_succeeded']);
  });

  it.each([
    { name: 'carries our mark without a trip id', tripId: '' },
    { name: 'names a trip that does not exist', tripId: 'trip-that-never-was' },
    { name: 'names a trip with an unusable id', tripId: 'TRIP#1 OR 1=1' },
  ])('sets aside and refunds a payment that $name', async ({ tripId }) => {
    const s = await scenario();

    const response = await s.send('checkout.session.completed', s.session({ tripId }));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'unknown_trip', setAside: true } });
    expect(await s.store.getPaymentRecord(s.paymentIntent)).toMatchObject({ status: 'refunded', reason: 'unknown_trip' });
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
  });

  it('refunds a second payment for a trip that is already booked, keeping the first payment’s bookings', async () => {
    const s = await scenario();
    const first = await s.send('checkout.session.completed', s.session());
    const secondPayment = paymentIntentId();
    fake.registerPayment(secondPayment, s.trip.amount);

    const second = await s.send('checkout.session.completed', s.session({ paymentIntent: secondPayment }));

    expect(second).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'trip_booked', setAside: true } });
    expect(await s.store.getTrip(s.trip.tripId)).toMatchObject({ status: 'booked', paymentId: s.paymentIntent, bookingReferences: first.body.references });
    expect(fake.refundsOf(secondPayment)).toHaveLength(1);
    expect(fake.refundsOf(s.paymentIntent)).toEqual([]);
    expect(await s.available()).toEqual([2, 4]);
  });
});

describe('metrics', () => {
  it('counts confirmations, duplicates, refunds, payments set aside and signature failures', async () => {
    const s = await scenario();
    const added = vi.spyOn(s.webhook.metrics, 'addMetric');
    const names = () => added.mock.calls.map(([name]) => name);
    const event = stripeEvent('checkout.session.completed', s.session());

    await s.webhook.send(signedRequest(event));
    await s.webhook.send(signedRequest(event));
    const strayPayment = paymentIntentId();
    fake.registerPayment(strayPayment, 1);
    await s.send('checkout.session.completed', s.session({ paymentIntent: strayPayment, amount: 1 }));
    await s.webhook.send(signedRequest(event, { secret: 'whsec_wrong' }));

    expect(names()).toEqual(['Confirmations', 'DuplicateDeliveries', 'Refunds', 'PaymentsSetAside', 'SignatureFailures']);
  });

  it('counts a refund and a payment set aside once, however often Stripe redelivers the event that caused them', async () => {
    const s = await scenario();
    const added = vi.spyOn(s.webhook.metrics, 'addMetric');
    const strayPayment = paymentIntentId();
    fake.registerPayment(strayPayment, 1);
    const stray = signedRequest(stripeEvent('checkout.session.completed', s.session({ paymentIntent: strayPayment, amount: 1 })));

    const answers = [];
    for (let delivery = 0; delivery < 3; delivery++) answers.push(await s.webhook.send(stray));

    expect(answers.map((answer) => answer.body)).toEqual(Array(3).fill(expect.objectContaining({ outcome: 'refunded', setAside: true })));
    expect(fake.refundsOf(strayPayment)).toHaveLength(1);
    expect(added.mock.calls.map(([name]) => name)).toEqual(['Refunds', 'PaymentsSetAside']);
  });
});

describe('cost per delivery', () => {
  it('confirms with two DynamoDB requests (one read of the trip, one transaction) and answers a duplicate with one read', async () => {
    const client = testDocumentClient();
    const counter = injectFaults(client);
    const store = testStore(client);
    const slot = await seedSlot(store, { capacity: 3 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentIntentId() }));
    const webhook = webhookHarness(fake, { store });
    counter.calls.clear();

    expect((await webhook.send(signedRequest(event))).body.outcome).toBe('booked');
    expect(Object.fromEntries(counter.calls)).toEqual({ GetItemCommand: 1, TransactWriteItemsCommand: 1 });

    counter.calls.clear();
    expect((await webhook.send(signedRequest(event))).body.outcome).toBe('duplicate');
    expect(Object.fromEntries(counter.calls)).toEqual({ GetItemCommand: 1 });
  });
});

describe('idempotency over the retry window', () => {
  it('answers a redelivery a week later with the same references and no second booking set', async () => {
    const s = await scenario();
    const event = stripeEvent('checkout.session.completed', s.session());
    const first = await s.webhook.send(signedRequest(event));
    const aWeekLater = new Date(Date.now() + 7 * 86_400_000);
    const later = webhookHarness(fake, { store: s.store, clock: { now: () => aWeekLater } });

    const again = await later.send(signedRequest(event, { timestamp: Math.floor(aWeekLater.getTime() / 1000) }));

    expect(again).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: first.body.references } });
    expect(await s.store.listBookingsOfTrip(s.trip.tripId)).toHaveLength(2);
    expect(await s.available()).toEqual([2, 4]);
  });

  it('records the event in the same transaction as the booking, kept at least 30 days', async () => {
    const s = await scenario();
    const event = stripeEvent('checkout.session.completed', s.session());

    const response = await s.webhook.send(signedRequest(event));

    const record = await s.store.getProcessedEvent(event.id);
    expect(record).toMatchObject({ eventType: 'checkout.session.completed', outcome: 'booked', tripId: s.trip.tripId, references: response.body.references });
    expect(record!.expiresAt - Date.now() / 1000).toBeGreaterThanOrEqual(30 * 86_400);
  });
});
