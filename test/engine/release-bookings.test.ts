// releaseBookings and adjustAvailability on DynamoDB Local: seats come back exactly once and never above capacity.
import { describe, expect, it } from 'vitest';
import { confirmTrip, type ConfirmTripSuccess } from '../../lambdas/shared/domain/confirm-trip';
import { adjustAvailability } from '../../lambdas/shared/domain/operations';
import { releaseBookings } from '../../lambdas/shared/domain/release-bookings';
import type { Slot } from '../../lambdas/shared/domain/model';
import { deleteSlot, deps, overwriteSlot, readSlot, seedSlot, testStore, type TestStore } from '../support/store';
import { confirmationOf, createPendingTrip } from '../support/trips';

const byOperator = { reason: 'customer asked', actorType: 'operator' as const, actorId: 'ops@example.com' };

async function bookedTrip(store: TestStore, parts: [Slot, number][]) {
  const pending = await createPendingTrip(store, parts);
  const result = await confirmTrip(deps(store), confirmationOf(pending));
  if (!result.ok) expect.fail(result.message);
  // The booked trip, as a caller of releaseBookings reads it.
  const trip = await store.getTrip(pending.tripId);
  if (!trip) expect.fail('the booked trip was not found');
  return { trip, bookings: (result as ConfirmTripSuccess).bookings };
}

describe('releaseBookings', () => {
  it('cancels every booking of a trip, gives the seats back and audits each cancellation with its reason', async () => {
    const store = testStore();
    const a = await seedSlot(store, { capacity: 5 });
    const b = await seedSlot(store, { capacity: 5 });
    const { trip, bookings } = await bookedTrip(store, [
      [a, 2],
      [b, 3],
      [a, 1],
    ]);

    const result = await releaseBookings(deps(store), { trip }, byOperator);

    expect(result).toMatchObject({ ok: true, alreadyReleased: [] });
    expect(result.ok && result.released.map((released) => released.reference).sort()).toEqual(bookings.map((b) => b.reference).sort());
    expect((await readSlot(store, a.slotId))?.availableCount).toBe(5);
    expect((await readSlot(store, b.slotId))?.availableCount).toBe(5);
    for (const booking of await store.listBookingsOfTrip(trip.tripId)) {
      expect(booking).toMatchObject({ status: 'cancelled', cancellationReason: 'customer asked' });
      const audit = await store.listAudit('booking', booking.reference);
      expect(audit.map((entry) => entry.eventType)).toEqual(['booking.confirmed', 'booking.cancelled']);
      expect(audit[1]).toMatchObject({
        actorType: 'operator',
        actorId: 'ops@example.com',
        metadata: { reason: 'customer asked', guestCount: booking.guestCount },
      });
    }
  });

  it('gives seats back once when the same trip is released twice', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 6 });
    const { trip, bookings } = await bookedTrip(store, [[slot, 4]]);
    await releaseBookings(deps(store), { trip }, byOperator);

    const again = await releaseBookings(deps(store), { trip }, byOperator);

    expect(again).toEqual({ ok: true, released: [], alreadyReleased: [bookings[0]!.reference] });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(6);
    expect(await store.listAudit('booking', bookings[0]!.reference)).toHaveLength(2);
  });

  it('gives seats back once when 8 releases of the same trip race', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 9 });
    const { trip } = await bookedTrip(store, [[slot, 3]]);
    await bookedTrip(store, [[slot, 2]]);

    const results = await Promise.all(Array.from({ length: 8 }, () => releaseBookings(deps(store), { trip }, byOperator)));

    expect(results.filter((result) => result.ok && result.released.length === 1)).toHaveLength(1);
    expect(results.every((result) => result.ok)).toBe(true);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(7);
  });

  it('releases one booking by reference and leaves the trip’s other bookings confirmed', async () => {
    const store = testStore();
    const a = await seedSlot(store, { capacity: 4 });
    const b = await seedSlot(store, { capacity: 4 });
    const { bookings } = await bookedTrip(store, [
      [a, 1],
      [b, 2],
    ]);

    const result = await releaseBookings(deps(store), { reference: bookings[1]!.reference }, byOperator);

    expect(result).toMatchObject({ ok: true, released: [{ reference: bookings[1]!.reference, slotId: b.slotId, guestCount: 2 }] });
    expect((await readSlot(store, a.slotId))?.availableCount).toBe(3);
    expect((await readSlot(store, b.slotId))?.availableCount).toBe(4);
    expect((await store.getBookings([bookings[0]!.reference]))[0]?.status).toBe('confirmed');
  });

  it('lets a released seat be booked again, and never lets availability exceed capacity', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 1 });
    const first = await bookedTrip(store, [[slot, 1]]);
    await releaseBookings(deps(store), { trip: first.trip }, byOperator);

    const second = await bookedTrip(store, [[slot, 1]]);
    expect(second.bookings).toHaveLength(1);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(0);

    await releaseBookings(deps(store), { trip: second.trip }, byOperator);
    await releaseBookings(deps(store), { trip: first.trip }, byOperator);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(1);
  });

  it('caps the give-back at capacity when availability has drifted upward', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 4 });
    const { trip } = await bookedTrip(store, [[slot, 3]]);
    await overwriteSlot({ ...slot, availableCount: 3 }); // drift: only 1 seat of room left

    const result = await releaseBookings(deps(store), { trip }, byOperator);

    expect(result).toMatchObject({ ok: true });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
    expect((await store.listBookingsOfTrip(trip.tripId))[0]?.status).toBe('cancelled');
  });

  it('answers BOOKING_NOT_FOUND for an unknown reference', async () => {
    const store = testStore();
    expect(await releaseBookings(deps(store), { reference: 'PL-NOPE2345' }, byOperator)).toMatchObject({ ok: false, errorCode: 'BOOKING_NOT_FOUND' });
  });
});

