// A trip's items in a Checkout Session's metadata: within Stripe's limits for the largest trip, read back exactly, never guessed at.
import { describe, expect, it } from 'vitest';
import type { CheckoutTrip } from '../../lambdas/shared/domain/model';
import { MAX_TRIP_ITEMS } from '../../lambdas/shared/domain/trip-input';
import { checkoutTripOf, TRIP_ITEMS_METADATA_PREFIX, tripItemsMetadata } from '../../lambdas/shared/stripe/trip-metadata';

const longId = (prefix: string, index: number) => `${prefix}${index}`.padEnd(128, 'x');

const largest: CheckoutTrip = {
  items: Array.from({ length: MAX_TRIP_ITEMS }, (_, index) => ({
    slotId: longId('slot-', index),
    experienceId: longId('exp-', index),
    guestCount: 50,
    date: '2027-12-31',
    time: '23:59',
  })),
  itemAmounts: Array.from({ length: MAX_TRIP_ITEMS }, () => 999_999_999_999),
};

describe('trip items in session metadata', () => {
  it("fits the largest trip, with the longest ids, in Stripe's limits (50 keys with ours, 40-character keys, 500-character values)", () => {
    const metadata = tripItemsMetadata(largest);
    const keys = Object.keys(metadata);

    expect(keys.length + 2).toBeLessThanOrEqual(50);
    expect(keys.every((key) => key.length <= 40)).toBe(true);
    expect(Object.values(metadata).every((value) => value.length <= 500)).toBe(true);
    expect(checkoutTripOf({ pulau_trip_id: 'trip-1', userId: 'u', ...metadata })).toEqual(largest);
  });

  it('reads back items and amounts in their order', () => {
    const trip: CheckoutTrip = {
      items: [
        { slotId: 'b', experienceId: 'e2', guestCount: 1, date: '2027-01-02', time: '10:00' },
        { slotId: 'a', experienceId: 'e1', guestCount: 3, date: '2027-01-01', time: '09:00' },
      ],
      itemAmounts: [1_000, 0],
    };
    expect(checkoutTripOf(tripItemsMetadata(trip))).toEqual(trip);
  });

  it.each([
    { name: 'no metadata', metadata: null },
    { name: 'no items', metadata: { pulau_trip_id: 'trip-1' } },
    { name: 'a chunk missing', metadata: { [`${TRIP_ITEMS_METADATA_PREFIX}1`]: '[]' } },
    { name: 'text that is not JSON', metadata: { [`${TRIP_ITEMS_METADATA_PREFIX}0`]: '[["a"' } },
    { name: 'an empty list', metadata: { [`${TRIP_ITEMS_METADATA_PREFIX}0`]: '[]' } },
    { name: 'an unsafe id', metadata: { [`${TRIP_ITEMS_METADATA_PREFIX}0`]: '[["SLOT#1","e",1,"2027-01-01","10:00",5]]' } },
    { name: 'a guest count of 0', metadata: { [`${TRIP_ITEMS_METADATA_PREFIX}0`]: '[["s","e",0,"2027-01-01","10:00",5]]' } },
    { name: 'a negative amount', metadata: { [`${TRIP_ITEMS_METADATA_PREFIX}0`]: '[["s","e",1,"2027-01-01","10:00",-5]]' } },
    { name: 'an impossible date', metadata: { [`${TRIP_ITEMS_METADATA_PREFIX}0`]: '[["s","e",1,"2027-02-30","10:00",5]]' } },
  ])('reads none from $name, so the trip is read instead', ({ metadata }) => {
    expect(checkoutTripOf(metadata)).toBeUndefined();
  });

  it('writes none for a trip whose prices per item are not known', () => {
    expect(tripItemsMetadata({ items: largest.items, itemAmounts: [] })).toEqual({});
  });
});
