// confirmTrip on the real DynamoDB Local: one transaction, all or nothing, never oversold, idempotent.
import { describe, expect, it } from 'vitest';
import { confirmTrip, type ConfirmTripResult } from '../../lambdas/shared/domain/confirm-trip';
import { MAX_TRIP_ITEMS } from '../../lambdas/shared/domain/trip-input';
import { REFERENCE_PATTERN } from '../../lambdas/shared/domain/references';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { deleteSlot, deps, overwriteSlot, readSlot, seedSlot, testStore, uniqueId, type TestStore } from '../support/store';
import { confirmationOf, createPendingTrip } from '../support/trips';

/** Everything a confirmation could touch, read back from the table. */
async function tableState(store: TestStore, slots: readonly Slot[], trip: Trip) {
  return {
    slots: await Promise.all(slots.map((slot) => readSlot(store, slot.slotId))),
    trip: await store.getTrip(trip.tripId),
    bookingsOfTrip: await store.listBookingsOfTrip(trip.tripId),
    bookingsOfSlots: await Promise.all(slots.map((slot) => store.listBookingsOfSlot(slot.slotId))),
  };
}

function expectSuccess(result: ConfirmTripResult) {
  if (!result.ok) expect.fail(`expected a confirmation, got ${result.errorCode}: ${result.message}`);
  return result;
}

