// Operator command on trips: one trip with its bookings.
import { defineShowCommand, type OpsCommand } from '../command';
import { BOOKING_COLUMNS } from './bookings';

const show = defineShowCommand({
  name: 'trips show',
  target: { synopsis: 'TRIP_ID', needs: 'a trip id' },
  summary: 'the trip’s fields and its bookings',
  notFound: (tripId) => ({ errorCode: 'TRIP_NOT_FOUND', message: `Trip ${tripId} does not exist.` }),
  async load({ store }, tripId) {
    const trip = await store.getTrip(tripId);
    return trip && { trip, bookings: await store.listBookingsOfTrip(tripId) };
  },
  printText({ printFields, printTable }, { trip, bookings }) {
    const { items, bookingReferences, itemAmounts: _amounts, ...fields } = trip;
    printFields([...Object.entries(fields), ['items', `${items.length}, bookings ${bookingReferences.length}`]]);
    printTable(bookings, BOOKING_COLUMNS);
  },
});

export const tripCommands: readonly OpsCommand[] = [show];
