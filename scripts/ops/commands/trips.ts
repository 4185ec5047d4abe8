// Operator command on trips: one trip with its bookings.
import { defineCommand, type OpsCommand } from '../command';
import { BOOKING_COLUMNS } from './bookings';

const show = defineCommand({
  name: 'trips show',
  target: { synopsis: 'TRIP_ID', needs: 'a trip id' },
  summary: 'the trip’s fields and its bookings',
  flags: {},
  async run({ store, json, print, printFields, printTable, refused }, { target: tripId }) {
    const trip = await store.getTrip(tripId);
    if (!trip) return refused({ ok: false, errorCode: 'TRIP_NOT_FOUND', message: `Trip ${tripId} does not exist.`, retryable: false });
    const bookings = await store.listBookingsOfTrip(tripId);
    if (json) print({ trip, bookings });
    else {
      const { items, bookingReferences, itemAmounts: _amounts, ...fields } = trip;
      printFields([...Object.entries(fields), ['items', `${items.length}, bookings ${bookingReferences.length}`]]);
      printTable(bookings, BOOKING_COLUMNS);
    }
    return 0;
  },
});

export const tripCommands: readonly OpsCommand[] = [show];
