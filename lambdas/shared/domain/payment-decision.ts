// The payment state machine as a pure decision: from the stored trip and payment record and one event, the plan to carry out.
import { isClaimedPayment, refundChangeMoves, withFailureDated, writtenByAConfirmation } from './payment-ledger';
import {
  CONFIRMABLE_TRIP_STATUSES,
  SESSION_SLACK_MS,
  type CheckoutTrip,
  type PaymentRecord,
  type RefundEntry,
  type RefundStatus,
  type Trip,
  type TripStatus,
} from './model';

interface EventIdentity {
  readonly eventId: string;
  readonly eventType: string;
}

/** A checkout session finished: paid (confirm the trip) or not yet (a delayed payment method). */
export interface CheckoutCompleted extends EventIdentity {
  readonly kind: 'checkout-completed';
  readonly paid: boolean;
  readonly sessionId: string;
  readonly tripId?: string;
  readonly userId?: string;
  /** The PaymentIntent; absent when nothing was charged through one (a free checkout). */
  readonly paymentId?: string;
  /** What was charged (`amount_total`), after discounts. */
  readonly amount: number | null;
  /** The price before discounts (`amount_subtotal`), which is what the trip was priced at. */
  readonly amountSubtotal: number | null;
  /** Stripe's discount (`total_details.amount_discount`). */
  readonly amountDiscount: number;
  readonly currency: string | null;
  /** The trip's items as the session carries them; absent for sessions created before they were written. */
  readonly checkoutTrip?: CheckoutTrip;
}

/** A checkout ended without money: its delayed payment failed, or it expired unpaid. */
export interface CheckoutEnded extends EventIdentity {
  readonly kind: 'checkout-ended';
  readonly to: 'payment_failed' | 'expired';
  readonly sessionId: string;
  readonly tripId?: string;
  /** When the session was to end (epoch seconds, Stripe's `expires_at`), on an expired one. */
  readonly sessionExpiresAt?: number;
}

export interface ChargeRefunded extends EventIdentity {
  readonly kind: 'charge-refunded';
  readonly paymentId: string;
  readonly tripId?: string;
  readonly amount: number;
  readonly amountRefunded: number;
  readonly currency: string;
  /** The charge carries our checkout's mark; one without it is ours only if we hold its payment's record. */
  readonly marked: boolean;
  /** When Stripe made the event (epoch seconds): the charge's total is a snapshot as of then. */
  readonly occurredAt?: number;
}

/** A refund was created or changed state (`refund.created`, `refund.updated`, `refund.failed`). */
export interface RefundChanged extends EventIdentity {
  readonly kind: 'refund-changed';
  readonly refundId: string;
  readonly paymentId: string;
  readonly amount: number;
  readonly status: Exclude<RefundStatus, 'requested' | 'waived' | 'superseded'>;
  /** Our key, from the refund's metadata, when we made it. */
  readonly refundKey?: string;
  readonly failureReason?: string;
  /** When Stripe created the refund (epoch seconds). */
  readonly created?: number;
  /** When Stripe made the event (epoch seconds). */
  readonly occurredAt?: number;
  /** The `refund.updated` of the refund's change to `status` (its `previous_attributes` name the status before): made when it changed. */
  readonly statusChanged?: boolean;
}

export type PaymentEvent = CheckoutCompleted | CheckoutEnded | ChargeRefunded | RefundChanged;

export type PaymentOutcome =
  | 'booked'
  | 'duplicate'
  | 'refunded'
  | 'already_refunded'
  | 'nothing_to_refund'
  | 'awaiting_payment'
  | 'payment_failed'
  | 'expired'
  | 'released'
  | 'refund_recorded'
  | 'partial_refund_recorded'
  | 'refund_updated'
  | 'needs_attention'
  | 'ignored'
  | 'no_change';

/** What is stored about the event's trip and payment, read once (strongly consistent) before deciding. */
export interface PaymentState {
  readonly trip?: Trip;
  readonly record?: PaymentRecord;
}

