// Use case: apply one payment event to its trip and payment record, idempotently and in any order: load, decide, carry out.
import { PAYMENT_RECORD_ATTEMPTS, retryWhileStateMoves, STATE_MOVED } from './state-moved';
import type { AtomicWrite, BookingShareChange, BookingStore, TripTransition } from './booking-store';
import type { PaymentDeps } from './collaborators';
import { auditEntry, processedEventRecord, type EventMarker } from './audit-trail';
import { commitConfirmation, confirmTrip, paidShares, type RefundsBeforeRecord, withRefundsBeforeRecord } from './confirm-trip';
import { StoreUnavailableError, StoredDataError, type BookingErrorCode } from './errors';
import { claimedSessionTripRefunded, issueRequestedRefunds, type StoredRefunds, tripRefundedBy } from './issue-refunds';
import { CONFIRMABLE_TRIP_STATUSES, type AuditEntry, type Booking, type EarlyChargeTotal, type PaymentRecord, type RefundEntry, type Trip } from './model';
import {
  amountPaidOf,
  bookedAtItsPrice,
  carriesFailureTime,
  chargedItsPrice,
  decide,
  keepsPartialRefundOf,
  outsideRefundKey,
  paymentIdOf,
  refundOfEvent,
  type ChargeRefunded,
  type CheckoutCompleted,
  type PaymentEvent,
  type PaymentOutcome,
  type PaymentState,
  type Plan,
  type RefundChanged,
} from './payment-decision';
import { PaymentGatewayUnavailableError } from './payment-gateway';
import {
  CLAIMED_PAYMENT,
  chargeFullyRefunded,
  fullRefundEntries,
  fullRefundKey,
  moveRefund,
  newPaymentRecord,
  nextEarlyChargeTotals,
  nextVersion,
  openRefundAmount,
  refundableAmount,
  refundEntry,
  refundedFirstRecord,
  settle,
  withAttention,
  withCharge,
  withChargeTotal,
  withLiveStatus,
} from './payment-ledger';
import { tellKeptPartialRefund } from './kept-partial-refund';
import { releaseBookings } from './release-bookings';
import { commitReleasingHold } from './release-holds';
import { recordUnusableEvent } from './unusable-events';

export type { ChargeRefunded, CheckoutCompleted, CheckoutEnded, PaymentEvent, PaymentOutcome, RefundChanged } from './payment-decision';

export interface PaymentEventResult {
  readonly outcome: PaymentOutcome;
  readonly tripId?: string;
  readonly references?: readonly string[];
  /** Why the outcome is what it is (the refusal code of an unbookable trip, a mismatch, Stripe's error code…). */
  readonly reason?: string;
  /** True when the payment could not be matched to a trip it may book, and was set aside to be refunded. */
  readonly setAside?: boolean;
  /** The decision row of `docs/payment-flow.md` that applied last. */
  readonly rule?: string;
  /**
   * True when this call changed nothing and asked the provider for nothing: the outcome is what the stored records
   * already said (a redelivery, the traveller's page asking again, the sweep finding it done). What such an outcome
   * counts (a refund, a payment set aside or needing a person) was counted by the call that brought it about.
   */
  readonly unchanged?: true;
}

/** Marks a result that repeats what was stored: nothing written, nothing asked. */
const UNCHANGED = { unchanged: true } as const;

/** Not a business outcome: the same event must be delivered again later (Stripe retries on a 5xx). */
export class RetryLaterError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RetryLaterError';
  }
}

/**
 * The provider could not answer what the processing asks it before its first write (what is back of a payment), and
 * nothing stored will finish the event's work: the event itself must come again. A delivery is answered 500 for it, as
 * for any RetryLaterError; the reconciliation sweep stops at it instead of leaving it to the refunds due.
 */
export class UnansweredBeforeWritingError extends RetryLaterError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'UnansweredBeforeWritingError';
  }
}

/**
 * `ask` of the provider before anything of the event is written: its failure for now is the event's to come again
 * (UnansweredBeforeWritingError), unless `leftToTheLedger` says a record of the payment already holds its work (a
 * refund stored before, which the refunds due ask for), as a failure after a write is.
 */
async function askedBeforeWriting<T>(ask: () => Promise<T>, leftToTheLedger: () => Promise<boolean> = async () => false): Promise<T> {
  try {
    return await ask();
  } catch (error) {
    if (!(error instanceof PaymentGatewayUnavailableError)) throw error;
    // Not known to be held: the event comes again, which is never wrong, only slower.
    if (await leftToTheLedger().catch(() => false)) throw error;
    throw new UnansweredBeforeWritingError(error.message, { cause: error });
  }
}

/** Events are remembered longer than Stripe retries (3 days), so a very late redelivery is still recognised. */
export const PROCESSED_EVENT_RETENTION_DAYS = 35;

type StepResult = PaymentEventResult | 'state-changed';

/**
 * Input: one verified payment event. Output: what it did, as an outcome every redelivery repeats.
 * Steps: load the trip and the payment record once → `decide` (pure) → carry out the plan, one transaction
 * per step, each guarded by the state it read → if the state moved, load and decide again.
 */
export async function handlePaymentEvent(deps: PaymentDeps, event: PaymentEvent): Promise<PaymentEventResult> {
  try {
    const confirmed = await confirmWithoutReading(deps, event);
    if (confirmed) return confirmed;
    // Awaited here, so a failure of any attempt reaches the catch below.
    return await retryWhileStateMoves(
      PAYMENT_RECORD_ATTEMPTS,
      async (attempt) => {
        const state = await loadState(deps.store, event, attempt > 1);
        const { rule, plan } = decide(state, event);
        const result = await carryOut(deps, event, state, plan);
        if (result !== 'state-changed') return { ...result, rule };
        return STATE_MOVED;
      },
      () => {
        throw new RetryLaterError(`The state of event ${event.eventId}'s payment kept changing`);
      },
    );
  } catch (error) {
    if (error instanceof StoredDataError) return keepForAPerson(deps, event, error);
    if (error instanceof StoreUnavailableError || error instanceof PaymentGatewayUnavailableError) {
      throw new RetryLaterError(error.message, { cause: error });
    }
    throw error;
  }
}

/**
 * The happy path in one request. A paid session that carries its trip's items (our checkout writes them into its
 * metadata, and Stripe signs them inside the event) is confirmed without reading anything first: the transaction's
 * conditions check what the read would have — the trip is waiting, the traveller's, opened for this very session,
 * priced at what the session charged before discounts, for exactly these items — and the payment record and
 * processed-event record must not exist yet. A redelivery is refused by the same conditions and answered from the trip the refusal returns.
 * Any other refusal, or a session without items, returns undefined: the full path reads the state and decides.
 */
