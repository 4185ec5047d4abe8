// Operator commands on bookings: list them by trip, slot or user, show one, and cancel one with its share refunded once.
import { cancelBooking, type CancelBookingResult } from '../../../lambdas/shared/domain/payment-operations';
import { isOpenFailure, shareRefundKey } from '../../../lambdas/shared/domain/payment-ledger';
import { accountChecked, stripeModeRefusal } from '../stripe-mode';
import { defineCommand, defineShowCommand, UsageError, type OpsCommand } from '../command';
import type { Booking } from '../../../lambdas/shared/domain/model';
import { money, refundLine } from '../printing';

export const BOOKING_COLUMNS = ['reference', 'status', 'slotId', 'date', 'time', 'guestCount', 'amount', 'tripId', 'userId'];

/** References are printed in capitals; an operator may type them in any case. */
export const referenceOf = (typed: string): string => typed.toUpperCase();

/** A booking as a row: its share of the payment as money. */
export const bookingRow = (booking: Booking) => ({ ...booking, amount: booking.amount === undefined ? '' : money(booking.amount, booking.currency ?? '') });

/** One booking's fields in reading order, absent ones left out. */
function bookingFields(booking: Booking): [string, unknown][] {
  const row = bookingRow(booking);
  const order = [
    'reference',
    'status',
    'experienceId',
    'slotId',
    'date',
    'time',
    'guestCount',
    'amount',
    'tripId',
    'userId',
    'paymentId',
    'createdAt',
    'cancelledAt',
    'cancellationReason',
    'bookingId',
  ] as const;
  return order.map((name): [string, unknown] => [name, row[name]]).filter(([, value]) => value !== undefined && value !== '');
}

const list = defineCommand({
  name: 'bookings list',
  summary: 'the bookings of exactly one of --trip, --slot or --user',
  flags: {
    trip: { type: 'string', value: 'ID', description: 'a trip’s bookings' },
    slot: { type: 'string', value: 'ID', description: 'a slot’s bookings' },
    user: { type: 'string', value: 'ID', description: 'the bookings of every trip of a user' },
  },
  async run({ store, print, printEmpty }, { flags }) {
    const chosen = [flags.trip, flags.slot, flags.user].filter(Boolean).length;
    if (chosen !== 1) throw new UsageError('bookings list needs exactly one of --trip, --slot or --user');
    const bookings = flags.trip
      ? await store.listBookingsOfTrip(flags.trip)
      : flags.slot
        ? await store.listBookingsOfSlot(flags.slot)
        : (await Promise.all((await store.listTripsOfUser(flags.user as string)).map((trip) => store.listBookingsOfTrip(trip.tripId)))).flat();
    if (bookings.length === 0) printEmpty(bookings, 'No bookings found.');
    else print(bookings, bookings.map(bookingRow), BOOKING_COLUMNS);
    return 0;
  },
});

const show = defineShowCommand({
  name: 'bookings show',
  target: { synopsis: 'REFERENCE', needs: 'a booking reference' },
  summary: 'one booking’s fields',
  notFound: (reference) => ({ errorCode: 'BOOKING_NOT_FOUND', message: `Booking ${reference} does not exist.` }),
  load: async ({ store }, reference) => (await store.getBookings([referenceOf(reference)]))[0],
  printText: ({ printFields }, booking) => printFields(bookingFields(booking)),
});