/** One step to carry out; every step that writes is one transaction, and the state is read again if it moved. */
export type Plan =
  | { readonly step: 'answer'; readonly outcome: PaymentOutcome }
  | { readonly step: 'confirm'; readonly trip: Trip; readonly amountPaid: number }
  | { readonly step: 'set-aside'; readonly reason: string }
  | { readonly step: 'attention'; readonly reason: string }
  | { readonly step: 'attend-claimed-payment' }
  | { readonly step: 'record-charge' }
  | { readonly step: 'record-kept-partial-refund' }
  | { readonly step: 'issue-refunds' }
  | { readonly step: 'resume-trip-refund'; readonly trip: Trip }
  | { readonly step: 'close-trip'; readonly trip: Trip; readonly outcome: PaymentOutcome }
  | { readonly step: 'release' }
  | { readonly step: 'settle-refunded'; readonly outcome: PaymentOutcome }
  | { readonly step: 'record-charge-total'; readonly outcome: PaymentOutcome }
  | { readonly step: 'record-early-refund' }
  | { readonly step: 'record-partial-refund-early' }
  | { readonly step: 'move-refund' }
  | { readonly step: 'move-trip'; readonly trip: Trip; readonly to: TripStatus; readonly outcome: PaymentOutcome };

/** A plan and the row of `docs/payment-flow.md` that says why. */
export interface Decision {
  readonly rule: string;
  readonly plan: Plan;
}

const answer = (rule: string, outcome: PaymentOutcome): Decision => ({ rule, plan: { step: 'answer', outcome } });

/** The PaymentIntent, or the session when nothing was charged through one: the key of the payment record. */
export function paymentIdOf(event: CheckoutCompleted): string {
  return event.paymentId ?? event.sessionId;
}

/** What the traveller paid; a session without a total paid nothing we can see. */
export function amountPaidOf(event: CheckoutCompleted): number {
  return event.amount ?? 0;
}

/** Why a paid session may not book the trip it names, or undefined when it matches. */
export function mismatchOf(trip: Trip, event: CheckoutCompleted): string | undefined {
  if (event.userId !== trip.userId) return 'user_mismatch';
  if (trip.checkoutSessionId !== undefined && trip.checkoutSessionId !== event.sessionId) return 'session_mismatch';
  // A discount lowers what is charged, not the price: the price before it must be the trip's, and the charge that price less the discount.
  const price = event.amountSubtotal ?? event.amount;
  if (price !== trip.amount) return 'amount_mismatch';
  if (event.amount !== null && event.amount !== price - event.amountDiscount) return 'amount_mismatch';
  if (event.currency?.toLowerCase() !== trip.currency) return 'currency_mismatch';
  return undefined;
}

/** A session other than the trip's recorded one (an old, abandoned checkout) may not move the trip. */
function sessionMayMove(trip: Trip, sessionId: string): boolean {
  return trip.checkoutSessionId === undefined || trip.checkoutSessionId === sessionId;
}

/**
 * An expired session that was to end well before the session the trip's hold is now held for: an earlier attempt's, its
 * answer lost and never shown, replaced when a retry held the hold on. Its end is not the checkout's. (A minute covers
 * Stripe's whole seconds.)
 */
function endedBeforeItsHold(trip: Trip, event: CheckoutEnded): boolean {
  if (event.to !== 'expired' || event.sessionExpiresAt === undefined || trip.holdExpiresAt === undefined) return false;
  // A page recorded is the trip's, whatever hold it was made for: its end is the checkout's.
  if (trip.checkoutSessionId !== undefined) return false;
  return event.sessionExpiresAt * 1000 < Date.parse(trip.holdExpiresAt) - SESSION_SLACK_MS - 60_000;
}

function isConfirmable(trip: Trip): boolean {
  return CONFIRMABLE_TRIP_STATUSES.includes(trip.status);
}

/**
 * The payment cannot book: it is set aside and refunded in full — unless nothing was paid (nothing to
 * refund), or money was taken without a PaymentIntent (nothing we may refund: a person decides).
 */
function setAside(rule: string, event: CheckoutCompleted, reason: string): Decision {
  if (amountPaidOf(event) > 0 && event.paymentId === undefined)
    return { rule: 'paid-no-payment-intent', plan: { step: 'attention', reason: 'no_payment_intent' } };
  return { rule, plan: { step: 'set-aside', reason } };
}

export function decide(state: PaymentState, event: PaymentEvent): Decision {
  switch (event.kind) {
    case 'checkout-completed':
      return event.paid ? decidePaid(state, event) : decideUnpaid(state, event);
    case 'checkout-ended':
      return decideEnded(state, event);
    case 'charge-refunded':
      return event.amountRefunded < event.amount ? decidePartialRefund(state, event) : decideFullRefund(state, event);
    case 'refund-changed':
      return decideRefundChanged(state, event);
  }
}

