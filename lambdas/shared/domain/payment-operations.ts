// Operator use cases on money: cancel a booking with its share refunded once, retry or resolve a payment that needs a person, check the ledger.
import { PAYMENT_RECORD_ATTEMPTS, retryWhileStateMoves, STATE_MOVED } from './state-moved';
import type { AtomicWrite, AtomicWriteResult, BookingQueries, BookingStore, TripTransition } from './booking-store';
import { auditEntry } from './audit-trail';
import type { Deps, PaymentDeps } from './collaborators';
import { failure, StoredDataError, StoreUnavailableError, type BookingFailure } from './errors';
import { claimedSessionTripEnd, issueRequestedRefunds, lastStripeRefundId, readableTrip } from './issue-refunds';
import { money } from './money';
import {
  CONFIRMABLE_TRIP_STATUSES,
  type AuditEntry,
  type Booking,
  type Currency,
  type PaymentRecord,
  type RefundEntry,
  type Trip,
  type TripStatus,
} from './model';
import {
  afterRetry,
  allMoneyBack,
  type AttentionSeen,
  chargeTotalInDoubt,
  attentionSeen,
  chargedInAnotherCurrency,
  hasRequestedRefunds,
  isClaimedPayment,
  isOpenFailure,
  liveStatus,
  newPaymentRecord,
  nextVersion,
  pricedInAnotherCurrency,
  reasonsOf,
  recordWrite,
  refundableAmount,
  refundedOutside,
  refundedOutsideAtMost,
  refundEntry,
  resolvedAsSeen,
  settle,
  SHARE_IN_ANOTHER_CURRENCY,
  shareRefundKey,
  surelyRefundable,
  withAttention,
  withLiveStatus,
} from './payment-ledger';
import { keepsPartialRefundOf } from './payment-decision';
import { tellKeptPartialRefund } from './kept-partial-refund';
import { PaymentGatewayUnavailableError } from './payment-gateway';
import { releaseBookings, type ReleasedBooking } from './release-bookings';
import { commitReleasingHold } from './release-holds';
import { OVERDUE_AFTER_MS } from './resume-refunds';

export interface CancelBookingInput {
  readonly reference: string;
  /** Kept in the audit trail and on the refund, never sent to Stripe. */
  readonly reason: string;
  readonly actorId?: string;
  /** False for `--no-refund`: the booking's share is recorded as waived, and never refunded later. */
  readonly refund: boolean;
}

/** Why a cancelled booking's share was cut short (CancelBookingResult's `shareUnclear`). */
export type ShareUnclearCause = 'total_in_doubt' | 'refunded_outside';

export interface CancelBookingResult {
  readonly ok: true;
  readonly released: readonly ReleasedBooking[];
  readonly alreadyReleased: boolean;
  /** This booking's refund as the payment record holds it; absent when its payment has nothing to refund. */
  readonly refund?: RefundEntry;
  /** A refund was asked for a booking without a share of its own: nothing was refunded, and its payment needs a person. */
  readonly shareUnknown?: true;
  /**
   * A refund was asked for a share of a payment Stripe cannot refund (taken without a PaymentIntent, or outside Stripe, as
   * create-booking's direct payments and the local demo's seed are): nothing was refunded, and its payment needs a person.
   */
  readonly notRefundable?: true;
  /**
   * The share was cut short (to `asked`), and whether the rest is owed cannot be told, so the payment needs a person
   * (`share_unclear`): `total_in_doubt`, by a charge total that may count a refund failed since; `refunded_outside`, by
   * money back outside this service (a refund made in the Dashboard) that may have been this share or a gesture on a
   * booking that stands, whose money asking in full could take back. Without `why` on a cancellation run again: the first
   * run said it.
   */
  readonly shareUnclear?: { readonly owed: number; readonly asked: number; readonly why?: ShareUnclearCause };
  /**
   * A refund was asked for a booking whose share is priced in another currency than its payment was charged in (its
   * session charged otherwise, `charged_otherwise`): nothing was refunded, and its payment needs a person.
   */
  readonly shareInAnotherCurrency?: { readonly share: number; readonly shareCurrency: Currency; readonly chargeCurrency: Currency };
  /** The currency of the payment's charge, in which `refund` is stated. */
  readonly currency?: Currency;
  readonly tripStatus?: TripStatus;
}

function operatorAudit(deps: Deps, eventType: string, paymentId: string, actorId: string | undefined, metadata: AuditEntry['metadata']): AuditEntry {
  return auditEntry(deps, { eventType, entityType: 'payment', entityId: paymentId, actorType: 'operator', actorId, metadata });
}

/**
 * A cancellation that could not learn what its share needs from Stripe before sizing it: by default what Stripe counts
 * back of its payment (its trip kept a partial refund of it seen before the record create-booking wrote), which sized
 * without it would ask Stripe for money that is back already, refused, and put the payment in front of a person. Nothing
 * is cancelled; the operator runs it again (with the key fixed, when it was the key).
 */
