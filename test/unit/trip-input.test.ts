// Trip limits and input parsing: pure rules, no table.
import { describe, expect, it } from 'vitest';
import { checkTripSize, MAX_TRIP_ITEMS, parseInput } from '../../lambdas/shared/domain/trip-input';
import { createBookingRequestSchema } from '../../lambdas/create-booking/create-booking-handler';

describe('trip size', () => {
  it(`refuses a trip of more than ${MAX_TRIP_ITEMS} items with TRIP_TOO_LARGE`, () => {
    expect(checkTripSize(Array.from({ length: MAX_TRIP_ITEMS }))).toBeUndefined();
    expect(checkTripSize(Array.from({ length: MAX_TRIP_ITEMS + 1 }))).toMatchObject({ errorCode: 'TRIP_TOO_LARGE' });
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