async function confirmWithoutReading(deps: PaymentDeps, event: PaymentEvent): Promise<PaymentEventResult | undefined> {
  if (event.kind !== 'checkout-completed' || !event.paid || event.checkoutTrip === undefined) return undefined;
  const { tripId, userId, checkoutTrip, currency } = event;
  if (tripId === undefined || userId === undefined || currency === null) return undefined;
  const price = event.amountSubtotal ?? event.amount;
  const amountPaid = amountPaidOf(event);
  const itemsPrice = checkoutTrip.itemAmounts.reduce((sum, amount) => sum + amount, 0);
  // What the full path would set aside or put in front of a person is decided there, after reading.
  if (price === null || itemsPrice !== price || amountPaid !== price - event.amountDiscount) return undefined;
  if (amountPaid > 0 && event.paymentId === undefined) return undefined;
  const paymentId = paymentIdOf(event);
  let attempt: Awaited<ReturnType<typeof commitConfirmation>>;
  try {
    attempt = await commitConfirmation(deps, {
      trip: { tripId, userId, currency, amount: price, ...checkoutTrip },
      paymentId,
      marker: markerOf(deps, event),
      amountPaid,
      sessionId: event.sessionId,
      // Our checkout holds every trip it opens a session for; a hold that is gone is retried without it.
      held: true,
      paidFor: { checkoutSessionId: event.sessionId, amount: price, currency, ...checkoutTrip },
    });
  } catch (error) {
    // No definite answer: the full path reads what is stored and finds whether this one landed.
    if (error instanceof StoreUnavailableError) return undefined;
    throw error;
  }
  if (attempt.committed) {
    return { outcome: 'booked', tripId, references: attempt.bookings.map((booking) => booking.reference), rule: 'paid-matching' };
  }
  const current = attempt.rejection.trip?.current;
  if (current !== undefined && bookedAtItsPrice(current, event)) {
    // Booked by this payment already (a redelivery, or the traveller's return got there first).
    const { rule, plan } = decide({ trip: current }, event);
    if (plan.step === 'answer') return { ...answerFromState({ trip: current }, event, plan.outcome), rule };
  }
  return undefined;
}

function paymentOf(event: PaymentEvent): string | undefined {
  switch (event.kind) {
    case 'checkout-completed':
      return event.paid ? paymentIdOf(event) : undefined;
    case 'checkout-ended':
      return undefined;
    case 'charge-refunded':
    case 'refund-changed':
      return event.paymentId;
  }
}

/**
 * Both reads are strongly consistent; the trip of a refund is found through its payment record. A paid
 * checkout whose trip still waits for a payment (or is booked by this one) skips reading the record on the
 * first attempt: every step that follows writes the record under "must not exist", so a record that does exist
 * refuses the step, and the next attempt reads it (`full`).
 */
async function loadState(store: BookingStore, event: PaymentEvent, full: boolean): Promise<PaymentState> {
  const paymentId = paymentOf(event);
  const eventTripId = 'tripId' in event ? event.tripId : undefined;
  if (event.kind === 'checkout-completed' && paymentId !== undefined && !full && eventTripId !== undefined) {
    const trip = await store.getTrip(eventTripId);
    const waiting = trip !== undefined && CONFIRMABLE_TRIP_STATUSES.includes(trip.status);
    if (waiting || (trip !== undefined && bookedAtItsPrice(trip, event))) return { trip };
  }
  const record = paymentId === undefined ? undefined : await store.getPaymentRecord(paymentId);
  const tripId = record?.tripId ?? eventTripId;
  let trip = tripId === undefined ? undefined : await store.getTrip(tripId);
  if (!record && event.kind === 'charge-refunded' && trip?.paymentId !== event.paymentId) {
    // A trip booked before payment records existed is found by the payment index.
    trip = (await store.findTripByPayment(event.paymentId)) ?? trip;
  }
  return { ...(trip && { trip }), ...(record && { record }) };
}

function markerOf(deps: PaymentDeps, event: PaymentEvent): EventMarker {
  const expiresAt = Math.floor(deps.clock.now().getTime() / 1000) + PROCESSED_EVENT_RETENTION_DAYS * 86_400;
  return { eventId: event.eventId, eventType: event.eventType, expiresAt };
}

function processedEvent(deps: PaymentDeps, event: PaymentEvent, outcome: PaymentOutcome, tripId?: string, references: readonly string[] = []) {
  return processedEventRecord(markerOf(deps, event), outcome, { tripId, references, at: deps.clock.now().toISOString() });
}

function audit(deps: PaymentDeps, entry: Pick<AuditEntry, 'eventType' | 'entityType' | 'entityId' | 'metadata'>): AuditEntry {
  return auditEntry(deps, { ...entry, actorType: 'stripe' });
}

/** The answer a payment record gives about itself. */
function fromRecord(record: PaymentRecord, outcome: PaymentOutcome): PaymentEventResult {
  const reason = record.attention?.code ?? record.attention?.reason ?? record.reason;
  return {
    outcome,
    ...(record.tripId !== undefined && { tripId: record.tripId }),
    ...(reason !== undefined && { reason }),
    ...(record.setAside && { setAside: true }),
  };
}

function carryOut(deps: PaymentDeps, event: PaymentEvent, state: PaymentState, plan: Plan): Promise<StepResult> {
  switch (plan.step) {
    case 'answer':
      return Promise.resolve(answerFromState(state, event, plan.outcome));
    case 'confirm':
      return confirm(deps, event as CheckoutCompleted, plan.trip, plan.amountPaid);
    case 'set-aside':
      return setPaymentAside(deps, event as CheckoutCompleted, plan.reason, state.trip);
    case 'attention':
      return state.record ? attendToDecidedRecord(deps, event, state.record, plan.reason) : putInFrontOfAPerson(deps, event, plan.reason);
    case 'attend-claimed-payment':
      return attendToClaimedPayment(deps, event as CheckoutCompleted, state.record as PaymentRecord, state.trip);
    case 'record-charge':
      return recordCharge(deps, event as CheckoutCompleted, state.record as PaymentRecord, state.trip);
    case 'record-kept-partial-refund':
      return recordKeptPartialRefund(deps, event as CheckoutCompleted, state);
    case 'issue-refunds':
      return issueAndAnswer(deps, state.record as PaymentRecord, 'refunded', undefined);
    case 'resume-trip-refund':
      return resumeLegacyTripRefund(deps, event as CheckoutCompleted, plan.trip);
    case 'close-trip':
      return closeTripRefundedFirst(deps, event, plan.trip, state.record as PaymentRecord, plan.outcome);
    case 'release':
      return releaseRefundedTrip(deps, event as ChargeRefunded, state);
    case 'settle-refunded':
      return settleRefunded(deps, event as ChargeRefunded, state, plan.outcome);
    case 'record-charge-total':
      return recordChargeTotal(deps, event as ChargeRefunded, state.record as PaymentRecord, plan.outcome, state.trip);
    case 'record-early-refund':
      return recordEarlyRefund(deps, event as ChargeRefunded, state.trip);
    case 'record-partial-refund-early':
      return recordPartialRefundEarly(deps, event as ChargeRefunded, state.trip);
    case 'move-refund':
      return moveRefundFromEvent(deps, event as RefundChanged, state.record as PaymentRecord, state.trip);
    case 'move-trip':
      return moveTrip(deps, event, plan.trip, plan.to, plan.outcome);
  }
}