function stripeCouldNotSay(
  paymentId: string,
  reference: string,
  error: PaymentGatewayUnavailableError,
  asked: { readonly question: string; readonly why: string; readonly done: string } = {
    question: `what is back of payment ${paymentId}`,
    why: 'refunded in part before its record was written',
    done: 'nothing was asked',
  },
): BookingFailure {
  const keyMistake = error.credentialsRejected || error.paymentNotHeld;
  const fix = keyMistake ? 'fix STRIPE_API_KEY, then run it again' : 'run it again';
  return failure(
    'STRIPE_UNAVAILABLE',
    `Stripe could not say ${asked.question} (${error.message}), ${asked.why}: booking ${reference} was not cancelled and ${asked.done}; ${fix}.`,
    { retryable: !keyMistake },
  );
}

/** Why a cancelled booking's share was cut short, named by the booking: a person settles the rest. */
const SHARE_UNCLEAR = 'share_unclear';
/** Why a cancelled booking's share was not asked of Stripe, named by the booking: a person settles it. */
const NOT_REFUNDABLE = 'not_refundable';
const SHARE_UNKNOWN = 'share_unknown';

/**
 * Whether the payment is still in front of a person (not resolved since) for `reason`, raised by this booking's
 * cancellation. `unnamedToo`: a reason stored before it named its booking (no code) is this booking's when its share has
 * no entry (`not_refundable`, `share_unknown`: every booking of such a payment or trip is in the same case).
 */
function openFor(record: PaymentRecord, booking: Booking, reason: string, unnamedToo = false): boolean {
  return (
    record.status === 'needs_attention' &&
    reasonsOf(record.attention).some((known) => known.reason === reason && (known.code === booking.reference || (unnamedToo && known.code === undefined)))
  );
}

/**
 * The share a cancellation cut short, while its payment is still in front of a person for it (not resolved since): what
 * a cancellation run again says, as the first did.
 */
function shareLeftUnclear(record: PaymentRecord, booking: Booking, refund: RefundEntry | undefined): CancelBookingResult['shareUnclear'] {
  if (!openFor(record, booking, SHARE_UNCLEAR) || booking.amount === undefined) return undefined;
  const asked = refund?.amount ?? 0;
  if (asked >= booking.amount) return undefined;
  // Why it was cut is the first run's to say: what the record reads now may have been settled since.
  return { owed: booking.amount, asked };
}

/** A booking confirmed before payment records existed: its record is made from its trip, and written with the first change. */
function recordOfLegacyBooking(trip: Trip | undefined, booking: Booking, at: string): PaymentRecord {
  return newPaymentRecord(
    {
      paymentId: booking.paymentId,
      status: 'booked',
      tripId: booking.tripId,
      setAside: false,
      amountPaid: trip?.amount ?? 0,
      currency: trip?.currency ?? booking.currency ?? '',
    },
    at,
  );
}

/**
 * Input: a booking reference, a reason, refund or not. Output: what was released and this booking's refund.
 * Steps: read the booking, its trip and its payment record → one transaction: the booking cancelled, its
 * seats back, its refund stored as `requested` (or `waived`) on the payment record, and the trip `cancelled`
 * when it was its last booking → ask Stripe → record the answer. Run again, it resumes only a refund still
 * `requested`; a share is refunded at most once, ever.
 */