function decidePaid({ trip, record }: PaymentState, event: CheckoutCompleted): Decision {
  const paymentId = paymentIdOf(event);
  if (record) {
    // Written for another trip than the one this payment's session was for: create-booking's caller named this payment
    // for a trip it did not pay. Answered from the record (booked: duplicate; cancelled or refunded by its shares: done),
    // the money would be kept with nothing booked for it.
    if (claimedForAnotherTrip(record, event)) return { rule: 'paid-record-other-trip', plan: { step: 'attend-claimed-payment' } };
    if (keepsPartialRefundOf(trip, paymentId)) return KEPT_PARTIAL_REFUND;
    if (chargedOtherwise(record, trip, event)) return { rule: 'paid-record-charged-otherwise', plan: { step: 'record-charge' } };
    switch (record.status) {
      case 'booked':
        return answer('paid-record-booked', 'duplicate');
      case 'refund_pending':
        return { rule: 'paid-record-refund-pending', plan: { step: 'issue-refunds' } };
      case 'refunded':
        if (record.reason !== 'refunded_before_confirmation') return answer('paid-record-refunded', 'refunded');
        // The charge may not have named its trip; a matching paid session for a waiting trip does.
        if (trip && (record.tripId ?? trip.tripId) === trip.tripId && isConfirmable(trip) && !mismatchOf(trip, event)) {
          return { rule: 'paid-refunded-first-trip-waiting', plan: { step: 'close-trip', trip, outcome: 'already_refunded' } };
        }
        return answer('paid-refunded-first', 'already_refunded');
      case 'needs_attention':
        return answer('paid-record-needs-attention', 'needs_attention');
      case 'cancelled':
      case 'resolved':
        return answer('paid-record-closed', 'no_change');
    }
  }
  if (!trip) return setAside('paid-unknown-trip', event, 'unknown_trip');
  // Moved by this payment before payment records existed: a redelivery, answered from the trip.
  if (trip.paymentId === paymentId) {
    // Its record is read by the step: a trip booked at its price is read alone first.
    if (trip.status === 'booked' && keepsPartialRefundOf(trip, paymentId)) return KEPT_PARTIAL_REFUND;
    if (trip.status === 'booked') return answer('paid-record-booked', 'duplicate');
    if (trip.status === 'refunded') return answer('paid-record-refunded', 'refunded');
    if (trip.status === 'refund_pending') return { rule: 'paid-legacy-refund-pending', plan: { step: 'resume-trip-refund', trip } };
  }
  const mismatch = mismatchOf(trip, event);
  if (mismatch) return setAside('paid-mismatch', event, mismatch);
  if (!isConfirmable(trip)) return setAside('paid-trip-not-payable', event, `trip_${trip.status}`);
  return { rule: 'paid-matching', plan: { step: 'confirm', trip, amountPaid: amountPaidOf(event) } };
}

/**
 * A record of this payment for another trip than its session's, the claim not raised yet (whatever its status: a
 * person may have resolved it for another reason, never having seen the claim): create-booking booked that trip with
 * a payment made for this one.
 */
function claimedForAnotherTrip(record: PaymentRecord, event: CheckoutCompleted): boolean {
  if (record.tripId === undefined || event.tripId === undefined || record.tripId === event.tripId) return false;
  return !isClaimedPayment(record);
}

/**
 * A payment whose record was written while its trip kept a partial refund of it seen before that record (create-booking
 * writes its record without asking Stripe, having no Stripe key): the record is told what Stripe counts back first.
 */
const KEPT_PARTIAL_REFUND: Decision = { rule: 'paid-record-kept-partial-refund', plan: { step: 'record-kept-partial-refund' } };

/** Whether the trip keeps a total of this payment taken after `event`'s (in a later second: one of the same second may be older). */
function keptTotalNewerThan(trip: Trip | undefined, event: ChargeRefunded): boolean {
  const kept = trip?.chargeRefundedEarly?.find((entry) => entry.paymentId === event.paymentId);
  return kept?.asOf !== undefined && event.occurredAt !== undefined && kept.asOf > event.occurredAt;
}