/** A decision that writes nothing: the answer the stored trip and record give, which this call changed nothing of. */
function answerFromState({ trip, record }: PaymentState, event: PaymentEvent, outcome: PaymentOutcome): PaymentEventResult {
  if (record) {
    const bookedHere = trip !== undefined && trip.paymentId === record.paymentId && trip.status === 'booked';
    return { ...fromRecord(record, outcome), ...(bookedHere && outcome === 'duplicate' && { references: trip.bookingReferences }), ...UNCHANGED };
  }
  if (trip && outcome === 'duplicate' && trip.paymentId === paymentOf(event)) {
    return { outcome, tripId: trip.tripId, references: trip.bookingReferences, ...UNCHANGED };
  }
  return { outcome, ...(trip && { tripId: trip.tripId }), ...UNCHANGED };
}

async function confirm(deps: PaymentDeps, event: CheckoutCompleted, trip: Trip, amountPaid: number): Promise<StepResult> {
  const paymentId = paymentIdOf(event);
  const before = await refundsBeforeRecord(deps, trip, paymentId);
  const result = await confirmTrip(deps, {
    trip,
    paymentId,
    marker: markerOf(deps, event),
    amountPaid,
    sessionId: event.sessionId,
    refundsBeforeRecord: before,
  });
  if (result.ok) {
    const references = result.bookings.map((booking) => booking.reference);
    if (!result.replayed) return { outcome: 'booked', tripId: trip.tripId, references };
    // Booked by this payment meanwhile (create-booking, say): decided again from the record when it may still have to say
    // what the session charged (other than the trip's price), or what Stripe counts back of a partial refund the trip
    // keeps now (one kept since this read, too), neither of which create-booking's record can know.
    if (!chargedItsPrice(trip, event) || (await keepsPartialRefundNow(deps.store, trip.tripId, paymentId))) return 'state-changed';
    return { outcome: 'duplicate', tripId: trip.tripId, references, ...UNCHANGED };
  }
  return afterRefusedConfirmation(deps, event, trip, result.errorCode, before);
}

/** Whether the trip, read again, keeps a partial refund of this payment seen before its record. */
async function keepsPartialRefundNow(store: BookingStore, tripId: string, paymentId: string): Promise<boolean> {
  const now = await store.getTrip(tripId);
  return now !== undefined && keepsPartialRefundOf(now, paymentId);
}

/**
 * What a payment's first record starts with of refunds made before it, for a trip as read: when the trip kept a partial
 * refund seen first (`chargeRefundedEarly`, of this payment or another of the trip), what Stripe counts back of this
 * payment now. Asked, not taken from the snapshot: a refund that failed since would leave it counting money that never
 * went back. Stripe unable to say for now: the event is answered 500 and comes again.
 */
async function refundsBeforeRecord(deps: PaymentDeps, trip: Trip | undefined, paymentId: string): Promise<RefundsBeforeRecord> {
  const asRead = trip?.chargeRefundedEarly ?? null;
  if (asRead === null) return { asRead };
  // A first attempt reads a waiting trip alone: the payment may have a record all the same (set aside on the traveller's
  // return, its refund stored), whose refunds the refunds due ask for.
  const refundedSoFar = await askedBeforeWriting(
    () => deps.gateway.refundedSoFar(paymentId),
    async () => (await deps.store.getPaymentRecord(paymentId)) !== undefined,
  );
  return { asRead, ...(refundedSoFar !== undefined && { refundedSoFar }) };
}

/** Every code the confirmation can answer, each with its meaning here: no code is refunded by default. */
function afterRefusedConfirmation(
  deps: PaymentDeps,
  event: CheckoutCompleted,
  trip: Trip,
  code: BookingErrorCode,
  before: RefundsBeforeRecord,
): Promise<StepResult> | StepResult {
  switch (code) {
    case 'TRANSACTION_FAILED':
      throw new RetryLaterError('The confirmation could not be committed');
    case 'TRIP_NOT_PENDING':
    case 'TRIP_NOT_FOUND':
    case 'PAYMENT_SET_ASIDE':
      // The trip or the payment record moved first (often another delivery): decide again from what they are now.
      return 'state-changed';
    case 'SLOT_NOT_FOUND':
    case 'SLOT_BLOCKED':
    case 'INSUFFICIENT_AVAILABILITY':
      return refundUnbookableTrip(deps, event, trip, code, before);
    case 'VALIDATION_FAILED':
    case 'TRIP_TOO_LARGE':
    case 'TRIP_MISMATCH':
      // The stored trip itself cannot be confirmed: not the traveller's fault and not ours to guess at.
      return putInFrontOfAPerson(deps, event, `trip_not_confirmable:${code}`);
    case 'PAYMENT_NOT_FOUND':
    case 'NOTHING_TO_RETRY':
    case 'REFUND_UNCLEAR':
    case 'NOT_NEEDING_ATTENTION':
    case 'REFUNDS_IN_FLIGHT':
    case 'BOOKING_NOT_FOUND':
    case 'CAPACITY_BELOW_BOOKED':
    case 'STRIPE_UNAVAILABLE':
    case 'PAYMENT_CHANGED':
    case 'IDEMPOTENCY_KEY_REUSED':
    case 'CHECKOUT_REFUSED':
    case 'CHECKOUT_PAID':
      throw new Error(`The confirmation answered ${code}, which it never should`);
  }
  return code satisfies never;
}