describe('confirmTrip', () => {
  it('books a multi-item trip: unique references, slots decremented, one audit entry per booking, trip booked', async () => {
    const store = testStore();
    const [a, b, c] = await Promise.all([seedSlot(store, { capacity: 8 }), seedSlot(store, { capacity: 4 }), seedSlot(store, { capacity: 2 })]);
    const trip = await createPendingTrip(store, [
      [a!, 3],
      [b!, 4],
      [c!, 1],
    ]);
    const input = confirmationOf(trip);

    const result = expectSuccess(await confirmTrip(deps(store), input));

    expect(result.replayed).toBe(false);
    expect(result.bookings).toHaveLength(3);
    const references = result.bookings.map((booking) => booking.reference);
    expect(new Set(references).size).toBe(3);
    for (const reference of references) expect(reference).toMatch(REFERENCE_PATTERN);
    expect(result.bookings.map((booking) => [booking.slotId, booking.experienceId, booking.status])).toEqual([
      [a!.slotId, a!.experienceId, 'confirmed'],
      [b!.slotId, b!.experienceId, 'confirmed'],
      [c!.slotId, c!.experienceId, 'confirmed'],
    ]);

    const state = await tableState(store, [a!, b!, c!], trip);
    expect(state.slots.map((slot) => slot?.availableCount)).toEqual([5, 0, 1]);
    expect(state.trip).toMatchObject({ status: 'booked', paymentId: input.paymentId, bookingReferences: references });
    expect(state.bookingsOfTrip.map((booking) => booking.reference).sort()).toEqual([...references].sort());
    for (const booking of state.bookingsOfTrip) {
      expect(booking).toMatchObject({ status: 'confirmed', tripId: trip.tripId, userId: trip.userId, paymentId: input.paymentId });
      const audit = await store.listAudit('booking', booking.reference);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        eventType: 'booking.confirmed',
        entityType: 'booking',
        entityId: booking.reference,
        actorType: 'system',
        metadata: {
          reference: booking.reference,
          paymentId: input.paymentId,
          experienceId: booking.experienceId,
          slotId: booking.slotId,
          guestCount: booking.guestCount,
        },
      });
    }
  });

  it.each([
    {
      name: 'a slot without enough seats',
      code: 'INSUFFICIENT_AVAILABILITY',
      spoil: (_store: TestStore, slot: Slot) => overwriteSlot({ ...slot, availableCount: 1 }),
      detail: { code: 'INSUFFICIENT_AVAILABILITY', requested: 2, available: 1 },
    },
    {
      name: 'a blocked slot',
      code: 'SLOT_BLOCKED',
      spoil: (_store: TestStore, slot: Slot) => overwriteSlot({ ...slot, isBlocked: true }),
      detail: { code: 'SLOT_BLOCKED', requested: 2, available: 6 },
    },
  ])('refuses a trip with $name with $code and its counts, changing nothing', async ({ code, spoil, detail }) => {
    const store = testStore();
    const good = await seedSlot(store, { capacity: 5 });
    const bad = await seedSlot(store, { capacity: 6 });
    const trip = await createPendingTrip(store, [
      [good, 2],
      [bad, 2],
    ]);
    await spoil(store, bad);
    const before = await tableState(store, [good, bad], trip);

    const result = await confirmTrip(deps(store), confirmationOf(trip));

    expect(result).toMatchObject({ ok: false, errorCode: code, retryable: false, slots: [{ slotId: bad.slotId, ...detail }] });
    expect(await tableState(store, [good, bad], trip)).toEqual(before);
  });

  it('refuses a trip whose slot was deleted with SLOT_NOT_FOUND, changing nothing', async () => {
    const store = testStore();
    const good = await seedSlot(store);
    const gone = await seedSlot(store);
    const trip = await createPendingTrip(store, [
      [good, 1],
      [gone, 1],
    ]);
    await deleteSlot(gone.slotId);
    const before = await tableState(store, [good, gone], trip);

    const result = await confirmTrip(deps(store), confirmationOf(trip));

    expect(result).toMatchObject({ ok: false, errorCode: 'SLOT_NOT_FOUND', slots: [{ slotId: gone.slotId, code: 'SLOT_NOT_FOUND', requested: 1 }] });
    expect(await tableState(store, [good, gone], trip)).toEqual(before);
  });

  it('sums two items of one trip on the same slot into one decrement', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 5 });
    const trip = await createPendingTrip(store, [
      [slot, 2],
      [slot, 3],
    ]);

    const result = expectSuccess(await confirmTrip(deps(store), confirmationOf(trip)));

    expect(result.bookings).toHaveLength(2);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(0);
    expect((await store.listBookingsOfSlot(slot.slotId)).map((booking) => booking.guestCount).sort()).toEqual([2, 3]);
  });

  it('refuses the same slot twice in one trip when together they exceed its seats', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 6 });
    const trip = await createPendingTrip(store, [
      [slot, 3],
      [slot, 3],
    ]);
    await overwriteSlot({ ...slot, availableCount: 5 });

    const result = await confirmTrip(deps(store), confirmationOf(trip));

    expect(result).toMatchObject({ errorCode: 'INSUFFICIENT_AVAILABILITY', slots: [{ slotId: slot.slotId, requested: 6, available: 5 }] });
    expect(await store.listBookingsOfSlot(slot.slotId)).toEqual([]);
  });

  it(`confirms a trip of ${MAX_TRIP_ITEMS} items on distinct slots in one transaction`, async () => {
    const store = testStore();
    const slots = await Promise.all(Array.from({ length: MAX_TRIP_ITEMS }, () => seedSlot(store, { capacity: 3 })));
    const trip = await createPendingTrip(
      store,
      slots.map((slot) => [slot, 1] as [Slot, number]),
    );

    const result = expectSuccess(await confirmTrip(deps(store), confirmationOf(trip)));

    expect(result.bookings).toHaveLength(MAX_TRIP_ITEMS);
    const after = await store.getSlots(slots.map((slot) => slot.slotId));
    expect([...after.values()].every((slot) => slot.availableCount === 2)).toBe(true);
  });

  it('gives the last seat to exactly one of 10 concurrent trips, every round of 20', async () => {
    const store = testStore();
    for (let round = 0; round < 20; round++) {
      const slot = await seedSlot(store, { capacity: 1 });
      const trips = await Promise.all(Array.from({ length: 10 }, () => createPendingTrip(store, [[slot, 1]])));

      const results = await Promise.all(trips.map((trip) => confirmTrip(deps(store), confirmationOf(trip))));

      expect(results.filter((result) => result.ok)).toHaveLength(1);
      for (const result of results.filter((r) => !r.ok)) {
        expect(result).toMatchObject({ errorCode: 'INSUFFICIENT_AVAILABILITY', slots: [{ slotId: slot.slotId, requested: 1, available: 0 }] });
      }
      expect((await readSlot(store, slot.slotId))?.availableCount).toBe(0);
      expect(await store.listBookingsOfSlot(slot.slotId)).toHaveLength(1);
      const statuses = await Promise.all(trips.map(async (trip) => (await store.getTrip(trip.tripId))?.status));
      expect(statuses.filter((status) => status === 'booked')).toHaveLength(1);
      expect(statuses.filter((status) => status === 'pending_payment')).toHaveLength(9);
    }
  });

  it('sells a 20-seat slot to exactly 20 of 50 concurrent one-seat trips', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 20 });
    const trips = await Promise.all(Array.from({ length: 50 }, () => createPendingTrip(store, [[slot, 1]])));

    const results = await Promise.all(trips.map((trip) => confirmTrip(deps(store), confirmationOf(trip))));

    expect(results.filter((result) => result.ok)).toHaveLength(20);
    expect(results.filter((result) => !result.ok && result.errorCode === 'INSUFFICIENT_AVAILABILITY')).toHaveLength(30);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(0);
    expect(await store.listBookingsOfSlot(slot.slotId)).toHaveLength(20);
  });

  it('creates one booking set when the same trip is confirmed 10 times concurrently, and answers each with it', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 5 });
    const other = await seedSlot(store, { capacity: 5 });
    const trip = await createPendingTrip(store, [
      [slot, 2],
      [other, 1],
    ]);
    const input = confirmationOf(trip);

    const results = await Promise.all(Array.from({ length: 10 }, () => confirmTrip(deps(store), input)));

    const successes = results.map(expectSuccess);
    expect(successes.filter((result) => !result.replayed)).toHaveLength(1);
    const references = successes[0]!.bookings.map((booking) => booking.reference);
    for (const result of successes) expect(result.bookings.map((booking) => booking.reference)).toEqual(references);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(3);
    expect((await readSlot(store, other.slotId))?.availableCount).toBe(4);
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(2);
  });

  it('replays the existing bookings when a booked trip is confirmed again by the same payment', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 3 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    const input = confirmationOf(trip);
    const first = expectSuccess(await confirmTrip(deps(store), input));

    const again = expectSuccess(await confirmTrip(deps(store), input));

    expect(again.replayed).toBe(true);
    expect(again.bookings).toEqual(first.bookings);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(2);
  });

  it('refuses a second payment for a booked trip with TRIP_NOT_PENDING', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 3 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    expectSuccess(await confirmTrip(deps(store), confirmationOf(trip)));

    const second = await confirmTrip(deps(store), confirmationOf(trip, uniqueId('pi')));

    expect(second).toMatchObject({ ok: false, errorCode: 'TRIP_NOT_PENDING' });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(2);
  });

  it('retries with a new reference when a generated one is already taken', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 4 });
    const first = await createPendingTrip(store, [[slot, 1]]);
    const taken = expectSuccess(await confirmTrip(deps(store), confirmationOf(first))).bookings[0]!.reference;
    const second = await createPendingTrip(store, [[slot, 1]]);
    const references = [taken, 'PL-FRESH234'];
    const ids = { uuid: deps(store).ids.uuid, reference: () => references.shift() ?? 'PL-ANOTHER2' };

    const result = expectSuccess(await confirmTrip({ ...deps(store), ids }, confirmationOf(second)));

    expect(result.bookings[0]?.reference).toBe('PL-FRESH234');
    expect((await store.getBookings([taken]))[0]?.tripId).toBe(first.tripId);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(2);
  });
});
