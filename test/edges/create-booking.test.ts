// create-booking at its edges, each a reproduction: the request's item order, replays, mismatches, a lost read of the trip.
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { deps, FAST_RETRIES, seedSlot, testDocumentClient, testStore, uniqueId } from '../support/store';
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