export async function cancelBooking(deps: PaymentDeps, input: CancelBookingInput): Promise<CancelBookingResult | BookingFailure> {
  // Asked once per cancellation: Stripe unable to answer, the share is sized as unclear, never waited on.
  let lookedUpUnclearRefunds = false;
  return retryWhileStateMoves(
    PAYMENT_RECORD_ATTEMPTS,
    async () => {
      const [booking] = await deps.store.getBookings([input.reference]);
      if (!booking) return failure('BOOKING_NOT_FOUND', `Booking ${input.reference} does not exist.`);
      const trip = await deps.store.getTrip(booking.tripId);
      const record = await deps.store.getPaymentRecord(booking.paymentId);
      const refundKey = shareRefundKey(booking.paymentId, booking.reference);
      // Its share's refund as it stands: one refused and asked again since (payments retry-refund) is its retry.
      const existing = record && shareRefundNow(record, refundKey);

      if (booking.status !== 'confirmed') {
        // Its share was asked for when it was cancelled, and Stripe may have taken it already (its answer lost): too late to
        // waive. Nothing is asked either: the operator said no refund.
        if (existing?.status === 'requested' && !input.refund) {
          return failure(
            'REFUNDS_IN_FLIGHT',
            `Booking ${booking.reference} was cancelled with its share refunded (${money(existing.amount, record?.currency ?? '')} asked for, ` +
              `Stripe has not answered yet): it may already be on its way and cannot be waived now. payments retry-refund ${booking.paymentId} ` +
              'asks Stripe now; the reconciliation sweep asks every run.',
          );
        }
        // What the first run left to a person, said again while it is (with --no-refund too: it waives nothing now).
        const unclear = record ? shareLeftUnclear(record, booking, existing) : undefined;
        const leftToAPerson = {
          ...(record && openFor(record, booking, NOT_REFUNDABLE, existing === undefined) && { notRefundable: true as const }),
          ...(record && openFor(record, booking, SHARE_UNKNOWN, existing === undefined) && { shareUnknown: true as const }),
        };
        if (record && existing?.status === 'requested') {
          const issued = await issueRequestedRefunds(deps, record, 'operator', { actorId: input.actorId });
          return {
            ok: true,
            released: [],
            alreadyReleased: true,
            refund: shareRefundNow(issued.record, refundKey) as RefundEntry,
            ...(unclear && { shareUnclear: unclear }),
            currency: issued.record.currency,
            ...(trip && { tripStatus: trip.status }),
          };
        }
        return {
          ok: true,
          released: [],
          alreadyReleased: true,
          ...(existing && { refund: existing }),
          ...(unclear && { shareUnclear: unclear }),
          ...leftToAPerson,
          ...(record && { currency: record.currency }),
          ...(trip && { tripStatus: trip.status }),
        };
      }

      // Its record, written by create-booking without asking Stripe, knows nothing yet of a partial refund its trip kept
      // (its completion tells it when it comes): told first, so the share asked is what Stripe still holds.
      // A booking made before payment records existed has its record made here, and written by the telling.
      if (input.refund && trip && keepsPartialRefundOf(trip, booking.paymentId)) {
        const known = record ?? recordOfLegacyBooking(trip, booking, deps.clock.now().toISOString());
        try {
          await tellKeptPartialRefund(deps, trip, known, { operator: true, actorId: input.actorId }, { unwritten: record === undefined });
        } catch (error) {
          if (!(error instanceof PaymentGatewayUnavailableError)) throw error;
          return stripeCouldNotSay(booking.paymentId, booking.reference, error);
        }
        return STATE_MOVED;
      }

      const at = deps.clock.now().toISOString();
      const base = record ?? recordOfLegacyBooking(trip, booking, at);
      // A share is an amount of the currency its trip was priced in. Its session may have charged another (`charged_otherwise`):
      // the same number of another currency's units is no share of that charge, so Stripe is never asked for it and a person
      // settles what the booking is owed.
      const shareCurrency = booking.currency ?? trip?.currency;
      const inAnotherCurrency = record !== undefined && shareCurrency !== undefined && chargedInAnotherCurrency(record, shareCurrency);
      const refundable = refundableAmount(base);
      const shareElsewhere = input.refund && inAnotherCurrency && (booking.amount ?? 0) > 0 && refundable > 0;
      const others = trip
        ? (await deps.store.getBookings(trip.bookingReferences)).filter((other) => other.reference !== booking.reference && other.status === 'confirmed')
        : [];
      // The bookings still standing on this payment, and the shares waived: what they keep of it is never asked for.
      const standing = others.filter((other) => other.paymentId === booking.paymentId);
      const othersKeep = standing.length > 0 || base.refunds.some((entry) => entry.status === 'waived');
      const outsideAtMost = refundedOutsideAtMost(base);
      // A refund of ours Stripe has given no time for (still `requested`: made, its answer lost, or not made yet) leaves
      // unclear whether Stripe's total is it or money back outside, which would cut this share while bookings stand.
      // Looked up by its key (and asked, if Stripe never made it) before the share is sized, then read again.
      if (input.refund && record && othersKeep && !lookedUpUnclearRefunds && outsideAtMost > refundedOutside(base)) {
        lookedUpUnclearRefunds = true;
        try {
          await issueRequestedRefunds(deps, record, 'operator', { actorId: input.actorId });
          return STATE_MOVED;
        } catch (error) {
          if (!(error instanceof PaymentGatewayUnavailableError)) throw error;
          // A key Stripe refuses, or one of another account: a key's mistake puts no payment before a person, and the share
          // would be asked with the same key. Nothing is cancelled; Stripe down for now, the share is sized as unclear.
          if (error.credentialsRejected || error.paymentNotHeld) {
            return stripeCouldNotSay(booking.paymentId, booking.reference, error, {
              question: `whether its total of payment ${booking.paymentId} counts a refund of ours it has not answered`,
              why: standing.length > 0 ? 'another booking of the payment standing' : 'a share of the payment waived',
              // The lookup asks Stripe for a refund it never made, and may have recorded answers before the key failed.
              done: 'its share was not asked',
            });
          }
        }
      }
      // Money back outside this service (a refund made in the Dashboard) while other bookings of the payment stand, or
      // shares were waived, may have been this share or a gesture on one of them: asked in full, the share could take back
      // money that pays for them. What is surely left of it, however Stripe's total is read, is asked for, and a person
      // settles the rest, as payments retry-refund answers REFUND_UNCLEAR. Nothing that may be back outside: the shares add
      // up to the payment, and none is cut.
      const keptByOthers = input.refund && !inAnotherCurrency && outsideAtMost > 0 ? keptBy(base, standing, trip?.currency) : 0;
      const surelyLeft = keptByOthers > 0 ? Math.max(0, surelyRefundable(base) - keptByOthers) : refundable;
      // What is left of the charge is counted in its currency: a share in another is never cut by it. Nothing is asked;
      // waived, it is waived whole, in its own.
      const share = !inAnotherCurrency ? Math.min(booking.amount ?? 0, refundable, surelyLeft) : input.refund ? 0 : (booking.amount ?? 0);
      const cutForOthers = share < Math.min(booking.amount ?? 0, refundable);
      const entry = shareEntry(deps, input, booking, share, at, inAnotherCurrency ? shareCurrency : undefined);
      const last = trip !== undefined && others.length === 0 && trip.status === 'booked';
      // Money was taken that the provider cannot give back (no PaymentIntent): a person settles this share.
      const notRefundable = input.refund && share > 0 && !entry;
      // A booking of a trip stored before prices were kept per item has no share of its own: never guessed (a guess too
      // high refunds another booking's money, too low keeps the traveller's), a person settles what it is owed.
      const shareUnknown = input.refund && booking.amount === undefined && refundable > 0;
      // Cut short for the bookings that stand (above), or by a charge total that may count a refund failed since: what is
      // left of the share may be owed or may have gone back in the Dashboard. Asking for it could pay a traveller twice, leaving it could keep their money: a person
      // looks at the charge; what is surely left is asked for.
      const unclearWhy: ShareUnclearCause | undefined = cutForOthers ? 'refunded_outside' : chargeTotalInDoubt(base) ? 'total_in_doubt' : undefined;
      const shareUnclear = input.refund && !shareElsewhere && booking.amount !== undefined && share < booking.amount && unclearWhy !== undefined;
      // Why this cancellation puts the payment before a person, each named by the booking (so that a cancellation run
      // again says it too: Stripe down the first time, its warning unsaid) but a share in another currency; one list for
      // the record's reasons and the payment's own trail, as when one of Stripe's events puts it there.
      const raised = [
        ...(notRefundable ? [{ reason: NOT_REFUNDABLE, code: booking.reference }] : []),
        ...(shareUnknown ? [{ reason: SHARE_UNKNOWN, code: booking.reference }] : []),
        ...(shareUnclear ? [{ reason: SHARE_UNCLEAR, code: booking.reference }] : []),
        ...(shareElsewhere ? [{ reason: SHARE_IN_ANOTHER_CURRENCY, code: undefined }] : []),
      ];
      const withEntry = raised.reduce<PaymentRecord>((next, { reason, code }) => withAttention(next, reason, at, code, true), {
        ...base,
        refunds: entry ? [...base.refunds, entry] : base.refunds,
      });
      // The last booking cancelled: the payment is cancelled too (or will be, once a person has dealt with it).
      const after = settle(last && liveStatus(base) === 'booked' ? withLiveStatus(withEntry, 'cancelled') : withEntry);
      const write = recordWrite(record, after, at);
      const tripEnd = tripEndOfLastCancellation(after);
      const released = await releaseBookings(
        deps,
        // At the share read: one corrected since (its session's charge recorded) makes this read again.
        { reference: booking.reference, ...(booking.amount !== undefined && { shareAsRead: booking.amount }) },
        {
          reason: input.reason,
          actorType: 'operator',
          ...(input.actorId !== undefined && { actorId: input.actorId }),
          ...(last && {
            tripTransition: { from: ['booked'], to: tripEnd, statusReason: 'all_bookings_cancelled' },
          }),
          paymentRecord: write,
          audits: [
            ...(entry
              ? [
                  operatorAudit(deps, entry.status === 'waived' ? 'payment.refund_waived' : 'payment.refund_requested', booking.paymentId, input.actorId, {
                    refundKey,
                    amount: entry.amount,
                    reference: booking.reference,
                    reason: input.reason,
                  }),
                ]
              : []),
            ...raised.map(({ reason }) =>
              operatorAudit(deps, 'payment.needs_attention', booking.paymentId, input.actorId, {
                reason,
                reference: booking.reference,
                cancellation: input.reason,
              }),
            ),
            // The trip's own trail says why it left `booked`, as its bookings' trails do.
            ...(last
              ? [
                  auditEntry(deps, {
                    eventType: `trip.${tripEnd}`,
                    entityType: 'trip',
                    entityId: booking.tripId,
                    actorType: 'operator',
                    actorId: input.actorId,
                    at,
                    metadata: { paymentId: booking.paymentId, reason: input.reason, statusReason: 'all_bookings_cancelled' },
                  }),
                ]
              : []),
          ],
        },
      );
      if (!released.ok) {
        if (released.errorCode === 'PAYMENT_CHANGED') return STATE_MOVED;
        return released;
      }
      const result = {
        ok: true as const,
        released: released.released,
        alreadyReleased: false,
        ...(shareUnknown && { shareUnknown: true as const }),
        ...(notRefundable && { notRefundable: true as const }),
        ...(shareUnclear && unclearWhy && { shareUnclear: { owed: booking.amount ?? 0, asked: share, why: unclearWhy } }),
        ...(shareElsewhere && {
          shareInAnotherCurrency: { share: booking.amount ?? 0, shareCurrency: shareCurrency ?? '', chargeCurrency: base.currency },
        }),
        currency: base.currency,
      };
      // The share requested here is asked for straight away; another still requested is looked up by its key first.
      const issued =
        entry?.status === 'requested'
          ? (await issueRequestedRefunds(deps, write.record, 'operator', { stored: { at, keys: [entry.refundKey] }, actorId: input.actorId })).record
          : write.record;
      // Read after the refund's answer: its last money back moves the trip on.
      const tripStatus = (await deps.store.getTrip(booking.tripId))?.status;
      const refund = refundOf(issued, refundKey);
      return { ...result, ...(refund && { refund }), ...(tripStatus && { tripStatus }) };
    },
    () => failure('TRANSACTION_FAILED', `The payment of booking ${input.reference} kept changing; try again.`, { retryable: true }),
  );
}

