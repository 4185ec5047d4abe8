// The direct create-booking function keeps the original design's interface, over the same confirmation core.
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import { MAX_GUESTS_PER_ITEM, MAX_TRIP_ITEMS } from '../../lambdas/shared/domain/trip-input';
import { deps, overwriteSlot, readSlot, seedSlot, testStore, uniqueId } from '../support/store';
import { createPendingTrip } from '../support/trips';

function invoker() {
  const store = testStore();
  return { store, invoke: createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) }) };
}

async function request(store: ReturnType<typeof testStore>, capacity = 4, guests = 2) {
  const slot = await seedSlot(store, { capacity });
  const trip = await createPendingTrip(store, [[slot, guests]]);
  return {
    slot,
    trip,
    body: { paymentId: uniqueId('pay'), tripId: trip.tripId, userId: trip.userId, tripItems: trip.items.map((item) => ({ ...item })) },
  };
}

describe('create-booking', () => {
  it('returns { success, bookings: [{ id, reference, experienceId, status }] } and books the trip', async () => {
    const { store, invoke } = invoker();
    const { slot, trip, body } = await request(store);

    const response = await invoke(body);

    expect(response).toEqual({
      success: true,
      bookings: [{ id: expect.any(String), reference: expect.stringMatching(/^PL-/), experienceId: slot.experienceId, status: 'confirmed' }],
    });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(2);
    expect((await store.getTrip(trip.tripId))?.status).toBe('booked');
  });

  it('returns the same bookings when invoked again for the same payment', async () => {
    const { store, invoke } = invoker();
    const { slot, body } = await request(store);
    const first = await invoke(body);
    expect(await invoke(body)).toEqual(first);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(2);
  });

  it('returns INSUFFICIENT_AVAILABILITY with the counts when the slot is short', async () => {
    const { store, invoke } = invoker();
    const { slot, body } = await request(store);
    await overwriteSlot({ ...slot, availableCount: 1 });

    expect(await invoke(body)).toEqual({
      success: false,
      errorCode: 'INSUFFICIENT_AVAILABILITY',
      error: expect.stringContaining('only 1 of the 2'),
      slots: [{ slotId: slot.slotId, code: 'INSUFFICIENT_AVAILABILITY', requested: 2, available: 1 }],
    });
  });

  it.each([
    {
      name: 'items under the wrong name',
      change: ({ tripItems, ...rest }: Record<string, unknown>) => ({ ...rest, items: tripItems }),
      text: 'tripItems is required',
    },
    {
      name: 'a zero guest count',
      change: (body: Record<string, unknown>) => ({ ...body, tripItems: [{ ...(body.tripItems as object[])[0], guestCount: 0 }] }),
      text: 'tripItems.0.guestCount',
    },
    { name: 'no body at all', change: () => null, text: '(input)' },
  ])('returns VALIDATION_FAILED for $name, writing nothing', async ({ change, text }) => {
    const { store, invoke } = invoker();
    const { slot, trip, body } = await request(store);

    const response = await invoke(change(body));

    expect(response).toMatchObject({ success: false, errorCode: 'VALIDATION_FAILED', error: expect.stringContaining(text) });
    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
  });

  it(`refuses a trip of ${MAX_TRIP_ITEMS + 1} items with TRIP_TOO_LARGE naming the maximum, without touching the table`, async () => {
    const { store, invoke } = invoker();
    const slots = await Promise.all(Array.from({ length: MAX_TRIP_ITEMS + 1 }, () => seedSlot(store)));
    const tripId = uniqueId('trip');
    const tripItems = slots.map((slot) => ({ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: 1, date: slot.date, time: slot.time }));

    const response = await invoke({ paymentId: uniqueId('pi'), tripId, userId: uniqueId('user'), tripItems });

    expect(response).toMatchObject({ success: false, errorCode: 'TRIP_TOO_LARGE', error: expect.stringContaining(`at most ${MAX_TRIP_ITEMS} items`) });
    expect(await store.getTrip(tripId)).toBeUndefined();
    expect([...(await store.getSlots(slots.map((slot) => slot.slotId))).values()].every((slot) => slot.availableCount === slot.capacity)).toBe(true);
  });

  it.each([
    { name: 'another user', change: (body: Body) => ({ ...body, userId: uniqueId('user') }) },
    {
      name: 'other guest counts',
      change: (body: Body) => ({ ...body, tripItems: body.tripItems.map((item) => ({ ...item, guestCount: item.guestCount + 1 })) }),
    },
  ])('refuses a request that names $name than the stored trip with TRIP_MISMATCH, writing nothing', async ({ change }) => {
    const { store, invoke } = invoker();
    const { slot, trip, body } = await request(store);

    expect(await invoke(change(body))).toMatchObject({ success: false, errorCode: 'TRIP_MISMATCH' });

    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
  });

  it('answers TRIP_NOT_FOUND for a trip that was never created', async () => {
    const { store, invoke } = invoker();
    const { slot, body } = await request(store);

    expect(await invoke({ ...body, tripId: uniqueId('trip') })).toMatchObject({ success: false, errorCode: 'TRIP_NOT_FOUND' });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
  });

  describe('refuses malformed input with VALIDATION_FAILED naming the field, writing nothing', () => {
    const cases: { name: string; field: string; change: (body: Body) => unknown }[] = [
      { name: 'zero guests', field: 'tripItems.0.guestCount', change: (b) => withGuests(b, 0) },
      { name: 'negative guests', field: 'tripItems.0.guestCount', change: (b) => withGuests(b, -2) },
      { name: 'fractional guests', field: 'tripItems.0.guestCount', change: (b) => withGuests(b, 1.5) },
      { name: 'guests as a string', field: 'tripItems.0.guestCount', change: (b) => withGuests(b, '2') },
      { name: 'a huge guest count', field: 'tripItems.0.guestCount', change: (b) => withGuests(b, MAX_GUESTS_PER_ITEM + 1) },
      { name: 'a malformed slot id', field: 'tripItems.0.slotId', change: (b) => withItem(b, { slotId: 'SLOT#1; drop' }) },
      { name: 'an impossible date', field: 'tripItems.0.date', change: (b) => withItem(b, { date: '2027-02-30' }) },
      { name: 'a badly written date', field: 'tripItems.0.date', change: (b) => withItem(b, { date: '14/03/2027' }) },
      { name: 'a time out of range', field: 'tripItems.0.time', change: (b) => withItem(b, { time: '24:10' }) },
      { name: 'an empty item list', field: 'tripItems', change: (b) => ({ ...b, tripItems: [] }) },
      { name: 'an unknown field', field: 'discount', change: (b) => ({ ...b, discount: 100 }) },
      { name: 'a missing payment id', field: 'paymentId', change: ({ paymentId: _omit, ...rest }) => rest },
    ];
    it.each(cases)('$name', async ({ field, change }) => {
      const { store, invoke } = invoker();
      const { slot, trip, body } = await request(store);

      const response = await invoke(change(body));

      expect(response).toMatchObject({ success: false, errorCode: 'VALIDATION_FAILED', error: expect.stringContaining(field) });
      expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
      expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
    });
  });
});

type Body = Awaited<ReturnType<typeof request>>['body'];

function withItem(body: Body, change: Record<string, unknown>) {
  return { ...body, tripItems: body.tripItems.map((item, index) => (index === 0 ? { ...item, ...change } : item)) };
}

function withGuests(body: Body, guestCount: unknown) {
  return withItem(body, { guestCount });
}