describe('adjustAvailability', () => {
  it('takes seats for an operator and audits it', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 5 });

    const result = await adjustAvailability(deps(store), { slotId: slot.slotId, delta: -2, reason: 'guide ill', actorId: 'ops' });

    expect(result).toEqual({ ok: true, slotId: slot.slotId, applied: 2 });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(3);
    expect(await store.listAudit('slot', slot.slotId)).toMatchObject([
      { eventType: 'slot.availability_adjusted', actorType: 'operator', actorId: 'ops', metadata: { delta: -2, reason: 'guide ill' } },
    ]);
  });

  it.each([
    {
      name: 'more seats than are left',
      seed: { capacity: 2 },
      delta: -3,
      expected: { errorCode: 'INSUFFICIENT_AVAILABILITY', slots: [{ requested: 3, available: 2 }] },
    },
    { name: 'seats of a blocked slot', seed: { capacity: 2, isBlocked: true }, delta: -1, expected: { errorCode: 'SLOT_BLOCKED' } },
  ])('refuses to take $name with the engine’s code, changing nothing', async ({ seed, delta, expected }) => {
    const store = testStore();
    const slot = await seedSlot(store, seed);

    const result = await adjustAvailability(deps(store), { slotId: slot.slotId, delta, reason: 'test' });

    expect(result).toMatchObject({ ok: false, ...expected });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(slot.availableCount);
    expect(await store.listAudit('slot', slot.slotId)).toEqual([]);
  });

  it.each([-1, 1])('answers SLOT_NOT_FOUND for a missing slot (delta %i)', async (delta) => {
    const store = testStore();
    const slot = await seedSlot(store);
    await deleteSlot(slot.slotId);
    expect(await adjustAvailability(deps(store), { slotId: slot.slotId, delta, reason: 'test' })).toMatchObject({ ok: false, errorCode: 'SLOT_NOT_FOUND' });
  });

  it('releases seats but never above capacity', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 5, availableCount: 3 });

    expect(await adjustAvailability(deps(store), { slotId: slot.slotId, delta: 4, reason: 'test' })).toEqual({ ok: true, slotId: slot.slotId, applied: 2 });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(5);
    expect(await adjustAvailability(deps(store), { slotId: slot.slotId, delta: 1, reason: 'test' })).toEqual({ ok: true, slotId: slot.slotId, applied: 0 });
  });

  it.each([0, 1.5])('refuses a delta of %s with VALIDATION_FAILED', async (delta) => {
    const store = testStore();
    const slot = await seedSlot(store);
    expect(await adjustAvailability(deps(store), { slotId: slot.slotId, delta, reason: 'test' })).toMatchObject({
      errorCode: 'VALIDATION_FAILED',
      field: 'delta',
    });
  });
});