/** Whether the trip keeps a partial refund of this payment seen before its record (`chargeRefundedEarly`). */
export function keepsPartialRefundOf(trip: Trip | undefined, paymentId: string): boolean {
  return trip?.chargeRefundedEarly?.some((entry) => entry.paymentId === paymentId) ?? false;
}

/**
 * The record a confirmation of the trip this payment booked wrote without its session (create-booking knows none, so it
 * could only record the trip's price), whatever became of it since, which the payment's own session says was charged
 * otherwise: a discount, or another currency.
 */
function chargedOtherwise(record: PaymentRecord, trip: Trip | undefined, event: CheckoutCompleted): boolean {
  if (record.sessionId !== undefined || !writtenByAConfirmation(record) || event.amount === null) return false;
  if (trip === undefined || trip.paymentId !== record.paymentId || record.tripId !== trip.tripId) return false;
  return event.amount !== record.amountPaid || (event.currency?.toLowerCase() ?? record.currency) !== record.currency;
}

/**
 * Booked by this payment, as the trip alone tells: the answer needs no payment record unless the session charged
 * other than the trip's price (a discount), which create-booking, booking it first, could not have recorded.
 */
export function bookedAtItsPrice(trip: Trip, event: CheckoutCompleted): boolean {
  return trip.status === 'booked' && trip.paymentId === paymentIdOf(event) && chargedItsPrice(trip, event);
}

/** The session charged the trip's price, in its currency (or says nothing of what it charged). */
export function chargedItsPrice(trip: Pick<Trip, 'amount' | 'currency'>, event: CheckoutCompleted): boolean {
  return event.amount === null || (event.amount === trip.amount && event.currency?.toLowerCase() === trip.currency);
}

function decideUnpaid({ trip }: PaymentState, event: CheckoutCompleted): Decision {
  if (trip && trip.status === 'pending_payment' && sessionMayMove(trip, event.sessionId)) {
    return { rule: 'unpaid-pending', plan: { step: 'move-trip', trip, to: 'awaiting_payment', outcome: 'awaiting_payment' } };
  }
  return answer('checkout-end-late', 'no_change');
}

function decideEnded({ trip }: PaymentState, event: CheckoutEnded): Decision {
  // Arriving after the trip was booked (or otherwise settled), an end of checkout changes nothing.
  if (trip && isConfirmable(trip) && sessionMayMove(trip, event.sessionId)) {
    if (endedBeforeItsHold(trip, event)) return answer('checkout-expired-superseded', 'no_change');
    return { rule: 'checkout-ended-waiting', plan: { step: 'move-trip', trip, to: event.to, outcome: event.to } };
  }
  return answer('checkout-end-late', 'no_change');
}

function decideFullRefund({ trip, record }: PaymentState, event: ChargeRefunded): Decision {
  const bookedHere = trip?.paymentId === event.paymentId && trip.status === 'booked';
  if (!record && !event.marked && !bookedHere) return answer('refund-foreign-charge', 'ignored');
  // Taken no later than a refund's failure, the whole charge this total shows back may be that refund: it moves no
  // booking, trip or record status by itself; a person looks at the charge (one already looking gets the total recorded).
  // Older than the partial total the trip keeps of this payment (seen before its record, or before the record
  // create-booking wrote was told it): Stripe has since said less is back, the full refund having failed or been canceled.
  const superseded = keptTotalNewerThan(trip, event);
  const stale = record !== undefined && (superseded || mayCountAFailedRefund(record, event));
  // Whatever else the record says (a person may be looking at a refused share refund), the money is back: release;
  // not the trip of a payment claimed for it, which that charge did not pay (its bookings are for a person to judge).
  if (record && !stale && !isClaimedPayment(record) && (record.status === 'booked' || bookedHere)) {
    return { rule: 'full-refund-booked', plan: { step: 'release' } };
  }
  if (record) {
    switch (record.status) {
      case 'booked':
      case 'cancelled':
      case 'refund_pending':
        if (stale) return { rule: 'full-refund-stale', plan: { step: 'attention', reason: 'full_refund_stale' } };
        if (record.status === 'cancelled') return { rule: 'full-refund-cancelled', plan: { step: 'settle-refunded', outcome: 'refund_recorded' } };
        return { rule: 'full-refund-refund-pending', plan: { step: 'settle-refunded', outcome: 'refunded' } };
      case 'needs_attention':
        // The record holds no total of its own to weigh an old one against: the trip's newer one says it is old.
        if (superseded) return { rule: 'full-refund-stale', plan: { step: 'attention', reason: 'full_refund_stale' } };
        return { rule: 'full-refund-needs-attention', plan: { step: 'record-charge-total', outcome: 'refund_recorded' } };
      case 'resolved':
        // Closed by a person before all of it was back (a refund still under way): Stripe's word that it is all back now
        // is recorded, and moves the trip on, unless it may count a refund failed since.
        if (!stale && record.amountRefunded < record.amountPaid) {
          return { rule: 'full-refund-resolved', plan: { step: 'record-charge-total', outcome: 'refund_recorded' } };
        }
        return answer('full-refund-settled', 'duplicate');
      case 'refunded':
        return answer('full-refund-settled', 'duplicate');
    }
  }
  // No record: an old snapshot, ignored as a record ignores one; the newer total stays kept, the trip as it is.
  if (superseded) return { rule: 'full-refund-unconfirmed-superseded', plan: { step: 'record-partial-refund-early' } };
  // Booked by this payment before payment records existed.
  if (trip?.paymentId === event.paymentId && trip.status === 'booked') return { rule: 'full-refund-booked-unrecorded', plan: { step: 'release' } };
  return { rule: 'full-refund-unconfirmed', plan: { step: 'record-early-refund' } };
}