/**
 * Where the trip goes when its last booking is cancelled: `refunded` once all of its money is back and no person has to
 * look (settled now, or a payment a person resolved before the bookings were cancelled), `cancelled` otherwise.
 */
function tripEndOfLastCancellation(after: PaymentRecord): 'refunded' | 'cancelled' {
  // A claimed payment's money, back or not, is its session's traveller's: the trip create-booking booked ends cancelled.
  if (isClaimedPayment(after)) return 'cancelled';
  return after.status === 'refunded' || (after.status === 'resolved' && allMoneyBack(after)) ? 'refunded' : 'cancelled';
}

/** The share's refund: requested when there is money Stripe can return, waived when the operator said so. */
function shareEntry(
  deps: PaymentDeps,
  input: CancelBookingInput,
  booking: Booking,
  share: number,
  at: string,
  pricedIn: Currency | undefined,
): RefundEntry | undefined {
  const fields = {
    refundKey: shareRefundKey(booking.paymentId, booking.reference),
    amount: share,
    requestedBy: 'operator' as const,
    ...(input.actorId !== undefined && { actorId: input.actorId }),
    reason: input.reason,
    bookingReferences: [booking.reference],
    // Waived in another currency than the charge's: said in its own.
    ...(pricedIn !== undefined && { pricedIn }),
  };
  if (!input.refund) return refundEntry({ ...fields, status: 'waived' }, at);
  // A payment the provider cannot refund (a direct create-booking payment, a free checkout) is settled by whoever took it.
  if (share <= 0 || !deps.gateway.refundable(booking.paymentId)) return undefined;
  return refundEntry(fields, at);
}

