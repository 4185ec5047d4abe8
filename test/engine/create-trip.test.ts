// createTrip on DynamoDB Local: priced from the slots, refused before payment when it could not be booked.
import { describe, expect, it } from 'vitest';
import { attachCheckoutSession, createTrip } from '../../lambdas/shared/domain/create-trip';
import { MAX_GUESTS_PER_ITEM, MAX_TRIP_ITEMS } from '../../lambdas/shared/domain/trip-input';
import { deleteSlot, deps, readSlot, seedSlot, testStore, uniqueId } from '../support/store';

describe('createTrip', () => {
  it('stores a pending trip priced from its slots, with date and time taken from the slots', async () => {
    const store = testStore();
    const a = await seedSlot(store, { priceAmount: 4_500, date: '2027-05-01', time: '07:00' });
    const b = await seedSlot(store, { priceAmount: 12_000 });
    const userId = uniqueId('user');

    const result = await createTrip(deps(store), {
      userId,
      items: [
        { experienceId: a.experienceId, slotId: a.slotId, guestCount: 2 },
        { experienceId: b.experienceId, slotId: b.slotId, guestCount: 1, date: b.date, time: b.time },
      ],
    });

    expect(result).toMatchObject({ ok: true, trip: { userId, amount: 21_000, currency: 'eur', status: 'pending_payment', bookingReferences: [] } });
    if (!result.ok) return;
    expect(result.trip.items[0]).toEqual({ experienceId: a.experienceId, slotId: a.slotId, guestCount: 2, date: '2027-05-01', time: '07:00' });
    expect(await store.getTrip(result.trip.tripId)).toEqual(result.trip);
  });

  it.each([
    { name: 'a blocked slot', seed: { isBlocked: true }, guests: 1, code: 'SLOT_BLOCKED' },
    { name: 'a slot without the seats', seed: { capacity: 2 }, guests: 3, code: 'INSUFFICIENT_AVAILABILITY' },
  ])('refuses $name with $code and stores nothing', async ({ seed, guests, code }) => {
    const store = testStore();
    const slot = await seedSlot(store, seed);
    const tripId = uniqueId('trip');

    const result = await createTrip(deps(store), {
      tripId,
      userId: uniqueId('user'),
      items: [{ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: guests }],
    });

    expect(result).toMatchObject({ ok: false, errorCode: code, slots: [{ slotId: slot.slotId }] });
    expect(await store.getTrip(tripId)).toBeUndefined();
  });

  it('refuses a missing slot, and a slot named under the wrong experience, with SLOT_NOT_FOUND', async () => {
    const store = testStore();
    const gone = await seedSlot(store);
    await deleteSlot(gone.slotId);
    const other = await seedSlot(store);

    for (const item of [
      { experienceId: gone.experienceId, slotId: gone.slotId, guestCount: 1 },
      { experienceId: uniqueId('exp'), slotId: other.slotId, guestCount: 1 },
    ]) {
      expect(await createTrip(deps(store), { userId: uniqueId('user'), items: [item] })).toMatchObject({ ok: false, errorCode: 'SLOT_NOT_FOUND' });
    }
  });

  it('refuses a date that is not the slot’s with VALIDATION_FAILED naming the field', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { date: '2027-01-02' });
    const result = await createTrip(deps(store), {
      userId: uniqueId('user'),
      items: [{ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: 1, date: '2027-01-03' }],
    });
    expect(result).toMatchObject({ ok: false, errorCode: 'VALIDATION_FAILED', field: 'items.0.date' });
  });

  it(`refuses more than ${MAX_GUESTS_PER_ITEM} guests on one slot split over items, and takes the same slot twice within it`, async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 200 });
    const item = (guestCount: number) => ({ experienceId: slot.experienceId, slotId: slot.slotId, guestCount });

    const split = await createTrip(deps(store), { userId: uniqueId('user'), items: [item(MAX_GUESTS_PER_ITEM), item(1)] });
    const within = await createTrip(deps(store), { userId: uniqueId('user'), items: [item(MAX_GUESTS_PER_ITEM - 1), item(1)] });

    expect(split).toMatchObject({
      ok: false,
      errorCode: 'VALIDATION_FAILED',
      field: 'items',
      message: expect.stringContaining('items on the same slot add up'),
    });
    expect(within).toMatchObject({ ok: true, trip: { items: [{ guestCount: MAX_GUESTS_PER_ITEM - 1 }, { guestCount: 1 }] } });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(200);
  });

  it('refuses slots priced in different currencies', async () => {
    const store = testStore();
    const eur = await seedSlot(store, { currency: 'eur' });
    const usd = await seedSlot(store, { currency: 'usd' });
    const result = await createTrip(deps(store), {
      userId: uniqueId('user'),
      items: [eur, usd].map((slot) => ({ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: 1 })),
    });
    expect(result).toMatchObject({ ok: false, errorCode: 'VALIDATION_FAILED', field: 'items' });
  });

  it(`refuses more than ${MAX_TRIP_ITEMS} items with TRIP_TOO_LARGE before reading a slot`, async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 50 });
    const items = Array.from({ length: MAX_TRIP_ITEMS + 1 }, () => ({ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: 1 }));
    expect(await createTrip(deps(store), { userId: uniqueId('user'), items })).toMatchObject({ ok: false, errorCode: 'TRIP_TOO_LARGE' });
  });

  it('refuses a trip id that is taken', async () => {
    const store = testStore();
    const slot = await seedSlot(store);
    const input = { tripId: uniqueId('trip'), userId: uniqueId('user'), items: [{ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: 1 }] };
    expect(await createTrip(deps(store), input)).toMatchObject({ ok: true });
    expect(await createTrip(deps(store), { ...input, userId: uniqueId('user') })).toMatchObject({ ok: false, errorCode: 'VALIDATION_FAILED', field: 'tripId' });
  });

  it('records the checkout session of a pending trip, and refuses it once the trip has moved on', async () => {
    const store = testStore();
    const slot = await seedSlot(store);
    const created = await createTrip(deps(store), {
      userId: uniqueId('user'),
      items: [{ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: 1 }],
    });
    if (!created.ok) expect.fail(created.message);

    expect(await attachCheckoutSession(deps(store), created.trip.tripId, 'cs_test_123')).toEqual({ ok: true });
    expect((await store.getTrip(created.trip.tripId))?.checkoutSessionId).toBe('cs_test_123');
    expect(await attachCheckoutSession(deps(store), uniqueId('trip'), 'cs_test_456')).toMatchObject({ ok: false, errorCode: 'TRIP_NOT_FOUND' });
  });
});