/**
 * The charge's total in `event` may count a refund that has failed since: it was taken before the total the record
 * holds (which Stripe's refund.failed moves past its second), or no later than the event or answer that showed a failure
 * learned without its time (`failedNoLaterThan`).
 */
function mayCountAFailedRefund(record: PaymentRecord, event: ChargeRefunded): boolean {
  const takenAt = event.occurredAt;
  if (takenAt === undefined) return false;
  if (record.chargeRefundedAsOf !== undefined && takenAt < record.chargeRefundedAsOf) return true;
  return record.refunds.some((entry) => entry.failedNoLaterThan !== undefined && takenAt <= entry.failedNoLaterThan);
}

function decidePartialRefund({ record }: PaymentState, event: ChargeRefunded): Decision {
  if (!record && !event.marked) return answer('refund-foreign-charge', 'ignored');
  if (record) return { rule: 'partial-refund-recorded-payment', plan: { step: 'record-charge-total', outcome: 'partial_refund_recorded' } };
  return { rule: 'partial-refund-unrecorded-payment', plan: { step: 'record-partial-refund-early' } };
}

function decideRefundChanged({ record }: PaymentState, event: RefundChanged): Decision {
  if (!record) return answer('refund-event-unknown-payment', 'no_change');
  const entry = refundOfEvent(record, event);
  if (!entry) return { rule: 'refund-event-outside-refund', plan: { step: 'move-refund' } };
  if (!refundChangeMoves(entry, event.status, event.refundId)) {
    // Stripe's refund.failed of a failure learned before without its time: the time settles what the charge totals count.
    if (event.occurredAt !== undefined && carriesFailureTime(event) && withFailureDated(record, entry, event.status, event.occurredAt)) {
      return { rule: 'refund-event-dates-failure', plan: { step: 'move-refund' } };
    }
    return answer('refund-event-stale', 'duplicate');
  }
  return { rule: 'refund-event-moves-refund', plan: { step: 'move-refund' } };
}

/**
 * Whether the event was created when its refund failed (or was canceled): `refund.failed`, or the `refund.updated` of the
 * change of state itself. Any other `refund.updated` may be a later update of it.
 */
export function carriesFailureTime(event: RefundChanged): boolean {
  return event.eventType === 'refund.failed' || event.statusChanged === true;
}

/** The refund of `record` that a `refund.*` event is about: ours by its key, or any by Stripe's id. */
export function refundOfEvent(record: PaymentRecord, event: RefundChanged): RefundEntry | undefined {
  return record.refunds.find(
    (candidate) =>
      (event.refundKey !== undefined && candidate.refundKey === event.refundKey) ||
      candidate.stripeRefundId === event.refundId ||
      // One made outside this service, recorded before it kept Stripe's id from its first event.
      candidate.refundKey === outsideRefundKey(event.refundId),
  );
}

/** The key under which a refund made outside this service (in the Dashboard) is recorded. */
export function outsideRefundKey(refundId: string): string {
  return `stripe-${refundId}`;
}