function refundOf(record: PaymentRecord, refundKey: string): RefundEntry | undefined {
  return record.refunds.find((entry) => entry.refundKey === refundKey);
}

/** A share's refund followed to its latest retry (`retriedAs`, a retry's own retry too): the one that carries its money now. */
function shareRefundNow(record: PaymentRecord, refundKey: string): RefundEntry | undefined {
  let entry = refundOf(record, refundKey);
  const followed = new Set<string>();
  while (entry?.retriedAs !== undefined && !followed.has(entry.refundKey)) {
    followed.add(entry.refundKey);
    const retry = refundOf(record, entry.retriedAs);
    if (retry === undefined) break;
    entry = retry;
  }
  return entry;
}

export interface RetryRefundResult {
  readonly ok: true;
  readonly record: PaymentRecord;
  /** The refunds asked for by this run. */
  readonly asked: readonly RefundEntry[];
}

/**
 * Input: a payment id. Output: the record after asking Stripe again.
 * Resumes refunds still `requested`; for a payment that needs attention because a refund was refused or
 * failed, asks once more for each failed refund under a new key (what is still refundable, at most), and
 * takes the payment back to where it was.
 */
export async function retryRefund(deps: PaymentDeps, paymentId: string, actorId?: string): Promise<RetryRefundResult | BookingFailure> {
  return retryWhileStateMoves(
    PAYMENT_RECORD_ATTEMPTS,
    async () => {
      const record = await deps.store.getPaymentRecord(paymentId);
      if (!record) return failure('PAYMENT_NOT_FOUND', `No payment ${paymentId} is recorded.`);
      if (hasRequestedRefunds(record)) {
        const issued = await issueRequestedRefunds(deps, record, 'operator', { actorId });
        // A share priced in another currency was only looked up, never asked for.
        const asked = record.refunds.filter((entry) => entry.status === 'requested' && !pricedInAnotherCurrency(entry, record));
        return { ok: true, record: issued.record, asked };
      }
      // One priced in another currency than the charge is a person's to refund, never Stripe's to be asked again.
      const failed = record.refunds.filter((entry) => isOpenFailure(entry) && !pricedInAnotherCurrency(entry, record));
      if (record.status !== 'needs_attention' || failed.length === 0) {
        return failure(
          'NOTHING_TO_RETRY',
          `Payment ${paymentId} is ${record.status} with no refund to ask for again${record.status === 'needs_attention' && record.attention ? ` (${record.attention.reason}: resolve it instead)` : ''}.`,
        );
      }
      const at = deps.clock.now().toISOString();
      const refundable = refundableAmount(record);
      const kept = await keptAmount(deps.store, record);
      const asking = failed.reduce((sum, entry) => sum + entry.amount, 0);
      // Not all of them can be asked for in full without taking back money that pays for bookings still confirmed or was
      // waived, or more than is left at all, while Stripe's total counts money none of our refunds accounts for (a refund
      // made in the Dashboard, or a total taken before one of ours failed: these refunds paid back by hand, a gesture on a
      // booking that stands, or money still owed? it cannot be told here); or, with a booking standing, they add up to
      // more than is left at all (a failed gesture larger than the rest). Neither in full (a double refund) nor in part
      // (a share cut short, silently): a person decides. Otherwise each is asked for in full, or what is left when no
      // booking stands and nothing came back outside (then whatever is left is owed).
      const outside = refundedOutside(record);
      const takesKept = kept > 0 && asking > refundable - kept;
      const unclear = (outside > 0 && (takesKept || asking > refundable)) || (takesKept && asking > refundable);
      if (unclear) return unclearRetry(record, { asking, kept, refundable, outside, takesKept });
      let left = refundable;
      const retries: RefundEntry[] = [];
      const refunds = record.refunds.map((entry) => {
        if (!failed.includes(entry) || left <= 0) return entry;
        const amount = Math.min(entry.amount, left);
        left -= amount;
        const retry = refundEntry(
          {
            refundKey: `${entry.refundKey}-retry-${record.refunds.length + retries.length + 1}`,
            amount,
            requestedBy: 'operator',
            ...(actorId !== undefined && { actorId }),
            reason: entry.reason,
            bookingReferences: entry.bookingReferences,
          },
          at,
        );
        retries.push(retry);
        return { ...entry, retriedAs: retry.refundKey };
      });
      if (retries.length === 0) return failure('NOTHING_TO_RETRY', `Payment ${paymentId} has nothing left to refund: all of it is back.`);
      const after = afterRetry({ ...record, refunds: [...refunds, ...retries] });
      const written = nextVersion(after, at);
      const result = await deps.store.commit({
        at,
        paymentRecord: { record: written, expectedVersion: record.version },
        audits: [
          operatorAudit(deps, 'payment.refund_retried', paymentId, actorId, {
            refundKeys: retries.map((retry) => retry.refundKey).join(','),
            amount: retries.reduce((sum, retry) => sum + retry.amount, 0),
          }),
        ],
      });
      if (!result.committed) return STATE_MOVED;
      const issued = await issueRequestedRefunds(deps, written, 'operator', { stored: { at, keys: retries.map((retry) => retry.refundKey) }, actorId });
      return { ok: true, record: issued.record, asked: retries };
    },
    () => failure('TRANSACTION_FAILED', `Payment ${paymentId} kept changing; try again.`, { retryable: true }),
  );
}

