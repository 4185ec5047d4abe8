// Trip limits and input parsing: pure rules, no table.
import { describe, expect, it } from 'vitest';
import {
  checkTripSize,
  countConfirmationWrites,
  MAX_TRANSACTION_ITEMS,
  MAX_TRIP_ITEMS,
  parseInput,
} from '../../lambdas/shared/domain/trip-input';
import { createBookingRequestSchema } from '../../lambdas/create-booking/create-booking-handler';

const items = (count: number, slots = count) => Array.from({ length: count }, (_, i) => ({ slotId: `s${i % slots}` }));

describe('trip size', () => {
  it('counts a slot update per distinct slot, a booking and an audit entry per item, the trip, the event record, the payment record and the hold', () => {
    expect(countConfirmationWrites(items(3))).toBe(3 + 6 + 4);
    expect(countConfirmationWrites(items(4, 1))).toBe(1 + 8 + 4);
  });

  it(`allows ${MAX_TRIP_ITEMS} items on distinct slots, the most that fit in ${MAX_TRANSACTION_ITEMS} transaction items`, () => {
    expect(countConfirmationWrites(items(MAX_TRIP_ITEMS))).toBeLessThanOrEqual(MAX_TRANSACTION_ITEMS);
    expect(countConfirmationWrites(items(MAX_TRIP_ITEMS + 1))).toBeGreaterThan(MAX_TRANSACTION_ITEMS);
    expect(checkTripSize(items(MAX_TRIP_ITEMS))).toBeUndefined();
    expect(checkTripSize(items(MAX_TRIP_ITEMS + 1))).toMatchObject({ errorCode: 'TRIP_TOO_LARGE' });
  });
});

describe('parseInput', () => {
  const valid = {
    paymentId: 'pi_123',
    tripId: 'trip-1',
    userId: 'user-1',
    tripItems: [{ experienceId: 'exp-1', slotId: 'slot-1', guestCount: 2, date: '2028-02-29', time: '23:59' }],
  };

  it('accepts a well-formed create-booking request, leap day included', () => {
    expect(parseInput(createBookingRequestSchema, valid)).toEqual({ ok: true, value: valid });
  });

  it('names a nested unknown field', () => {
    const input = { ...valid, tripItems: [{ ...valid.tripItems[0], price: 1 }] };
    expect(parseInput(createBookingRequestSchema, input)).toMatchObject({ errorCode: 'VALIDATION_FAILED', field: 'tripItems.0.price' });
  });

  it.each([null, 'trip', 42, []])('refuses %j as a whole', (input) => {
    expect(parseInput(createBookingRequestSchema, input)).toMatchObject({ errorCode: 'VALIDATION_FAILED', field: '(input)' });
  });
});