/** Paid but not bookable (sold out, blocked, missing slot): the trip records why and its refund is requested, in one transaction. */
async function refundUnbookableTrip(deps: PaymentDeps, event: CheckoutCompleted, trip: Trip, reason: string, before: RefundsBeforeRecord): Promise<StepResult> {
  const paymentId = paymentIdOf(event);
  const amountPaid = amountPaidOf(event);
  if (amountPaid > 0 && event.paymentId === undefined) return putInFrontOfAPerson(deps, event, 'no_payment_intent');
  const at = deps.clock.now().toISOString();
  // Nothing paid (a free trip) settles at once: nothing to ask Stripe for.
  const record = owingAllStillHeld(tripRefundRecord(paymentId, trip, event, reason, amountPaid, [], at), before, reason, at);
  const asked = openRefundAmount(record);
  const tripTo = record.status === 'refunded' ? 'refunded' : 'refund_pending';
  // Its seats could not be booked: any it held go back to sale with the refund.
  const result = await commitReleasingHold(
    deps,
    {
      at,
      tripTransition: {
        tripId: trip.tripId,
        from: CONFIRMABLE_TRIP_STATUSES,
        to: tripTo,
        paymentId,
        statusReason: reason,
        chargeRefundedEarlyAsRead: before.asRead,
      },
      paymentRecord: { record },
      audits: [
        audit(deps, { eventType: `trip.${tripTo}`, entityType: 'trip', entityId: trip.tripId, metadata: { paymentId, reason, eventId: event.eventId } }),
        audit(deps, {
          eventType: 'payment.refund_requested',
          entityType: 'payment',
          entityId: paymentId,
          metadata: { amount: asked, reason, tripId: trip.tripId },
        }),
      ],
      processedEvent: processedEvent(deps, event, 'refunded', trip.tripId),
    },
    trip,
    'stripe',
  );
  if (!result.committed) return 'state-changed';
  return issueAndAnswer(deps, record, asked > 0 ? 'refunded' : 'nothing_to_refund', storedWith(record, at));
}

/**
 * A payment's first record, owing back everything still held: all it paid, less what Stripe counts back already when it
 * was asked (a refund made in the Dashboard before the confirmation arrived: `refundsBeforeRecord`), in one full refund.
 */
function owingAllStillHeld(bare: PaymentRecord, before: RefundsBeforeRecord, reason: string, at: string): PaymentRecord {
  const known = withRefundsBeforeRecord(bare, before);
  return settle({ ...known, refunds: fullRefundEntries(known.paymentId, refundableAmount(known), reason, at) });
}

/** The record of a payment its own trip could not keep: the whole amount owed back. */
function tripRefundRecord(
  paymentId: string,
  trip: Trip,
  event: CheckoutCompleted,
  reason: string,
  amountPaid: number,
  refunds: RefundEntry[],
  at: string,
): PaymentRecord {
  return newPaymentRecord(
    {
      paymentId,
      status: 'refund_pending',
      tripId: trip.tripId,
      sessionId: event.sessionId,
      setAside: false,
      reason,
      amountPaid,
      currency: trip.currency,
      refunds,
    },
    at,
  );
}

/**
 * A trip left `refund_pending` by this payment before payment records existed: its record is made now, with
 * a refund under a key of its own — the old request under `refund-<pi>` had other parameters, so Stripe would
 * refuse that key; if the old refund did go through, Stripe answers charge_already_refunded.
 */
async function resumeLegacyTripRefund(deps: PaymentDeps, event: CheckoutCompleted, trip: Trip): Promise<StepResult> {
  const paymentId = paymentIdOf(event);
  const at = deps.clock.now().toISOString();
  const reason = trip.statusReason ?? 'not_bookable';
  const refunds =
    trip.amount > 0 ? [refundEntry({ refundKey: `${fullRefundKey(paymentId)}-resumed`, amount: trip.amount, requestedBy: 'system', reason }, at)] : [];
  const record = tripRefundRecord(paymentId, trip, event, reason, trip.amount, refunds, at);
  const result = await deps.store.commit({
    at,
    paymentRecord: { record },
    audits: [
      audit(deps, {
        eventType: 'payment.refund_requested',
        entityType: 'payment',
        entityId: paymentId,
        metadata: { amount: trip.amount, reason, tripId: trip.tripId, resumed: true },
      }),
    ],
  });
  if (!result.committed) return 'state-changed';
  return issueAndAnswer(deps, record, 'refunded', storedWith(record, at));
}

/**
 * A payment that may not touch the trip it names (unknown, mismatching, or for a trip that is no longer
 * payable) is set aside on its record — the trip stays as it is — and refunded in full.
 */
async function setPaymentAside(deps: PaymentDeps, event: CheckoutCompleted, reason: string, read: Trip | undefined): Promise<StepResult> {
  const paymentId = paymentIdOf(event);
  const amountPaid = amountPaidOf(event);
  const at = deps.clock.now().toISOString();
  // The trip it names, not touched: only what Stripe said was back before this record, kept there, is read from it.
  const trip = read !== undefined && read.tripId === event.tripId ? read : undefined;
  const bare = newPaymentRecord(
    {
      paymentId,
      status: 'refund_pending',
      ...(event.tripId !== undefined && { tripId: event.tripId }),
      sessionId: event.sessionId,
      setAside: true,
      reason,
      amountPaid,
      currency: event.currency?.toLowerCase() ?? '',
    },
    at,
  );
  const before = await refundsBeforeRecord(deps, trip, paymentId);
  const record = owingAllStillHeld(bare, before, reason, at);
  const result = await deps.store.commit({
    at,
    paymentRecord: { record },
    ...(trip && { tripChargeRefundedEarlyAsRead: { tripId: trip.tripId, paymentId, asRead: before.asRead } }),
    audits: [
      audit(deps, {
        eventType: 'payment.set_aside',
        entityType: 'payment',
        entityId: paymentId,
        metadata: { reason, tripId: event.tripId ?? null, sessionId: event.sessionId, amount: event.amount, currency: event.currency, eventId: event.eventId },
      }),
    ],
    processedEvent: processedEvent(deps, event, 'refunded', event.tripId),
  });
  if (!result.committed) return 'state-changed';
  return issueAndAnswer(deps, record, openRefundAmount(record) > 0 ? 'refunded' : 'nothing_to_refund', storedWith(record, at));
}

/** The refunds of a record this step has just created at `at`: every one of them is its own. */
function storedWith(record: PaymentRecord, at: string): StoredRefunds {
  return { at, keys: record.refunds.map((entry) => entry.refundKey) };
}

/**
 * Asks for the record's requested refunds and answers from what the record says after. `record` is as this step just
 * created it (`stored`: its refunds are asked for straight away), or as it was read (`stored` undefined: every refund
 * is looked up by its key first, and when none was left to ask for, this call changed nothing).
 */
async function issueAndAnswer(deps: PaymentDeps, record: PaymentRecord, outcome: PaymentOutcome, stored: StoredRefunds | undefined): Promise<StepResult> {
  const issued = await issueRequestedRefunds(deps, record, 'stripe', { ...(stored !== undefined && { stored }) });
  const settledOutcome = issued.record.status === 'needs_attention' ? 'needs_attention' : outcome;
  // A refund this call made is its to count even when the refund's own refund.* recorded it first (see `countable`).
  return { ...fromRecord(issued.record, settledOutcome), ...(stored === undefined && !issued.countable && UNCHANGED) };
}