/** The retry's refusal to guess, with the amounts it weighed (retryRefund says when). */
function unclearRetry(
  record: PaymentRecord,
  amounts: { asking: number; kept: number; refundable: number; outside: number; takesKept: boolean },
): BookingFailure {
  const m = (amount: number): string => money(amount, record.currency);
  const takes = amounts.takesKept
    ? `would take back money that pays for its bookings still confirmed or was waived (${m(amounts.kept)})`
    : `would take back more than is left to refund (${m(amounts.refundable)})`;
  const why =
    amounts.outside > 0
      ? `, and Stripe's total for the charge counts ${m(amounts.outside)} none of our refunds accounts for (a refund made in the Stripe ` +
        'Dashboard, or a total taken before one of ours failed): whether it was these refunds, paid back by hand, cannot be told here'
      : `, and they add up to more than is left to refund (${m(amounts.refundable)})`;
  return failure(
    'REFUND_UNCLEAR',
    `Payment ${record.paymentId}: asking again for its failed refunds (${m(amounts.asking)}) ${takes}${why}. Look at the charge in ` +
      'the Dashboard: if they were paid back there, resolve the payment; if not, refund what is still owed there, then resolve it.',
  );
}

/**
 * What a refund of this payment must leave paid: the shares of its bookings still confirmed and the shares an operator
 * waived; all of it when one has no share of its own, or one priced in another currency than the charge (so many euro
 * cents are no amount of yen).
 */
async function keptAmount(store: BookingStore, record: PaymentRecord): Promise<number> {
  const trip = record.tripId === undefined ? undefined : await store.getTrip(record.tripId);
  const confirmed = trip
    ? (await store.getBookings(trip.bookingReferences)).filter((booking) => booking.status === 'confirmed' && booking.paymentId === record.paymentId)
    : [];
  return keptBy(record, confirmed, trip?.currency);
}

/**
 * What `confirmed` bookings of the payment (their shares) and its waived shares keep of it; all of it when one of them
 * cannot be weighed in the charge's currency (a booking without a share of its own, or one priced in another currency).
 */
function keptBy(record: PaymentRecord, confirmed: readonly Booking[], tripCurrency: Currency | undefined): number {
  const waived = record.refunds.filter((entry) => entry.status === 'waived');
  const unweighable =
    confirmed.some((booking) => booking.amount === undefined || chargedInAnotherCurrency(record, booking.currency ?? tripCurrency ?? record.currency)) ||
    waived.some((entry) => pricedInAnotherCurrency(entry, record));
  if (unweighable) return record.amountPaid;
  return [...waived, ...confirmed].reduce((sum, kept) => sum + (kept.amount ?? 0), 0);
}

/**
 * Input: a payment that needs attention, a person's note. Output: the record once resolved.
 * Steps: read it → refuse while a refund of it is still `requested` → close what this first read found (its reasons, its
 * failed refunds: resolvedAt) and mark it `resolved`, its trip `refunded` when all of its money is back (a claimed
 * payment's: the trip its session was opened for, ended) → write under its version with the note audited. Refused
 * because the payment moved meanwhile, it reads again; what came since (a refund failing while it ran) nobody has seen:
 * left open, the payment stays `needs_attention` for that alone.
 */
