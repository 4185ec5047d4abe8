// Operator commands on bookings: list them by trip, slot or user, show one, and cancel one with its share refunded once.
import { cancelBooking } from '../../../lambdas/shared/domain/payment-operations';
import { defineCommand, defineShowCommand, UsageError, type OpsCommand } from '../command';
import { refundLine } from '../printing';

export const BOOKING_COLUMNS = ['reference', 'status', 'slotId', 'date', 'time', 'guestCount', 'tripId', 'userId'];

const list = defineCommand({
  name: 'bookings list',
  summary: 'the bookings of exactly one of --trip, --slot or --user',
  flags: {
    trip: { type: 'string', value: 'ID', description: 'a trip’s bookings' },
    slot: { type: 'string', value: 'ID', description: 'a slot’s bookings' },
    user: { type: 'string', value: 'ID', description: 'the bookings of every trip of a user' },
  },
  async run({ store, print }, { flags }) {
    const chosen = [flags.trip, flags.slot, flags.user].filter(Boolean).length;
    if (chosen !== 1) throw new UsageError('bookings list needs exactly one of --trip, --slot or --user');
    const bookings = flags.trip
      ? await store.listBookingsOfTrip(flags.trip)
      : flags.slot
        ? await store.listBookingsOfSlot(flags.slot)
        : (await Promise.all((await store.listTripsOfUser(flags.user as string)).map((trip) => store.listBookingsOfTrip(trip.tripId)))).flat();
    print(bookings, bookings, BOOKING_COLUMNS);
    return 0;
  },
});

const show = defineShowCommand({
  name: 'bookings show',
  target: { synopsis: 'REFERENCE', needs: 'a booking reference' },
  summary: 'one booking’s fields',
  notFound: (reference) => ({ errorCode: 'BOOKING_NOT_FOUND', message: `Booking ${reference} does not exist.` }),
  load: async ({ store }, reference) => (await store.getBookings([reference]))[0],
  printText: ({ printFields }, booking) => printFields(Object.entries(booking)),
});

const cancel = defineCommand({
  name: 'bookings cancel',
  target: { synopsis: 'REFERENCE', needs: 'a booking reference' },
  summary: 'seats back; the booking’s share refunded once, ever',
  flags: {
    reason: { type: 'string', value: 'TEXT', required: true, description: 'it is kept in the audit trail' },
    'no-refund': { type: 'boolean', description: 'the share is waived, and never refunded later' },
  },
  async run(context, { target: reference, flags }) {
    const { store, deps, gateway } = context;
    const refund = !flags['no-refund'];
    const [booking] = await store.getBookings([reference]);
    if (refund && booking?.status === 'confirmed' && gateway.refundable(booking.paymentId) && booking.amount && !context.canRefund) {
      throw new UsageError('this booking was paid through Stripe: set STRIPE_API_KEY to refund it, or pass --no-refund');
    }
    const result = await cancelBooking({ ...deps, gateway }, { reference, reason: flags.reason, actorId: context.actor, refund });
    if (!result.ok) return context.refused(result);
    const refundText = result.refund
      ? refundLine(result.refund, booking?.currency ?? '')
      : result.alreadyReleased
        ? 'none (released before, without a refund of its own)'
        : refund
          ? 'none (nothing paid through Stripe)'
          : 'none (--no-refund)';
    context.print(
      result,
      [{ reference, released: result.released.length > 0, alreadyReleased: result.alreadyReleased, refund: refundText, trip: result.tripStatus ?? '' }],
      ['reference', 'released', 'alreadyReleased', 'refund', 'trip'],
    );
    return 0;
  },
});

export const bookingCommands: readonly OpsCommand[] = [list, show, cancel];
