// Operator command on trips: one trip with its items and bookings.
import { CONFIRMABLE_TRIP_STATUSES, seatsHeldUntil } from '../../../lambdas/shared/domain/model';
import { defineShowCommand, type OpsCommand } from '../command';
import { money } from '../printing';
import { BOOKING_COLUMNS, bookingRow } from './bookings';

const show = defineShowCommand({
  name: 'trips show',
  target: { synopsis: 'TRIP_ID', needs: 'a trip id' },
  summary: 'the trip’s fields and its bookings',
  notFound: (tripId) => ({ errorCode: 'TRIP_NOT_FOUND', message: `Trip ${tripId} does not exist.` }),
  async load({ store }, tripId) {
    const trip = await store.getTrip(tripId);
    return trip && { trip, bookings: await store.listBookingsOfTrip(tripId) };
  },
  printText({ out, printFields, printTable, deps }, { trip, bookings }) {
    const fields: [string, unknown][] = [
      ['tripId', trip.tripId],
      ['status', trip.status],
      ['statusReason', trip.statusReason],
      ['userId', trip.userId],
      ['amount', money(trip.amount, trip.currency)],
      ['paymentId', trip.paymentId],
      ['refundId', trip.refundId],
      ['checkoutSessionId', trip.checkoutSessionId],
      ['holdExpiresAt', seatsHeldUntil(trip, deps.clock.now())],
      ['createdAt', trip.createdAt],
      ['updatedAt', trip.updatedAt],
    ];
    printFields(fields.filter(([, value]) => value !== undefined));
    // What was asked for, booked or not yet: the bookings exist only once the payment confirmed the trip.
    out('');
    printTable(
      trip.items.map((item, index) => ({
        ...item,
        amount: trip.itemAmounts?.[index] === undefined ? '' : money(trip.itemAmounts[index], trip.currency),
      })),
      ['slotId', 'experienceId', 'date', 'time', 'guestCount', 'amount'],
    );
    out('');
    // A trip still waiting for its payment may yet be booked; one that ended without (refunded, expired…) never will.
    if (bookings.length === 0) out(CONFIRMABLE_TRIP_STATUSES.includes(trip.status) ? 'No bookings yet.' : `No bookings: the trip ended ${trip.status}.`);
    else printTable(bookings.map(bookingRow), BOOKING_COLUMNS);
  },
});

export const tripCommands: readonly OpsCommand[] = [show];
