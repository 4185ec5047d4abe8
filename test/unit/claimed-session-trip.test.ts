// The trip a claimed payment's session was opened for: which of its states a resolution or the last money back moves, to where.
import { describe, expect, it } from 'vitest';
import { claimedSessionTripEnd } from '../../lambdas/shared/domain/issue-refunds';
import type { PaymentRecord, Trip, TripStatus } from '../../lambdas/shared/domain/model';
import { newPaymentRecord, withChargeTotal } from '../../lambdas/shared/domain/payment-ledger';

const AT = '2027-03-01T10:00:00.000Z';

/** pi_B, 90.00, claimed by create-booking for trip A; its session cs_B was opened for trip B. */
const claimed: PaymentRecord = {
  ...newPaymentRecord({ paymentId: 'pi_B', status: 'resolved', tripId: 'trip-A', sessionId: 'cs_B', setAside: false, amountPaid: 9_000, currency: 'eur' }, AT),
  paidForTripId: 'trip-B',
};
const allBack = withChargeTotal(claimed, 9_000);
const partlyBack = withChargeTotal(claimed, 4_500);

const tripB = (status: TripStatus, fields: Partial<Trip> = {}): Trip => ({
  tripId: 'trip-B',
  userId: 'user-B',
  items: [],
  amount: 9_000,
  currency: 'eur',
  status,
  checkoutSessionId: 'cs_B',
  bookingReferences: [],
  createdAt: AT,
  updatedAt: AT,
  ...fields,
});

describe('claimedSessionTripEnd', () => {
  it.each([
    ['pending_payment', true],
    ['awaiting_payment', true],
  ] as const)('ends a %s trip B on resolution: refunded with all of the money back, cancelled with some kept', (status, resolving) => {
    expect(claimedSessionTripEnd(allBack, tripB(status), resolving)).toMatchObject({
      tripId: 'trip-B',
      from: [status],
      to: 'refunded',
      statusReason: 'paid_for_another_trip',
      recordedSessionNoneOr: 'cs_B',
    });
    expect(claimedSessionTripEnd(partlyBack, tripB(status), resolving)).toMatchObject({ from: [status], to: 'cancelled' });
    expect(claimedSessionTripEnd(claimed, tripB(status), resolving)).toMatchObject({ to: 'cancelled' });
  });

  it('leaves a waiting trip B to the resolution: the money coming back alone does not end it', () => {
    expect(claimedSessionTripEnd(allBack, tripB('pending_payment'), false)).toBeUndefined();
  });

  it('moves a trip B a resolution cancelled with money kept on to refunded once all of it is back, on resolution or not', () => {
    const cancelled = tripB('cancelled', { statusReason: 'paid_for_another_trip' });
    expect(claimedSessionTripEnd(allBack, cancelled, false)).toMatchObject({ from: ['cancelled'], to: 'refunded' });
    expect(claimedSessionTripEnd(allBack, cancelled, true)).toMatchObject({ from: ['cancelled'], to: 'refunded' });
    expect(claimedSessionTripEnd(partlyBack, cancelled, true)).toBeUndefined();
  });

  it('leaves a trip B so cancelled while the payment is back in front of a person: the next resolution decides', () => {
    const cancelled = tripB('cancelled', { statusReason: 'paid_for_another_trip' });
    expect(claimedSessionTripEnd({ ...allBack, status: 'needs_attention' }, cancelled, false)).toBeUndefined();
    expect(claimedSessionTripEnd({ ...allBack, status: 'needs_attention' }, cancelled, true)).toMatchObject({ to: 'refunded' });
  });

  it.each([
    ['booked by another payment since', tripB('booked', { paymentId: 'pi_other' })],
    ['on another session', tripB('pending_payment', { checkoutSessionId: 'cs_other' })],
    ['cancelled for another reason', tripB('cancelled', { statusReason: 'all_bookings_cancelled' })],
    ['refunded already', tripB('refunded', { statusReason: 'paid_for_another_trip' })],
    ['expired', tripB('expired')],
    ['another trip', tripB('pending_payment', { tripId: 'trip-C' })],
  ])('leaves trip B %s as it is', (_, trip) => {
    expect(claimedSessionTripEnd(allBack, trip, true)).toBeUndefined();
  });

  it('moves nothing for a payment that is not claimed, or with no trip read', () => {
    const { paidForTripId: _, ...ordinary } = allBack;
    expect(claimedSessionTripEnd(ordinary, tripB('pending_payment'), true)).toBeUndefined();
    expect(claimedSessionTripEnd({ ...allBack, paidForTripId: 'trip-A' }, tripB('pending_payment', { tripId: 'trip-A' }), true)).toBeUndefined();
    expect(claimedSessionTripEnd(allBack, undefined, true)).toBeUndefined();
  });
});
