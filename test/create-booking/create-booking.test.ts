// The direct create-booking function keeps the original design's interface, over the same confirmation core.
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import { deps, readSlot, seedSlot, testStore, uniqueId } from '../support/store';
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
    await store.putSlot({ ...slot, availableCount: 1 });

    expect(await invoke(body)).toEqual({
      success: false,
      errorCode: 'INSUFFICIENT_AVAILABILITY',
      error: expect.stringContaining('only 1 of the 2'),
      slots: [{ slotId: slot.slotId, code: 'INSUFFICIENT_AVAILABILITY', requested: 2, available: 1 }],
    });
  });

  it.each([
    { name: 'items under the wrong name', change: ({ tripItems, ...rest }: Record<string, unknown>) => ({ ...rest, items: tripItems }), text: 'tripItems is required' },
    { name: 'a zero guest count', change: (body: Record<string, unknown>) => ({ ...body, tripItems: [{ ...(body.tripItems as object[])[0], guestCount: 0 }] }), text: 'tripItems.0.guestCount' },
    { name: 'no body at all', change: () => null, text: '(input)' },
  ])('returns VALIDATION_FAILED for $name, writing nothing', async ({ change, text }) => {
    const { store, invoke } = invoker();
    const { slot, trip, body } = await request(store);

    const response = await invoke(change(body));

    expect(response).toMatchObject({ success: false, errorCode: 'VALIDATION_FAILED', error: expect.stringContaining(text) });
    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
  });
});