export async function resolvePayment(
  deps: Deps,
  paymentId: string,
  note: string,
  actorId?: string,
): Promise<{ ok: true; record: PaymentRecord; seatsLeftHeld?: SeatsLeftHeld } | BookingFailure> {
  let seen: AttentionSeen | undefined;
  return retryWhileStateMoves(
    PAYMENT_RECORD_ATTEMPTS,
    async () => {
      const record = await deps.store.getPaymentRecord(paymentId);
      if (!record) return failure('PAYMENT_NOT_FOUND', `No payment ${paymentId} is recorded.`);
      if (record.status !== 'needs_attention') return failure('NOT_NEEDING_ATTENTION', `Payment ${paymentId} is ${record.status}, not needs_attention.`);
      seen ??= attentionSeen(record);
      // Closed with money still on its way, a payment settled by hand (a bank transfer) would be refunded again by the
      // sweep: the person decides once Stripe has answered every refund.
      const inFlight = record.refunds.filter((entry) => entry.status === 'requested');
      if (inFlight.length > 0) {
        return failure(
          'REFUNDS_IN_FLIGHT',
          `Payment ${paymentId} still has ${inFlight.length === 1 ? 'a refund' : `${inFlight.length} refunds`} Stripe has not answered ` +
            `(${inFlight.map((entry) => entry.refundKey).join(', ')}): the reconciliation sweep asks again every run, ` +
            'payments retry-refund asks now; resolve once it has answered.',
        );
      }
      const at = deps.clock.now().toISOString();
      // What failed is the person's to have settled (a bank transfer) or waived: a later retry-refund never asks for it.
      const { record: resolved, closed } = resolvedAsSeen(record, seen, at);
      const [closedFirst, ...closedMore] = closed.reasons;
      const written = nextVersion(resolved, at);
      const stillNeeded = written.status === 'needs_attention' ? written.attention : undefined;
      const ended = stillNeeded ? undefined : await tripEndedOnResolve(deps.store, record);
      const tripTransition = ended?.transition;
      const write: AtomicWrite = {
        at,
        paymentRecord: { record: written, expectedVersion: record.version },
        ...(tripTransition && { tripTransition }),
        audits: [
          operatorAudit(deps, 'payment.resolved', paymentId, actorId, {
            note,
            reason: closedFirst?.reason ?? null,
            code: closedFirst?.code ?? null,
            alsoReasons: closedMore.map((more) => more.reason).join(',') || null,
            refundsClosed: closed.refundKeys.join(',') || null,
            stillNeedsAttention:
              reasonsOf(stillNeeded)
                .map((left) => left.reason)
                .join(',') || null,
            // What was back when the person closed it: `ops check` tells a claimed payment resolved with all of it back
            // (its booked trip kept knowingly) from one whose money came back only after.
            amountRefunded: written.amountRefunded,
          }),
          ...(ended
            ? [
                auditEntry(deps, {
                  eventType: `trip.${ended.transition.to}`,
                  entityType: 'trip',
                  entityId: ended.transition.tripId,
                  actorType: 'operator',
                  actorId,
                  at,
                  metadata: { paymentId, refundId: ended.transition.refundId ?? null, reason: ended.reason },
                }),
              ]
            : []),
        ],
      };
      const { result, seatsLeftHeld } = ended?.waiting
        ? await commitGivingSeatsBack(deps, write, ended.waiting, actorId)
        : { result: await deps.store.commit(write) };
      if (result.committed) return { ok: true, record: written, ...(seatsLeftHeld && { seatsLeftHeld }) };
      return STATE_MOVED;
    },
    () => failure('TRANSACTION_FAILED', `Payment ${paymentId} kept changing; try again.`, { retryable: true }),
  );
}

/**
 * A resolution that ends a waiting trip gives back the seats its checkout still holds, as every path that ends one does.
 * Only if it can: a slot that does not take the release (its counts no longer read as numbers) is no reason the payment
 * cannot be resolved; written without it, the hold is left held, and the person who resolved it is told why.
 */
async function commitGivingSeatsBack(
  deps: Deps,
  write: AtomicWrite,
  trip: Trip,
  actorId?: string,
): Promise<{ readonly result: AtomicWriteResult; readonly seatsLeftHeld?: SeatsLeftHeld }> {
  try {
    return { result: await commitReleasingHold(deps, write, trip, 'operator', actorId) };
  } catch (error) {
    // A store that did not answer may have written it all: the caller says so, and a run again reads what is there.
    if (error instanceof StoreUnavailableError) throw error;
    const problem = error instanceof Error ? error.message : String(error);
    return { result: await deps.store.commit(write), seatsLeftHeld: { tripId: trip.tripId, problem } };
  }
}

/** The seats a resolution could not give back with the trip it ended: why, for the person who ran it. */
export interface SeatsLeftHeld {
  readonly tripId: string;
  readonly problem: string;
}

/** A trip the resolution of its payment moves on, and why (its audit entry's reason). */
interface TripEndedOnResolve {
  readonly transition: TripTransition;
  readonly reason: string;
  /** The trip as read when it was still waiting for its payment: its checkout may hold seats. */
  readonly waiting?: Trip;
}

async function tripEndedOnResolve(store: BookingStore, record: PaymentRecord): Promise<TripEndedOnResolve | undefined> {
  if (isClaimedPayment(record)) return claimedSessionTripEndOnResolve(store, record);
  const transition = await tripRefundedOnResolve(store, record);
  return transition && { transition, reason: 'payment_resolved_with_all_of_it_back' };
}