const cancel = defineCommand({
  name: 'bookings cancel',
  target: { synopsis: 'REFERENCE', needs: 'a booking reference' },
  summary: 'seats back; the booking’s share refunded once, ever',
  flags: {
    reason: { type: 'string', value: 'TEXT', required: true, description: 'it is kept in the audit trail' },
    'no-refund': { type: 'boolean', description: 'the share is waived, and never refunded later' },
  },
  async run(context, { target: typed, flags }) {
    const { store, deps, gateway } = context;
    const reference = referenceOf(typed);
    const refund = !flags['no-refund'];
    const [booking] = await store.getBookings([reference]);
    if (refund && booking !== undefined && gateway.refundable(booking.paymentId) && !context.canRefund) {
      if (booking.status === 'confirmed' && booking.amount) {
        throw new UsageError(
          'this booking was paid through Stripe: set STRIPE_API_KEY to refund it (or aim at a running `npm start`, whose stand-in is found by itself: with its LOCAL_STACK_FILE, if it was given one), or pass --no-refund',
        );
      }
      // Cancelled before, its share still waiting for Stripe's answer: running it again asks Stripe, which needs the key too.
      const share = (await store.getPaymentRecord(booking.paymentId))?.refunds.find(
        (entry) => entry.refundKey === shareRefundKey(booking.paymentId, reference),
      );
      if (share?.status === 'requested') {
        throw new UsageError(
          'this booking’s share is still asked of Stripe (no answer heard yet): set STRIPE_API_KEY to ask again (or aim at a running `npm start`, whose stand-in is found by itself: with its LOCAL_STACK_FILE, if it was given one)',
        );
      }
    }
    // A booking cancelled before whose share is still requested is asked for again: checked as a first cancellation is.
    const mayAskStripe = refund && booking !== undefined && gateway.refundable(booking.paymentId);
    const refusal = mayAskStripe ? await stripeModeRefusal(context) : undefined;
    if (refusal) return refusal;
    // Its account looked up before the share is asked for (after the cancellation is stored): a key of another account
    // leaves the share requested, for the sweep to ask with the deployment's key, instead of refused for good.
    const checked = accountChecked(gateway);
    const result = await cancelBooking({ ...deps, gateway: checked }, { reference, reason: flags.reason, actorId: context.actor, refund });
    const mismatch = checked.mismatch();
    // Refused before anything was cancelled (Stripe asked what is back of a payment refunded in part before its record):
    // the same key would be refused again, so it is not "run it again" but the wrong key.
    if (!result.ok && result.errorCode === 'STRIPE_UNAVAILABLE' && mismatch) {
      context.err(
        `error: ACCOUNT_MISMATCH: ${mismatch.message}: is it a key of this deployment's account? booking ${reference} was not cancelled and nothing was asked`,
      );
      return 2;
    }
    if (!result.ok) return context.refused(result);
    // The refund in the currency Stripe returns it in: its payment's, which its session may say is not its trip's.
    const currency = result.currency ?? booking?.currency ?? '';
    const unclear = result.shareUnclear
      ? ` (cut short: ${money(result.shareUnclear.owed - result.shareUnclear.asked, currency)} of its ${money(result.shareUnclear.owed, currency)} may be owed ` +
        `or may be back already${shareUnclearCause[result.shareUnclear.why ?? 'said_before']}; the payment is in front of a person)`
      : '';
    const refundText = result.refund
      ? `${refundLine(result.refund, currency)}${unclear}`
      : unclear
        ? `none${unclear}`
        : result.shareUnknown
          ? 'none (no share of its own: its trip was stored before prices were kept per item; the payment is in front of a person)'
          : result.notRefundable
            ? 'none (its payment was not taken through a Stripe PaymentIntent, so Stripe cannot refund it; the payment is in front of a person)'
            : result.alreadyReleased
              ? 'none (released before, without a refund of its own)'
              : result.shareInAnotherCurrency
                ? `none (its share, ${money(result.shareInAnotherCurrency.share, result.shareInAnotherCurrency.shareCurrency)}, is priced in another currency ` +
                  `than its payment was charged in, ${result.shareInAnotherCurrency.chargeCurrency.toUpperCase()}: nothing was asked of Stripe; the payment is in front of a person)`
                : refund
                  ? 'none (nothing paid through Stripe)'
                  : 'none (--no-refund)';
    context.print(
      result,
      [{ reference, released: result.released.length > 0, alreadyReleased: result.alreadyReleased, refund: refundText, trip: result.tripStatus ?? '' }],
      ['reference', 'released', 'alreadyReleased', 'refund', 'trip'],
    );
    const leftUndone = undoneBy(result, refund, booking?.paymentId ?? '');
    if (leftUndone === undefined) return 0;
    context.err(`warning: ${leftUndone}`);
    return 1;
  },
});

/** Why a share was cut short, as the cancellation that cut it says; a cancellation run again says only that it was. */
const shareUnclearCause = {
  refunded_outside:
    ', money came back outside this service (a refund made in the Dashboard) that may have been this share or a gesture on a booking that stands',
  total_in_doubt: ', Stripe’s total may count a refund failed since',
  said_before: '',
} as const;

/**
 * What a cancellation asked for and did not bring about, in one line for stderr: the seats are back, but money the
 * operator meant to return is not on its way (a script, or a person reading only the exit status, must not take it as done).
 */
function undoneBy(result: CancelBookingResult, refundAsked: boolean, paymentId: string): string | undefined {
  const attention = 'the payment is in front of a person (`npm run ops -- attention list`)';
  // A refusal a person resolved since (settled another way, or not owed) is nobody's to act on any more.
  if (result.refund !== undefined && isOpenFailure(result.refund)) {
    // Run again with --no-refund, the share stays as asked: waiving is the person's closing of the payment, not this flag's.
    const notWaived = refundAsked
      ? ''
      : `; --no-refund waives no share asked for already: \`payments resolve ${paymentId} --note TEXT\` closes it without a refund`;
    return `Stripe refused the share's refund for good (${result.refund.failureCode ?? result.refund.status}): nothing was refunded, and ${attention}${notWaived}`;
  }
  // Run again with --no-refund, what the first run left to a person stays so: the person's resolving closes it, not this flag.
  const notWaived = refundAsked ? '' : `; --no-refund changes nothing on a booking cancelled before: \`payments resolve ${paymentId} --note TEXT\` closes it`;
  if (result.shareUnknown || result.notRefundable || result.shareInAnotherCurrency) return `nothing was refunded: ${attention}${notWaived}`;
  if (result.shareUnclear) return `not all of the share was asked of Stripe: ${attention}${notWaived}`;
  if (refundAsked && result.refund?.status === 'waived') {
    return 'nothing was refunded: this booking’s share was waived when it was cancelled with --no-refund, for good; refund it in the Stripe Dashboard if it is owed (recorded here when Stripe reports it)';
  }
  return undefined;
}

export const bookingCommands: readonly OpsCommand[] = [list, show, cancel];
