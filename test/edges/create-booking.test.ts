// create-booking at its edges, each a reproduction: the request's item order, replays, mismatches, a lost read of the trip,
// and a payment it was given for a trip that payment did not pay.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { deps, FAST_RETRIES, readSlot, seedSlot, testDocumentClient, testStore, uniqueId } from '../support/store';
import { createPendingTrip } from '../support/trips';

function invoker(store = testStore()) {
  return { store, invoke: createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) }) };
}

describe('create-booking at its edges', () => {
  it('answers the bookings in the order of the request’s tripItems (the response has no slotId to match them by)', async () => {
    const { store, invoke } = invoker();
    const first = await seedSlot(store, { capacity: 4 });
    const second = await seedSlot(store, { capacity: 4 });
    const trip = await createPendingTrip(store, [
      [first, 1],
      [second, 2],
    ]);
    // The caller lists the same items, the other way round.
    const tripItems = [...trip.items].reverse().map((item) => ({ ...item }));

    const response = await invoke({ paymentId: uniqueId('pi'), tripId: trip.tripId, userId: trip.userId, tripItems });

    expect(response.success).toBe(true);
    expect(response.bookings?.map((booking) => booking.experienceId)).toEqual(tripItems.map((item) => item.experienceId));
  });

  it('never shows a replay’s bookings to a request that names another user: TRIP_MISMATCH', async () => {
    const { store, invoke } = invoker();
    const slot = await seedSlot(store, { capacity: 4 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    const body = { paymentId: uniqueId('pi'), tripId: trip.tripId, userId: trip.userId, tripItems: trip.items.map((item) => ({ ...item })) };
    const first = await invoke(body);
    expect(first.success).toBe(true);

    const replay = await invoke({ ...body, userId: uniqueId('user') });

    expect(replay).toMatchObject({ success: false, errorCode: 'TRIP_MISMATCH' });
    expect(replay.bookings).toBeUndefined();
    expect(await invoke(body)).toEqual(first);
  });

  it('answers TRIP_NOT_PENDING for a trip booked by another payment, and TRIP_MISMATCH when the request does not describe it either', async () => {
    const { store, invoke } = invoker();
    const slot = await seedSlot(store, { capacity: 4 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    const body = { paymentId: uniqueId('pi'), tripId: trip.tripId, userId: trip.userId, tripItems: trip.items.map((item) => ({ ...item })) };
    expect((await invoke(body)).success).toBe(true);

    expect(await invoke({ ...body, paymentId: uniqueId('pi') })).toMatchObject({ success: false, errorCode: 'TRIP_NOT_PENDING' });
    const other = await invoke({ ...body, paymentId: uniqueId('pi'), tripItems: body.tripItems.map((item) => ({ ...item, guestCount: 2 })) });
    expect(other).toMatchObject({ success: false, errorCode: 'TRIP_MISMATCH' });
  });

  it('answers a replay with its bookings when the first read of the trip failed after reaching the table, and the read back succeeds', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const { store, invoke } = invoker(testStore(client));
    const slot = await seedSlot(store, { capacity: 4 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    const body = { paymentId: uniqueId('pi'), tripId: trip.tripId, userId: trip.userId, tripItems: trip.items.map((item) => ({ ...item })) };
    const first = await invoke(body);
    expect(first.success).toBe(true);

    // Every attempt of the trip read loses its answer (StoreUnavailableError, maybeCommitted); the read after that works.
    faults.queue('GetItemCommand', ...Array<'lost-response'>(FAST_RETRIES.maxAttempts).fill('lost-response'));
    const replay = await invoke(body);

    expect(replay).toEqual(first);
  });
});

describe('create-booking given the PaymentIntent of another traveller’s paid checkout, before that payment’s webhook', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake(); // no webhook set: the test delivers the payment's event itself, late
  });
  afterAll(() => fake.close());

  it('after that payment’s webhook booked its own trip, books nothing and says the payment already has a record', async () => {
    const { store, invoke } = invoker();
    const paying = await checkedOutTrip(store, fake, 2);
    const paid = await paying.pay();
    expect((await webhookHarness(fake, { store }).send(signedRequest(paid))).body.outcome).toBe('booked');
    const slot = await seedSlot(store, { capacity: 4 });
    const other = await createPendingTrip(store, [[slot, 1]]);

    const direct = await invoke({
      paymentId: paying.paymentIntent(),
      tripId: other.tripId,
      userId: other.userId,
      tripItems: other.items.map((item) => ({ ...item })),
    });

    expect(direct).toMatchObject({
      success: false,
      errorCode: 'PAYMENT_SET_ASIDE',
      error: expect.stringContaining('already has a record (it booked another trip'),
    });
    expect((await store.getTrip(other.tripId))?.status).toBe('pending_payment');
    expect(await store.getPaymentRecord(paying.paymentIntent())).toMatchObject({ status: 'booked', tripId: paying.tripId });
  });

  it('books the trip it was asked to; the payment’s own event then puts the payment in front of a person, never answers duplicate', async () => {
    const { store, invoke } = invoker();
    const paying = await checkedOutTrip(store, fake, 2);
    const paid = await paying.pay();
    const paymentId = paying.paymentIntent();
    const slot = await seedSlot(store, { capacity: 4 });
    const other = await createPendingTrip(store, [[slot, 1]]);
    const direct = await invoke({ paymentId, tripId: other.tripId, userId: other.userId, tripItems: other.items.map((item) => ({ ...item })) });
    expect(direct.success).toBe(true);

    const webhook = webhookHarness(fake, { store });
    const added = vi.spyOn(webhook.metrics, 'addMetric');
    const delivered = await webhook.send(signedRequest(paid));
    const again = await webhook.send(signedRequest(paid));

    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'needs_attention', reason: 'paid_for_another_trip' } });
    expect(again).toMatchObject({ status: 200, body: { outcome: 'needs_attention' } });
    // The record now says what Stripe charged (create-booking could only record its trip's price) and which session paid.
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({
      status: 'needs_attention',
      tripId: other.tripId,
      amountPaid: paying.amount,
      sessionId: paid.data.object.id,
      attention: { reason: 'paid_for_another_trip', previousStatus: 'booked' },
    });
    expect(paying.amount).not.toBe(other.amount);
    expect((await store.listPaymentsNeedingAttention()).map((record) => record.paymentId)).toContain(paymentId);
    expect(added.mock.calls.filter(([name]) => name === 'PaymentsNeedingAttention')).toHaveLength(1);
    // Nothing decided for the person: the booked trip keeps its bookings, the payer's trip still waits, no refund asked.
    expect((await store.getTrip(other.tripId))?.status).toBe('booked');
    expect((await paying.trip())?.status).toBe('pending_payment');
    expect(fake.refunds.filter((refund) => refund.paymentIntent === paymentId)).toEqual([]);
    expect(
      (await store.listAudit('payment', paymentId)).filter((entry) => entry.eventType === 'payment.needs_attention').map((entry) => entry.metadata),
    ).toEqual([
      expect.objectContaining({ reason: 'paid_for_another_trip', sessionTripId: paying.tripId, charged: paying.amount, recordedAsPaid: other.amount }),
    ]);

    // The README's remedy: the whole charge refunded in the Dashboard. It is recorded, all of it back; the booked trip,
    // which this charge did not pay, keeps its bookings and seats (a person judges them); a person then resolves.
    const before = fake.events.length;
    await (await fake.client()).refunds.create({ payment_intent: paymentId, amount: paying.amount });
    for (const event of fake.events.slice(before)) expect((await webhook.send(signedRequest(event))).status).toBe(200);
    expect(fake.totalRefunded(paymentId)).toBe(paying.amount);
    expect((await store.getTrip(other.tripId))?.status).toBe('booked');
    expect((await store.listBookingsOfTrip(other.tripId)).map((booking) => booking.status)).toEqual(['confirmed']);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(3);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', amountPaid: paying.amount, amountRefunded: paying.amount });
    const resolved = await ops(['payments', 'resolve', paymentId, '--note', 'create-booking was given the wrong payment; refunded in full']);
    expect(resolved.code).toBe(0);
    expect((await store.getPaymentRecord(paymentId))?.status).toBe('resolved');
  });
});