/** The trip its session was opened for, ended as a resolution ends it; with the trip as read while it still waited. */
async function claimedSessionTripEndOnResolve(store: BookingStore, record: PaymentRecord): Promise<TripEndedOnResolve | undefined> {
  const trip = record.paidForTripId === undefined ? undefined : await readableTrip(store, record.paidForTripId);
  const transition = claimedSessionTripEnd(record, trip, true);
  if (!transition || !trip) return undefined;
  return {
    transition,
    reason: transition.to === 'refunded' ? 'paid_for_another_trip_all_of_it_back' : 'paid_for_another_trip_money_kept',
    ...(CONFIRMABLE_TRIP_STATUSES.includes(trip.status) && { waiting: trip }),
  };
}

/**
 * The trip of a payment a person resolves once all of its money is back (Stripe's total says so, a refund made in the
 * Dashboard included): it moves on to `refunded`, as it would have had our own refund brought the money back. A trip
 * still booked, or whose money is not all back (settled another way), is left as it is.
 */
async function tripRefundedOnResolve(store: BookingStore, record: PaymentRecord): Promise<TripTransition | undefined> {
  // A payment resolved before, back in front of a person (a refund pending then failed since), is closed again the same way.
  const owing = ['cancelled', 'refund_pending', 'resolved'].includes(liveStatus(record));
  // A claimed payment's money went back to its session's traveller: the trip create-booking booked with it stays as it is.
  if (!owing || record.setAside || record.tripId === undefined || !allMoneyBack(record) || isClaimedPayment(record)) return undefined;
  const trip = await store.getTrip(record.tripId);
  if (trip?.paymentId !== record.paymentId || (trip.status !== 'cancelled' && trip.status !== 'refund_pending')) return undefined;
  const refundId = lastStripeRefundId(record);
  return { tripId: trip.tripId, from: [trip.status], to: 'refunded', ...(refundId !== undefined && { refundId }) };
}

export interface PaymentProblem {
  readonly paymentId: string;
  readonly tripId?: string;
  readonly problem: string;
}

/**
 * A refund is stored `requested` before Stripe is asked; the reconciliation sweep asks again every run until Stripe
 * answers. One still unanswered after this long (the OverdueRefunds alarm's hour) is worth a person's look.
 */
const UNANSWERED_REFUND_MS = OVERDUE_AFTER_MS;
/** Card refunds settle within days; one still pending after this is worth a look at Stripe. */
const STUCK_REFUND_MS = 10 * 86_400_000;

/**
 * A claimed payment a person resolved once all of its money was back (the README's remedy): that money was its session's
 * traveller's, and the person kept the trip create-booking booked. Money back only after the resolution is not this.
 */
async function keptBookedByAPerson(store: BookingStore & BookingQueries, record: PaymentRecord): Promise<boolean> {
  if (!isClaimedPayment(record) || record.status !== 'resolved') return false;
  const resolutions = (await store.listAudit('payment', record.paymentId)).filter((entry) => entry.eventType === 'payment.resolved');
  const last = resolutions.at(-1)?.metadata.amountRefunded;
  return typeof last === 'number' && last >= record.amountPaid;
}

/**
 * Payments whose money does not add up (more refunded than paid, a trip still booked by money that went back),
 * and refunds that are not moving (requested and still unanswered after an hour, pending for too long).
 */
export async function checkPayments(store: BookingStore & BookingQueries, now: Date = new Date()): Promise<{ payments: number; problems: PaymentProblem[] }> {
  const problems: PaymentProblem[] = [];
  const records = await store.listAllPaymentRecords((problem) => problems.push({ paymentId: problem.entityId, problem: problem.message }));
  for (const record of records) {
    const at = (problem: string): void => {
      problems.push({ paymentId: record.paymentId, ...(record.tripId !== undefined && { tripId: record.tripId }), problem });
    };
    const succeeded = record.refunds.filter((entry) => entry.status === 'succeeded').reduce((sum, entry) => sum + entry.amount, 0);
    if (record.amountRefunded > record.amountPaid) at(`refunded ${record.amountRefunded} of ${record.amountPaid} paid`);
    for (const entry of record.refunds) {
      const age = now.getTime() - Date.parse(entry.updatedAt);
      // Unanswered since it was stored: a key renewed since (Stripe keeping an error under the last) is no answer.
      if (entry.status === 'requested' && now.getTime() - Date.parse(entry.requestedAt) > UNANSWERED_REFUND_MS)
        at(`refund ${entry.refundKey} requested at ${entry.requestedAt} and still unanswered by Stripe: run payments retry-refund to ask now`);
      if ((entry.status === 'pending' || entry.status === 'requires_action') && age > STUCK_REFUND_MS)
        at(`refund ${entry.refundKey} ${entry.status} since ${entry.updatedAt}: look it up at Stripe`);
    }
    if (succeeded > record.amountPaid) at(`refunds succeeded for ${succeeded} of ${record.amountPaid} paid`);
    if (record.tripId === undefined || record.setAside || record.amountPaid === 0 || record.amountRefunded < record.amountPaid) continue;
    const trip = await store.getTrip(record.tripId).catch((error: unknown) => {
      if (!(error instanceof StoredDataError)) throw error;
      at(error.message);
      return undefined;
    });
    if (trip?.status === 'booked' && trip.paymentId === record.paymentId && !(await keptBookedByAPerson(store, record))) {
      at('trip booked while its payment was refunded in full');
    }
  }
  return { payments: records.length, problems };
}
