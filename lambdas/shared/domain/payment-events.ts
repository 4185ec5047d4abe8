// Use case: apply one payment event (checkout completed, failed, expired; charge refunded) to a trip, idempotently and in any order.
import type { AtomicWrite, BookingStore } from './booking-store';
import type { Clock, IdSource } from './collaborators';
import { confirmTrip, type EventMarker } from './confirm-trip';
import { StoreUnavailableError } from './errors';
import { CONFIRMABLE_TRIP_STATUSES, type AuditEntry, type PaymentRecord, type Trip } from './model';
import { PaymentGatewayUnavailableError, refundIdempotencyKey, type PaymentGateway } from './payment-gateway';
import { releaseBookings } from './release-bookings';

export interface PaymentEventDeps {
  readonly store: BookingStore;
  readonly gateway: PaymentGateway;
  readonly clock: Clock;
  readonly ids: IdSource;
}

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
  /** The PaymentIntent; absent when nothing was charged. */
  readonly paymentId?: string;
  readonly amount: number | null;
  readonly currency: string | null;
}

/** A checkout ended without money: its delayed payment failed, or it expired unpaid. */
export interface CheckoutEnded extends EventIdentity {
  readonly kind: 'checkout-ended';
  readonly to: 'payment_failed' | 'expired';
  readonly sessionId: string;
  readonly tripId?: string;
}

export interface ChargeRefunded extends EventIdentity {
  readonly kind: 'charge-refunded';
  readonly paymentId: string;
  readonly tripId?: string;
  readonly amount: number;
  readonly amountRefunded: number;
  readonly currency: string;
}

export type PaymentEvent = CheckoutCompleted | CheckoutEnded | ChargeRefunded;

export type PaymentOutcome =
  | 'booked'
  | 'duplicate'
  | 'refunded'
  | 'already_refunded'
  | 'awaiting_payment'
  | 'payment_failed'
  | 'expired'
  | 'released'
  | 'refund_recorded'
  | 'partial_refund_recorded'
  | 'no_change';

export interface PaymentEventResult {
  readonly outcome: PaymentOutcome;
  readonly tripId?: string;
  readonly references?: readonly string[];
  /** Why the outcome is what it is (the refusal code of an unbookable trip, a mismatch…). */
  readonly reason?: string;
  /** True when the payment could not be matched to a trip it may book, and was set aside to be refunded. */
  readonly setAside?: boolean;
}

/** Not a business outcome: the same event must be delivered again later (Stripe retries on a 5xx). */
export class RetryLaterError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RetryLaterError';
  }
}

/** Events are remembered longer than Stripe retries (3 days), so a very late redelivery is still recognised. */
export const PROCESSED_EVENT_RETENTION_DAYS = 35;

/** A handler that finds the state moved under it reads it again, this many times at most. */
const STATE_ATTEMPTS = 3;

/**
 * Input: one verified payment event. Output: what it did, as an outcome every redelivery repeats.
 * The trip's stored state decides what an event may do, so duplicates and out-of-order events are
 * answered from it; every change is one transaction that also records the event.
 */
export async function handlePaymentEvent(deps: PaymentEventDeps, event: PaymentEvent): Promise<PaymentEventResult> {
  try {
    for (let attempt = 1; attempt <= STATE_ATTEMPTS; attempt++) {
      const result = await applyOnce(deps, event);
      if (result !== 'state-changed') return result;
    }
    throw new RetryLaterError(`The state of event ${event.eventId}'s trip kept changing`);
  } catch (error) {
    if (error instanceof StoreUnavailableError || error instanceof PaymentGatewayUnavailableError) {
      throw new RetryLaterError(error.message, { cause: error });
    }
    throw error;
  }
}

type StepResult = PaymentEventResult | 'state-changed';

function applyOnce(deps: PaymentEventDeps, event: PaymentEvent): Promise<StepResult> {
  switch (event.kind) {
    case 'checkout-completed':
      return event.paid ? onPaid(deps, event) : onAwaitingPayment(deps, event);
    case 'checkout-ended':
      return onCheckoutEnded(deps, event);
    case 'charge-refunded':
      return onChargeRefunded(deps, event);
  }
}

function markerOf(deps: PaymentEventDeps, event: EventIdentity): EventMarker {
  const expiresAt = Math.floor(deps.clock.now().getTime() / 1000) + PROCESSED_EVENT_RETENTION_DAYS * 86_400;
  return { eventId: event.eventId, eventType: event.eventType, expiresAt };
}

