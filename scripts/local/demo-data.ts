// Demo inventory for the local stack: a few Bali experiences, slots of varied capacity, one blocked, one nearly sold out.
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { confirmTrip } from '../../lambdas/shared/domain/confirm-trip';
import { createTrip } from '../../lambdas/shared/domain/create-trip';
import { addSlot, setSlotBlocked } from '../../lambdas/shared/domain/operations';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';

export const DEMO_SLOTS = {
  riceTerraces: {
    slotId: 'slot-ubud-rice-terraces-0900',
    experienceId: 'exp-ubud-rice-terraces',
    date: '2027-06-01',
    time: '09:00',
    capacity: 20,
    priceAmount: 3_500,
    currency: 'eur',
  },
  baturSunrise: {
    slotId: 'slot-batur-sunrise-0400',
    experienceId: 'exp-batur-sunrise',
    date: '2027-06-02',
    time: '04:00',
    capacity: 12,
    priceAmount: 6_500,
    currency: 'eur',
  },
  baturSunriseClosed: {
    slotId: 'slot-batur-sunrise-closed-0400',
    experienceId: 'exp-batur-sunrise',
    date: '2027-06-03',
    time: '04:00',
    capacity: 12,
    priceAmount: 6_500,
    currency: 'eur',
  },
  nusaSnorkel: {
    slotId: 'slot-nusa-penida-snorkel-0800',
    experienceId: 'exp-nusa-penida-snorkel',
    date: '2027-06-02',
    time: '08:00',
    capacity: 8,
    priceAmount: 8_000,
    currency: 'eur',
  },
} as const;

/** Seats already sold on the snorkel slot by the seed, so one seat is left for the demo's race. */
const SNORKEL_SEATS_SOLD = 7;

/** Creates what is missing; a slot that exists (data kept from an earlier run) is left as it is. Returns the slots created. */
export async function seedDemoData(store: BookingStore): Promise<string[]> {
  const deps = { store, clock: systemClock, ids: randomIds };
  const created: string[] = [];
  for (const slot of Object.values(DEMO_SLOTS)) {
    const result = await addSlot(deps, slot, 'demo-seed');
    if (result.ok) created.push(slot.slotId);
  }
  if (created.includes(DEMO_SLOTS.baturSunriseClosed.slotId)) await setSlotBlocked(deps, DEMO_SLOTS.baturSunriseClosed.slotId, true, 'demo-seed');
  if (created.includes(DEMO_SLOTS.nusaSnorkel.slotId)) {
    // Real bookings, so the consistency check agrees that only one seat is left.
    const { experienceId, slotId } = DEMO_SLOTS.nusaSnorkel;
    const trip = await createTrip(deps, { userId: 'user-demo-group', items: [{ experienceId, slotId, guestCount: SNORKEL_SEATS_SOLD }] });
    if (!trip.ok) throw new Error(`Seeding the demo failed: ${trip.message}`);
    const booked = await confirmTrip(deps, { trip: trip.trip, paymentId: 'pay-demo-seed' });
    if (!booked.ok) throw new Error(`Seeding the demo failed: ${booked.message}`);
  }
  return created;
}