/** A payment refunded before its confirmation arrived: the trip it was for can never be booked by it, and says so. */
async function closeTripRefundedFirst(deps: PaymentDeps, event: PaymentEvent, trip: Trip, record: PaymentRecord, outcome: PaymentOutcome): Promise<StepResult> {
  const result = await commitReleasingHold(
    deps,
    {
      at: deps.clock.now().toISOString(),
      tripTransition: {
        tripId: trip.tripId,
        from: CONFIRMABLE_TRIP_STATUSES,
        to: 'refunded',
        paymentId: record.paymentId,
        statusReason: 'refunded_before_confirmation',
      },
      audits: [
        audit(deps, {
          eventType: 'trip.refunded',
          entityType: 'trip',
          entityId: trip.tripId,
          metadata: { paymentId: record.paymentId, reason: 'refunded_before_confirmation' },
        }),
      ],
      processedEvent: processedEvent(deps, event, outcome, trip.tripId),
    },
    trip,
    'stripe',
  );
  if (result.committed) return fromRecord(record, outcome);
  return result.rejection.eventAlreadyProcessed ? { ...fromRecord(record, outcome), ...UNCHANGED } : 'state-changed';
}

/** A full refund of a booked trip: bookings cancelled, seats back, trip and payment `refunded`, in one transaction. */
async function releaseRefundedTrip(deps: PaymentDeps, event: ChargeRefunded, { trip, record }: PaymentState): Promise<StepResult> {
  if (!trip) return 'state-changed';
  const { tripId } = trip;
  const at = deps.clock.now().toISOString();
  const refunded: PaymentRecord = record
    ? withLiveStatus(chargeFullyRefunded(record, at, 'charge_refunded', event.occurredAt, event.amountRefunded).record, 'refunded')
    : refundedFirstRecord(event, { tripId, reason: 'payment_refunded' }, at);
  const result = await releaseBookings(
    deps,
    { trip },
    {
      reason: 'payment refunded',
      actorType: 'stripe',
      tripTransition: { from: ['booked'], to: 'refunded', statusReason: 'payment_refunded' },
      marker: markerOf(deps, event),
      paymentRecord: record ? { record: nextVersion(refunded, at), expectedVersion: record.version } : { record: refunded },
      audits: [
        audit(deps, {
          eventType: 'payment.fully_refunded',
          entityType: 'payment',
          entityId: event.paymentId,
          metadata: { amount: event.amountRefunded, eventId: event.eventId },
        }),
      ],
    },
  );
  if (result.ok) return { outcome: 'released', tripId, references: result.released.map((released) => released.reference) };
  if (result.errorCode === 'TRANSACTION_FAILED') throw new RetryLaterError(result.message);
  return 'state-changed';
}

/** The whole charge went back while money was owed (our refund, or one made outside): the record and its trip settle. */
async function settleRefunded(deps: PaymentDeps, event: ChargeRefunded, { trip, record }: PaymentState, outcome: PaymentOutcome): Promise<StepResult> {
  const current = record as PaymentRecord;
  const at = deps.clock.now().toISOString();
  const settled = chargeFullyRefunded(current, at, 'charge_refunded', event.occurredAt, event.amountRefunded).record;
  return commitRecord(
    deps,
    event,
    current,
    settled,
    outcome,
    'payment.fully_refunded',
    { amount: event.amountRefunded },
    await tripMovedWith(deps, trip, current, settled),
  );
}

async function recordChargeTotal(
  deps: PaymentDeps,
  event: ChargeRefunded,
  record: PaymentRecord,
  outcome: PaymentOutcome,
  trip: Trip | undefined,
): Promise<StepResult> {
  const eventType = outcome === 'partial_refund_recorded' ? 'payment.partially_refunded' : 'payment.refund_recorded';
  const metadata = { amount: event.amount, amountRefunded: event.amountRefunded, currency: event.currency };
  const after = withChargeTotal(record, event.amountRefunded, event.occurredAt);
  // A resolved payment whose money this total shows all back: its cancelled trip is refunded, as on a refund's success.
  return commitRecord(deps, event, record, after, outcome, eventType, metadata, await tripMovedWith(deps, trip, record, after));
}

/**
 * The trip a change of the record moves when the last of its money comes back: its own, or a claimed payment's session
 * trip a resolution ended `cancelled` with money kept.
 */
async function tripMovedWith(deps: PaymentDeps, trip: Trip | undefined, before: PaymentRecord, after: PaymentRecord): Promise<TripTransition | undefined> {
  return tripRefundedWith(trip, before, after) ?? (await claimedSessionTripRefunded(deps.store, before, after));
}

/**
 * The trip's move to `refunded` when the last money of its payment comes back, if the trip as read is where that move
 * starts: one already `refunded` (released by a full refund, whose refund then failed and was asked again) stays.
 */
function tripRefundedWith(trip: Trip | undefined, before: PaymentRecord, after: PaymentRecord): TripTransition | undefined {
  if (trip?.paymentId !== before.paymentId) return undefined;
  const transition = tripRefundedBy(before, after);
  return transition?.from.includes(trip.status) ? transition : undefined;
}

/** Writes the next version of a record with its audit entry and the event, guarded by the version read. */
async function commitRecord(
  deps: PaymentDeps,
  event: PaymentEvent,
  before: PaymentRecord,
  after: PaymentRecord,
  outcome: PaymentOutcome,
  auditType: string,
  metadata: AuditEntry['metadata'],
  tripTransition?: TripTransition,
): Promise<StepResult> {
  const at = deps.clock.now().toISOString();
  const write: AtomicWrite = {
    at,
    paymentRecord: { record: nextVersion(after, at), expectedVersion: before.version },
    audits: [
      audit(deps, { eventType: auditType, entityType: 'payment', entityId: before.paymentId, metadata: { ...metadata, eventId: event.eventId } }),
      // The trip's trail says what moved it, as it does when an operator's refund or a resolution moves it.
      ...(tripTransition
        ? [
            audit(deps, {
              eventType: `trip.${tripTransition.to}`,
              entityType: 'trip',
              entityId: tripTransition.tripId,
              metadata: { paymentId: before.paymentId, refundId: tripTransition.refundId ?? null, eventId: event.eventId },
            }),
          ]
        : []),
    ],
    processedEvent: processedEvent(deps, event, outcome, before.tripId),
    ...(tripTransition && { tripTransition }),
  };
  const result = await deps.store.commit(write);
  if (result.committed) return fromRecord(after, outcome);
  if (result.rejection.eventAlreadyProcessed) return { ...fromRecord(after, 'duplicate'), ...UNCHANGED };
  return 'state-changed';
}