function processedEvent(deps: PaymentEventDeps, event: EventIdentity, outcome: PaymentOutcome, tripId?: string, references: string[] = []) {
  const marker = markerOf(deps, event);
  return { ...marker, outcome, references, processedAt: deps.clock.now().toISOString(), ...(tripId !== undefined && { tripId }) };
}

function audit(deps: PaymentEventDeps, entry: Pick<AuditEntry, 'eventType' | 'entityType' | 'entityId' | 'metadata'>): AuditEntry {
  return { ...entry, auditId: deps.ids.uuid(), actorType: 'stripe', occurredAt: deps.clock.now().toISOString() };
}

/** Why a paid session may not book the trip it names, or undefined when it matches. */
function mismatchOf(trip: Trip, event: CheckoutCompleted): string | undefined {
  if (event.userId !== trip.userId) return 'user_mismatch';
  if (trip.checkoutSessionId !== undefined && trip.checkoutSessionId !== event.sessionId) return 'session_mismatch';
  if (event.amount !== trip.amount) return 'amount_mismatch';
  if (event.currency?.toLowerCase() !== trip.currency) return 'currency_mismatch';
  return undefined;
}

async function onPaid(deps: PaymentEventDeps, event: CheckoutCompleted): Promise<StepResult> {
  const paymentId = event.paymentId ?? event.sessionId;
  const trip = event.tripId === undefined ? undefined : await deps.store.getTrip(event.tripId);
  if (!trip) return setPaymentAside(deps, event, paymentId, 'unknown_trip');

  if (trip.paymentId === paymentId) {
    // This payment already moved the trip: a redelivery, answered from the state it left.
    if (trip.status === 'booked') return { outcome: 'duplicate', tripId: trip.tripId, references: trip.bookingReferences };
    if (trip.status === 'refund_pending') return finishTripRefund(deps, trip, paymentId);
    if (trip.status === 'refunded') return { outcome: 'refunded', tripId: trip.tripId, ...(trip.statusReason && { reason: trip.statusReason }) };
  }
  const mismatch = mismatchOf(trip, event);
  if (mismatch) return setPaymentAside(deps, event, paymentId, mismatch);
  if (!CONFIRMABLE_TRIP_STATUSES.includes(trip.status)) return setPaymentAside(deps, event, paymentId, `trip_${trip.status}`);

  const result = await confirmTrip(
    deps,
    { paymentId, tripId: trip.tripId, userId: trip.userId, items: trip.items },
    { marker: markerOf(deps, event), currentTrip: trip },
  );
  if (result.ok) {
    const references = result.bookings.map((booking) => booking.reference);
    return { outcome: result.replayed ? 'duplicate' : 'booked', tripId: trip.tripId, references };
  }
  switch (result.errorCode) {
    case 'TRANSACTION_FAILED':
      throw new RetryLaterError(result.message);
    case 'TRIP_NOT_PENDING':
    case 'TRIP_NOT_FOUND':
      return 'state-changed';
    case 'PAYMENT_FLAGGED':
      return onPaymentAlreadyRecorded(deps, paymentId, trip.tripId);
    default:
      // Sold out, blocked, missing slot…: the money must go back.
      return startTripRefund(deps, event, trip, paymentId, result.errorCode);
  }
}

async function onPaymentAlreadyRecorded(deps: PaymentEventDeps, paymentId: string, tripId: string): Promise<StepResult> {
  const record = await deps.store.getPaymentRecord(paymentId);
  if (!record) return 'state-changed';
  if (record.status === 'refund_pending') return finishPaymentRefund(deps, record);
  return { outcome: 'already_refunded', tripId, reason: record.reason };
}

/** Paid but not bookable: the trip records why and moves to refund_pending before the refund is asked for. */
async function startTripRefund(deps: PaymentEventDeps, event: CheckoutCompleted, trip: Trip, paymentId: string, reason: string): Promise<StepResult> {
  const result = await deps.store.commit({
    at: deps.clock.now().toISOString(),
    tripTransition: { tripId: trip.tripId, from: CONFIRMABLE_TRIP_STATUSES, to: 'refund_pending', paymentId, statusReason: reason },
    audits: [audit(deps, { eventType: 'trip.refund_pending', entityType: 'trip', entityId: trip.tripId, metadata: { paymentId, reason, eventId: event.eventId } })],
    processedEvent: processedEvent(deps, event, 'refunded', trip.tripId),
  });
  if (!result.committed) return 'state-changed';
  return finishTripRefund(deps, { ...trip, status: 'refund_pending', statusReason: reason }, paymentId);
}

async function finishTripRefund(deps: PaymentEventDeps, trip: Trip, paymentId: string): Promise<StepResult> {
  const { refundId } = await deps.gateway.refund({
    paymentId,
    idempotencyKey: refundIdempotencyKey(paymentId),
    reason: trip.statusReason ?? 'not_bookable',
    tripId: trip.tripId,
  });
  const result = await deps.store.commit({
    at: deps.clock.now().toISOString(),
    tripTransition: { tripId: trip.tripId, from: ['refund_pending'], to: 'refunded', refundId },
    audits: [audit(deps, { eventType: 'trip.refunded', entityType: 'trip', entityId: trip.tripId, metadata: { paymentId, refundId, reason: trip.statusReason ?? null } })],
  });
  // Not committed: a concurrent delivery finished the same refund first.
  if (!result.committed && result.rejection.trip?.current?.status !== 'refunded') return 'state-changed';
  return { outcome: 'refunded', tripId: trip.tripId, ...(trip.statusReason && { reason: trip.statusReason }) };
}

/**
 * A payment that may not touch the trip it names (unknown, mismatching, or for a trip that is no longer
 * payable) is set aside on a record of its own — the trip stays as it is — and refunded.
 */
async function setPaymentAside(deps: PaymentEventDeps, event: CheckoutCompleted, paymentId: string, reason: string): Promise<StepResult> {
  const now = deps.clock.now().toISOString();
  const record: PaymentRecord = {
    paymentId,
    status: 'refund_pending',
    reason,
    ...(event.tripId !== undefined && { tripId: event.tripId }),
    ...(event.amount !== null && { amount: event.amount }),
    ...(event.currency !== null && { currency: event.currency.toLowerCase() }),
    createdAt: now,
    updatedAt: now,
  };
  const result = await deps.store.commit({
    at: now,
    newPaymentRecord: record,
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
  if (result.committed) return finishPaymentRefund(deps, record);
  const existing = result.rejection.paymentRecord?.current;
  if (!existing) return 'state-changed';
  if (existing.status === 'refund_pending') return finishPaymentRefund(deps, existing);
  return { outcome: 'refunded', reason: existing.reason, setAside: true, ...(existing.tripId && { tripId: existing.tripId }) };
}

async function finishPaymentRefund(deps: PaymentEventDeps, record: PaymentRecord): Promise<StepResult> {
  // A session paid with nothing (a 100 % discount) has no PaymentIntent and nothing to give back.
  const refundId =
    record.amount === 0
      ? 'nothing-to-refund'
      : (
          await deps.gateway.refund({
            paymentId: record.paymentId,
            idempotencyKey: refundIdempotencyKey(record.paymentId),
            reason: record.reason,
            ...(record.tripId !== undefined && { tripId: record.tripId }),
          })
        ).refundId;
  const result = await deps.store.commit({
    at: deps.clock.now().toISOString(),
    paymentRecordTransition: { paymentId: record.paymentId, from: 'refund_pending', to: 'refunded', refundId },
    audits: [audit(deps, { eventType: 'payment.refunded', entityType: 'payment', entityId: record.paymentId, metadata: { refundId, reason: record.reason } })],
  });
  if (!result.committed && result.rejection.paymentRecord?.current?.status !== 'refunded') return 'state-changed';
  return { outcome: 'refunded', reason: record.reason, setAside: true, ...(record.tripId !== undefined && { tripId: record.tripId }) };
}

async function onAwaitingPayment(deps: PaymentEventDeps, event: CheckoutCompleted): Promise<StepResult> {
  const trip = event.tripId === undefined ? undefined : await deps.store.getTrip(event.tripId);
  if (!trip || trip.status !== 'pending_payment' || !sessionMayMove(trip, event.sessionId)) {
    return { outcome: 'no_change', ...(trip && { tripId: trip.tripId }) };
  }
  return commitTripMove(deps, event, trip, { to: 'awaiting_payment', checkoutSessionId: event.sessionId }, 'awaiting_payment');
}

async function onCheckoutEnded(deps: PaymentEventDeps, event: CheckoutEnded): Promise<StepResult> {
  const trip = event.tripId === undefined ? undefined : await deps.store.getTrip(event.tripId);
  // Arriving after the trip was booked (or otherwise settled), an end of checkout changes nothing.
  if (!trip || !CONFIRMABLE_TRIP_STATUSES.includes(trip.status) || !sessionMayMove(trip, event.sessionId)) {
    return { outcome: 'no_change', ...(trip && { tripId: trip.tripId }) };
  }
  return commitTripMove(deps, event, trip, { to: event.to }, event.to);
}

/** A session other than the trip's recorded one (an old, abandoned checkout) may not move the trip. */
function sessionMayMove(trip: Trip, sessionId: string): boolean {
  return trip.checkoutSessionId === undefined || trip.checkoutSessionId === sessionId;
}

async function commitTripMove(
  deps: PaymentEventDeps,
  event: CheckoutCompleted | CheckoutEnded,
  trip: Trip,
  move: { to: Trip['status']; checkoutSessionId?: string },
  outcome: PaymentOutcome,
): Promise<StepResult> {
  const result = await deps.store.commit({
    at: deps.clock.now().toISOString(),
    tripTransition: { tripId: trip.tripId, from: [trip.status], ...move },
    audits: [audit(deps, { eventType: `trip.${move.to}`, entityType: 'trip', entityId: trip.tripId, metadata: { sessionId: event.sessionId, eventId: event.eventId } })],
    processedEvent: processedEvent(deps, event, outcome, trip.tripId),
  });
  if (result.committed) return { outcome, tripId: trip.tripId };
  return result.rejection.eventAlreadyProcessed ? { outcome: 'duplicate', tripId: trip.tripId } : 'state-changed';
}

async function onChargeRefunded(deps: PaymentEventDeps, event: ChargeRefunded): Promise<StepResult> {
  const tripFromEvent = event.tripId === undefined ? undefined : await deps.store.getTrip(event.tripId);
  const trip = tripFromEvent?.paymentId === event.paymentId ? tripFromEvent : await deps.store.findTripByPayment(event.paymentId);

  if (event.amountRefunded < event.amount) {
    // A partial refund is a conversation between operator and traveller: recorded, not acted on.
    return recordOnly(deps, event, 'partial_refund_recorded', trip?.tripId);
  }
  if (trip && trip.paymentId === event.paymentId) {
    if (trip.status === 'booked') return releaseRefundedTrip(deps, event, trip);
    if (trip.status === 'refund_pending') return finishTripRefund(deps, trip, event.paymentId);
    return { outcome: 'duplicate', tripId: trip.tripId };
  }
  const record = await deps.store.getPaymentRecord(event.paymentId);
  if (record) {
    return record.status === 'refund_pending'
      ? finishPaymentRefund(deps, record)
      : { outcome: 'duplicate', ...(record.tripId !== undefined && { tripId: record.tripId }) };
  }
  // Refunded before its confirmation arrived (or never confirmed): the record stops a late confirmation from booking.
  const now = deps.clock.now().toISOString();
  const result = await deps.store.commit({
    at: now,
    newPaymentRecord: {
      paymentId: event.paymentId,
      status: 'refunded',
      reason: 'refunded_before_confirmation',
      amount: event.amount,
      currency: event.currency,
      ...(event.tripId !== undefined && { tripId: event.tripId }),
      createdAt: now,
      updatedAt: now,
    },
    audits: [audit(deps, { eventType: 'payment.refunded', entityType: 'payment', entityId: event.paymentId, metadata: { reason: 'refunded_before_confirmation', amount: event.amountRefunded, eventId: event.eventId } })],
    processedEvent: processedEvent(deps, event, 'refund_recorded', event.tripId),
  });
  if (!result.committed) return 'state-changed';
  return { outcome: 'refund_recorded', ...(event.tripId !== undefined && { tripId: event.tripId }) };
}

async function releaseRefundedTrip(deps: PaymentEventDeps, event: ChargeRefunded, trip: Trip): Promise<StepResult> {
  const result = await releaseBookings(
    deps,
    { tripId: trip.tripId },
    {
      reason: 'payment refunded',
      actorType: 'stripe',
      tripTransition: { from: ['booked'], to: 'refunded', statusReason: 'payment_refunded' },
      marker: markerOf(deps, event),
    },
  );
  if (!result.ok) {
    if (result.errorCode === 'TRANSACTION_FAILED') throw new RetryLaterError(result.message);
    return 'state-changed';
  }
  return { outcome: 'released', tripId: trip.tripId, references: result.released.map((released) => released.reference) };
}

async function recordOnly(deps: PaymentEventDeps, event: ChargeRefunded, outcome: PaymentOutcome, tripId?: string): Promise<StepResult> {
  const write: AtomicWrite = {
    at: deps.clock.now().toISOString(),
    audits: [
      audit(deps, {
        eventType: 'payment.partially_refunded',
        entityType: 'payment',
        entityId: event.paymentId,
        metadata: { amount: event.amount, amountRefunded: event.amountRefunded, currency: event.currency, tripId: tripId ?? null, eventId: event.eventId },
      }),
    ],
    processedEvent: processedEvent(deps, event, outcome, tripId),
  };
  const result = await deps.store.commit(write);
  return { outcome: result.committed ? outcome : 'duplicate', ...(tripId !== undefined && { tripId }) };
}