/**
 * Refunded before its confirmation arrived (or never confirmed): the record it leaves stops a late confirmation
 * from booking, and a trip still waiting for this payment ends `refunded`.
 */
async function recordEarlyRefund(deps: PaymentDeps, event: ChargeRefunded, trip: Trip | undefined): Promise<StepResult> {
  const at = deps.clock.now().toISOString();
  const tripId = event.tripId ?? trip?.tripId;
  // The Dashboard's refund failing later (a card closed, a bank returning it) comes off its total: the money Stripe
  // holds again is asked for, not read as back.
  const record = refundedFirstRecord(event, { ...(tripId !== undefined && { tripId }), reason: 'refunded_before_confirmation' }, at);
  const closesTrip = trip !== undefined && trip.tripId === tripId && CONFIRMABLE_TRIP_STATUSES.includes(trip.status);
  const write: AtomicWrite = {
    at,
    paymentRecord: { record },
    ...(closesTrip && {
      tripTransition: {
        tripId: trip.tripId,
        from: CONFIRMABLE_TRIP_STATUSES,
        to: 'refunded',
        paymentId: event.paymentId,
        statusReason: 'refunded_before_confirmation',
      },
    }),
    audits: [
      audit(deps, {
        eventType: 'payment.refunded',
        entityType: 'payment',
        entityId: event.paymentId,
        metadata: { reason: 'refunded_before_confirmation', amount: event.amountRefunded, eventId: event.eventId },
      }),
    ],
    processedEvent: processedEvent(deps, event, 'refund_recorded', tripId),
  };
  // A trip that ends here gives back the seats its checkout held.
  const result = closesTrip ? await commitReleasingHold(deps, write, trip, 'stripe') : await deps.store.commit(write);
  if (!result.committed) return 'state-changed';
  return { outcome: 'refund_recorded', ...(tripId !== undefined && { tripId }) };
}

/**
 * A partial refund of a payment with no record yet (made in the Dashboard before its confirmation arrived): the
 * confirmation may still book it, so nothing moves, but Stripe's total is kept on the trip the charge names, under "the
 * payment has no record", and the payment's first record starts with it: nothing then asks Stripe for money that is
 * back already. Audited either way; a charge naming no trip we hold is audited only. A record written meanwhile (the
 * confirmation) refuses it, and the event is decided again: recorded on that record.
 */
async function recordPartialRefundEarly(deps: PaymentDeps, event: ChargeRefunded, read: Trip | undefined): Promise<StepResult> {
  const trip = read !== undefined && read.tripId === event.tripId ? read : undefined;
  const tripId = read?.tripId;
  const total: EarlyChargeTotal = {
    paymentId: event.paymentId,
    amount: event.amountRefunded,
    ...(event.occurredAt !== undefined && { asOf: event.occurredAt }),
  };
  const kept = trip && nextEarlyChargeTotals(trip.chargeRefundedEarly, total);
  const result = await deps.store.commit({
    at: deps.clock.now().toISOString(),
    // Decided on a payment with no record: one written meanwhile has this total recorded on it instead.
    paymentRecordAbsent: event.paymentId,
    ...(trip && kept && { chargeRefundedEarly: { tripId: trip.tripId, kept, asRead: trip.chargeRefundedEarly ?? null } }),
    audits: [
      audit(deps, {
        eventType: 'payment.partially_refunded',
        entityType: 'payment',
        entityId: event.paymentId,
        metadata: { amount: event.amount, amountRefunded: event.amountRefunded, currency: event.currency, tripId: tripId ?? null, eventId: event.eventId },
      }),
    ],
    processedEvent: processedEvent(deps, event, 'partial_refund_recorded', tripId),
  });
  if (result.committed) return { outcome: 'partial_refund_recorded', ...(tripId !== undefined && { tripId }) };
  // A record written meanwhile (its confirmation), or the trip's total moved: decided again, as of now.
  if (!result.rejection.eventAlreadyProcessed) return 'state-changed';
  return { outcome: 'duplicate', ...(tripId !== undefined && { tripId }), ...UNCHANGED };
}

/** Stripe's word on a refund: the refund moves forward; one made outside this service is recorded as Stripe's. */
async function moveRefundFromEvent(deps: PaymentDeps, event: RefundChanged, record: PaymentRecord, trip: Trip | undefined): Promise<StepResult> {
  const at = deps.clock.now().toISOString();
  const known = refundOfEvent(record, event);
  const withEntry: PaymentRecord = known
    ? record
    : {
        ...record,
        refunds: [
          ...record.refunds,
          // Stripe made it, so it starts where Stripe's refunds start: counted, under way (or waiting on the customer).
          {
            ...refundEntry(
              { refundKey: outsideRefundKey(event.refundId), amount: event.amount, requestedBy: 'stripe', reason: 'refunded outside this service' },
              at,
            ),
            status: event.status === 'requires_action' ? 'requires_action' : 'pending',
            // Named by Stripe's id from the start: an event that does not move it (refund.created, pending) must still find it.
            stripeRefundId: event.refundId,
            ...(event.created !== undefined && { providerCreated: event.created }),
          },
        ],
      };
  const change = moveRefund(withEntry, known?.refundKey ?? outsideRefundKey(event.refundId), event.status, at, {
    stripeRefundId: event.refundId,
    ...(event.failureReason !== undefined && { failureCode: event.failureReason }),
    // Only refund.failed, and the refund.updated of the change itself, are created when the refund fails; any other event
    // of it may be a later update, so a failure it shows is known only to have happened by then, as a lookup knows it
    // (either of those dates it when it comes).
    ...(event.occurredAt !== undefined && (carriesFailureTime(event) ? { asOf: event.occurredAt } : { knownBy: event.occurredAt })),
    ...(event.created !== undefined && { providerCreated: event.created }),
    failureEvent: carriesFailureTime(event),
  });
  const tripTransition = await tripMovedWith(deps, trip, record, change.record);
  const metadata = change.audit?.metadata ?? { refundKey: known?.refundKey ?? null, status: event.status };
  return commitRecord(
    deps,
    event,
    record,
    change.record,
    change.attention ? 'needs_attention' : 'refund_updated',
    change.audit?.eventType ?? 'payment.refund_recorded',
    metadata,
    tripTransition,
  );
}

async function moveTrip(deps: PaymentDeps, event: PaymentEvent, trip: Trip, to: Trip['status'], outcome: PaymentOutcome): Promise<StepResult> {
  const sessionId = 'sessionId' in event ? event.sessionId : undefined;
  const write: AtomicWrite = {
    at: deps.clock.now().toISOString(),
    tripTransition: {
      tripId: trip.tripId,
      from: [trip.status],
      to,
      ...(to === 'awaiting_payment' && sessionId !== undefined && { checkoutSessionId: sessionId }),
      // As decided: no other session's page recorded meanwhile, and the hold not held on by a retry since it was read.
      ...(sessionId !== undefined && { recordedSessionNoneOr: sessionId }),
      ...(trip.holdExpiresAt !== undefined && { heldUntil: trip.holdExpiresAt }),
    },
    audits: [
      audit(deps, { eventType: `trip.${to}`, entityType: 'trip', entityId: trip.tripId, metadata: { sessionId: sessionId ?? null, eventId: event.eventId } }),
    ],
    processedEvent: processedEvent(deps, event, outcome, trip.tripId),
  };
  // A checkout that ended without money gives its held seats back in the same transaction.
  const result = to === 'expired' || to === 'payment_failed' ? await commitReleasingHold(deps, write, trip, 'stripe') : await deps.store.commit(write);
  if (result.committed) return { outcome, tripId: trip.tripId };
  return result.rejection.eventAlreadyProcessed ? { outcome: 'duplicate', tripId: trip.tripId, ...UNCHANGED } : 'state-changed';
}

/**
 * Stored data we cannot act on. The payment goes in front of a person; when its record itself is what cannot
 * be read, the event is kept as unusable instead (a record we cannot read is not one we may overwrite).
 */
async function keepForAPerson(deps: PaymentDeps, event: PaymentEvent, problem: StoredDataError): Promise<PaymentEventResult> {
  try {
    if (problem.entity !== 'payment') return await putInFrontOfAPerson(deps, event, 'stored_data_unusable', problem.message);
  } catch (error) {
    if (!(error instanceof StoredDataError)) throw error;
  }
  const { recorded } = await recordUnusableEvent(deps, { eventId: event.eventId, eventType: event.eventType, problem: problem.message });
  return {
    outcome: 'needs_attention',
    reason: 'stored_data_unusable',
    ...('tripId' in event && event.tripId !== undefined && { tripId: event.tripId }),
    ...(!recorded && UNCHANGED),
  };
}

/**
 * A person must look at a payment because of what its record said when the event was decided: written under that
 * version and with the event, so a redelivery is a duplicate and a record that moved meanwhile is decided again.
 */
function attendToDecidedRecord(deps: PaymentDeps, event: PaymentEvent, record: PaymentRecord, reason: string): Promise<StepResult> {
  const attended = withAttention(record, reason, deps.clock.now().toISOString());
  return commitRecord(deps, event, record, attended, 'needs_attention', 'payment.needs_attention', { reason, eventType: event.eventType });
}

/**
 * A payment create-booking booked another trip with, paid through this session for its own: in front of a person
 * (`paid_for_another_trip`), the record now saying what Stripe charged and in which session. create-booking could only
 * record its trip's price; left so, a refund of the booked trip's bookings would give back that price and the record
 * would read as all refunded while the rest of the charge was kept.
 */
async function attendToClaimedPayment(deps: PaymentDeps, event: CheckoutCompleted, record: PaymentRecord, claimedTrip: Trip | undefined): Promise<StepResult> {
  const reason = CLAIMED_PAYMENT;
  // A paid session names what it charged; one that does not (never seen) leaves the record's figure as it was.
  const charged = event.amount ?? record.amountPaid;
  const attended: PaymentRecord = {
    ...withCharge(withAttention(record, reason, deps.clock.now().toISOString()), charged, event.currency?.toLowerCase() ?? record.currency),
    sessionId: event.sessionId,
    ...(event.tripId !== undefined && { paidForTripId: event.tripId }),
  };
  // The charge came back before its session's event said whose it was: the trip create-booking booked (read with the
  // record: its trip) read `refunded` by money that was never its traveller's. Its bookings are cancelled; so is it.
  const uncorrected =
    claimedTrip !== undefined && claimedTrip.tripId === record.tripId && claimedTrip.status === 'refunded' && claimedTrip.paymentId === record.paymentId;
  return commitRecord(
    deps,
    event,
    record,
    attended,
    'needs_attention',
    'payment.needs_attention',
    { reason, eventType: event.eventType, sessionId: event.sessionId, sessionTripId: event.tripId ?? null, charged, recordedAsPaid: record.amountPaid },
    uncorrected ? { tripId: claimedTrip.tripId, from: ['refunded'], to: 'cancelled', statusReason: reason } : undefined,
  );
}

/**
 * A payment whose trip keeps a partial refund of it seen before its record, the record written without asking Stripe what
 * is back of it (create-booking's, which has no Stripe key): the record is told (`tellKeptPartialRefund`), then the event
 * is decided again, the record's own row answering: nothing later asks Stripe for money that is back already. Stripe
 * unable to say for now: 500, the event comes again.
 */
async function recordKeptPartialRefund(deps: PaymentDeps, event: CheckoutCompleted, state: PaymentState): Promise<StepResult> {
  const { trip } = state;
  // A trip booked at its price was read alone.
  const record = state.record ?? (await deps.store.getPaymentRecord(paymentIdOf(event)));
  // Booked before payment records existed: nothing to tell.
  if (trip === undefined || record === undefined) return answerFromState(state, event, 'duplicate');
  // Committed or refused (another event moved the record or the trip first), decided again from what they are now.
  await askedBeforeWriting(() => tellKeptPartialRefund(deps, trip, record, { eventId: event.eventId }));
  return 'state-changed';
}

/** Why a payment create-booking booked at its trip's price, charged otherwise, is in front of a person. */
const CHARGED_OTHERWISE = 'charged_otherwise';

/**
 * A payment create-booking booked at its trip's price, whose own session now says Stripe charged otherwise. A discount
 * (the session priced at the trip's price, charged that less its discount) on a payment still booked, nothing refunded
 * or cancelled from it yet, is corrected in one write: the record says what was charged and in which session, and each booking its share of that, so
 * a cancellation gives back what its traveller paid for it. A payment all of whose money is back only has the charge
 * recorded. Anything else (another currency, more than the price, a share already cancelled or refunded at the first
 * figure, a person already looking) goes to a person, the record saying what was charged.
 */
async function recordCharge(deps: PaymentDeps, event: CheckoutCompleted, record: PaymentRecord, trip: Trip | undefined): Promise<StepResult> {
  const at = deps.clock.now().toISOString();
  const charged = event.amount ?? record.amountPaid;
  const currency = event.currency?.toLowerCase() ?? record.currency;
  const recorded: PaymentRecord = { ...withCharge(record, charged, currency), sessionId: event.sessionId };
  const metadata = {
    charged,
    currency,
    recordedAsPaid: record.amountPaid,
    recordedCurrency: record.currency,
    sessionId: event.sessionId,
    eventId: event.eventId,
  };
  const references = trip?.paymentId === record.paymentId ? trip.bookingReferences : [];
  const shareChanges = discountedShares(record, references.length > 0 ? await deps.store.getBookings(references) : [], event, currency);
  const paymentAudit = (eventType: string, extra: AuditEntry['metadata'] = {}) =>
    audit(deps, { eventType, entityType: 'payment', entityId: record.paymentId, metadata: { ...metadata, ...extra } });
  const write = (after: PaymentRecord, outcome: PaymentOutcome, audits: AuditEntry[]): AtomicWrite => ({
    at,
    paymentRecord: { record: nextVersion(after, at), expectedVersion: record.version },
    audits,
    processedEvent: processedEvent(deps, event, outcome, record.tripId, references),
  });

  if (shareChanges !== undefined) {
    // Each booking's own trail says its share moved, and why.
    const shareAudits = shareChanges.map(({ reference, from, to }) =>
      audit(deps, {
        eventType: 'booking.share_corrected',
        entityType: 'booking',
        entityId: reference,
        metadata: { from, to, paymentId: record.paymentId, charged, eventId: event.eventId },
      }),
    );
    const corrected = { ...write(recorded, 'duplicate', [paymentAudit('payment.charge_recorded'), ...shareAudits]), shareChanges };
    return commitCharge(deps, corrected, { ...fromRecord(recorded, 'duplicate'), references });
  }
  if (recorded.status === 'refunded' && recorded.amountRefunded >= recorded.amountPaid) {
    return commitCharge(deps, write(recorded, 'already_refunded', [paymentAudit('payment.charge_recorded')]), fromRecord(recorded, 'already_refunded'));
  }
  const reason = CHARGED_OTHERWISE;
  const attended = withAttention(recorded, reason, at);
  const flagged = write(attended, 'needs_attention', [paymentAudit('payment.needs_attention', { reason, eventType: event.eventType })]);
  return commitCharge(deps, flagged, fromRecord(attended, 'needs_attention'));
}

/**
 * Commits what the session's charge changes, guarded by the record as read. Refused only because the event is recorded as
 * processed already, by a delivery or a sweep that answered it without recording the charge (code of before this row, or
 * a confirmation that found its trip just booked): the record still as read, the same write goes in without that record,
 * its other guards keeping it once. Refused for anything else, the record moved (another delivery of it did it first):
 * decided again from what it is now.
 */
async function commitCharge(deps: PaymentDeps, write: AtomicWrite, answer: PaymentEventResult): Promise<StepResult> {
  const result = await deps.store.commit(write);
  if (result.committed) return answer;
  if (!result.rejection.eventAlreadyProcessed || result.rejection.paymentRecord) return 'state-changed';
  const { processedEvent: _recordedAlready, ...withoutEvent } = write;
  return (await deps.store.commit(withoutEvent)).committed ? answer : 'state-changed';
}

/**
 * Each booking's share of a discounted charge, from the shares the trip's price gave them (which are its items' prices):
 * only for a session priced at the trip's price and charged that less its discount, while every booking stands at its
 * first share and nothing of the payment was refunded or waived.
 */
function discountedShares(record: PaymentRecord, bookings: readonly Booking[], event: CheckoutCompleted, currency: string): BookingShareChange[] | undefined {
  const charged = event.amount;
  const price = event.amountSubtotal ?? charged;
  if (charged === null || price !== record.amountPaid || charged !== price - event.amountDiscount || charged > price) return undefined;
  if (record.status !== 'booked' || currency !== record.currency) return undefined;
  if (record.refunds.length > 0 || (record.chargeRefunded ?? 0) > 0) return undefined;
  const shares = bookings.map((booking) => (booking.status === 'confirmed' ? booking.amount : undefined));
  if (shares.length === 0 || shares.some((share) => share === undefined)) return undefined;
  const first = shares as number[];
  if (first.reduce((sum, share) => sum + share, 0) !== record.amountPaid) return undefined;
  const now = paidShares(first, charged);
  return bookings.map((booking, index) => ({ reference: booking.reference, from: first[index] as number, to: now[index] as number }));
}

/**
 * Something a program should not decide: the payment's record moves to `needs_attention` (created if there is
 * none), audited with the reason, and the event is acknowledged — never refunded by default, never retried forever.
 */
async function putInFrontOfAPerson(deps: PaymentDeps, event: PaymentEvent, reason: string, detail?: string): Promise<PaymentEventResult> {
  const paymentId = paymentOf(event);
  const tripId = 'tripId' in event ? event.tripId : undefined;
  // Nothing to record it on: the result (its log line and metric) is all a person gets, every time it happens.
  if (paymentId === undefined) return { outcome: 'needs_attention', reason, ...(tripId !== undefined && { tripId }) };
  return retryWhileStateMoves(
    PAYMENT_RECORD_ATTEMPTS,
    async () => {
      const at = deps.clock.now().toISOString();
      const existing = await deps.store.getPaymentRecord(paymentId);
      const attended = existing && withAttention(existing, reason, at);
      // Already in front of a person for this very reason (a redelivery): nothing to add. For another, it joins the first.
      if (existing && attended === existing) return { ...fromRecord(existing, 'needs_attention'), ...UNCHANGED };
      const record = attended
        ? nextVersion(attended, at)
        : newPaymentRecord(
            {
              paymentId,
              status: 'needs_attention',
              ...(tripId !== undefined && { tripId }),
              ...(event.kind === 'checkout-completed' && { sessionId: event.sessionId }),
              setAside: false,
              reason,
              amountPaid: event.kind === 'checkout-completed' ? amountPaidOf(event) : 'amount' in event ? event.amount : 0,
              currency: event.kind === 'checkout-completed' ? (event.currency?.toLowerCase() ?? '') : 'currency' in event ? event.currency : '',
              attention: { reason, since: at, previousStatus: 'refund_pending' },
            },
            at,
          );
      const result = await deps.store.commit({
        at,
        paymentRecord: existing ? { record, expectedVersion: existing.version } : { record },
        audits: [
          audit(deps, {
            eventType: 'payment.needs_attention',
            entityType: 'payment',
            entityId: paymentId,
            metadata: { reason, detail: detail ?? null, eventId: event.eventId, eventType: event.eventType },
          }),
        ],
      });
      if (result.committed) return fromRecord(record, 'needs_attention');
      return STATE_MOVED;
    },
    () => {
      throw new RetryLaterError(`The payment record ${paymentId} kept changing while it was put in front of a person`);
    },
  );
}
