// Use case: confirm a paid trip — take every slot's seats, create its bookings and audit entries, mark it booked — atomically.
import type { AtomicWrite, BookingStore, PaidFor, SeatTake, WriteRejection } from './booking-store';
import { auditEntry, processedEventRecord, type EventMarker } from './audit-trail';
import type { Deps } from './collaborators';
import { failure, StoreUnavailableError, type BookingFailure } from './errors';
import {
  CONFIRMABLE_TRIP_STATUSES,
  seatsPerSlot,
  type Booking,
  type BookingStatus,
  type EarlyChargeTotal,
  type PaymentRecord,
  type Trip,
  type TripItem,
} from './model';
import { newPaymentRecord, withChargeTotal } from './payment-ledger';
import type { RefundedSoFar } from './payment-gateway';
import { classifySlotRefusal, slotRefusalFailure } from './slot-refusals';

export interface BookingSummary {
  readonly id: string;
  readonly reference: string;
  readonly experienceId: string;
  readonly slotId: string;
  readonly status: BookingStatus;
}

export interface ConfirmTripSuccess {
  readonly ok: true;
  readonly tripId: string;
  readonly paymentId: string;
  readonly bookings: readonly BookingSummary[];
  /** True when the trip had been confirmed already by this payment and its bookings are returned again. */
  readonly replayed: boolean;
}

export type ConfirmTripResult = ConfirmTripSuccess | BookingFailure;

/** A fresh reference colliding with an existing one is retried this many times before giving up. */
const REFERENCE_ATTEMPTS = 3;

/**
 * A paid trip to confirm. The caller has parsed its request and read the trip (strongly consistent); the
 * transaction's conditions still decide, so a trip that moved meanwhile is refused all the same.
 */
export interface ConfirmTripInput {
  readonly trip: Trip;
  readonly paymentId: string;
  /** The Stripe event that paid, remembered in the same transaction. */
  readonly marker?: EventMarker;
  /** What the traveller actually paid (after discounts); the trip's price when absent. */
  readonly amountPaid?: number;
  /** The Checkout Session that paid, recorded on the payment record. */
  readonly sessionId?: string;
  /** Refunds made before this payment had a record, when the caller asked (the webhook: `RefundsBeforeRecord`). */
  readonly refundsBeforeRecord?: RefundsBeforeRecord;
}

/**
 * A partial refund of the payment seen before its record existed, as its trip kept it (`asRead`, `null`: none), and what
 * the provider counts back of the payment now, asked because one was kept: the record starts with the provider's word,
 * never with the kept snapshot, which a refund failing since would leave counting money that never went back.
 */
export interface RefundsBeforeRecord {
  readonly asRead: readonly EarlyChargeTotal[] | null;
  readonly refundedSoFar?: RefundedSoFar;
}

/** The payment's first record, starting with what the provider counts back of it, when it was asked. */
export function withRefundsBeforeRecord(record: PaymentRecord, before: RefundsBeforeRecord | undefined): PaymentRecord {
  const soFar = before?.refundedSoFar;
  return soFar === undefined ? record : withChargeTotal(record, soFar.amount, soFar.asOf);
}

/**
 * Input: the trip as just read and the payment that paid for it (typed; parsing happens at the edges).
 * Output: the bookings, or a failure with an error code; business failures change nothing.
 * Steps: replay if this payment booked the trip → one transaction → decode refusals.
 */
export async function confirmTrip(deps: Deps, input: ConfirmTripInput): Promise<ConfirmTripResult> {
  try {
    const settled = await settledOutcome(deps.store, input.trip, input.paymentId);
    if (settled) return settled;
    const { trip, paymentId } = input;
    const attempt = await commitConfirmation(deps, {
      ...input,
      amountPaid: input.amountPaid ?? trip.amount,
      // A trip checkout held takes its own held seats.
      held: trip.holdExpiresAt !== undefined,
    });
    if (attempt.committed) return success(trip.tripId, paymentId, attempt.bookings);
    return answerRefusal(deps.store, input, attempt.rejection);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    return answerAfterUnavailableStore(deps.store, input, error);
  }
}

/** The trip a confirmation books: as just read, or as its Checkout Session describes it. */
export type TripToConfirm = Pick<Trip, 'tripId' | 'userId' | 'items' | 'amount' | 'currency' | 'itemAmounts'>;

export interface ConfirmationRequest {
  readonly trip: TripToConfirm;
  readonly paymentId: string;
  readonly marker?: EventMarker;
  readonly amountPaid: number;
  readonly sessionId?: string;
  /** Whether to take the seats the trip's checkout held (first), rather than compete for the rest. */
  readonly held: boolean;
  /** Conditions on the stored trip for a confirmation built without reading it (TripTransition.paidFor). */
  readonly paidFor?: PaidFor;
  readonly refundsBeforeRecord?: RefundsBeforeRecord;
}

export type ConfirmationAttempt =
  | { readonly committed: true; readonly bookings: readonly Booking[] }
  | { readonly committed: false; readonly rejection: WriteRejection };

/**
 * One confirmation's transaction: every slot's seats, the bookings and their audit entries, the payment record
 * claimed, the trip booked. Tried again only for what can be mended here: a hold that is gone (the trip then
 * competes for the unheld seats) or a reference that is taken. Any other refusal is the caller's to read.
 */
export async function commitConfirmation(deps: Deps, request: ConfirmationRequest): Promise<ConfirmationAttempt> {
  const { trip, paymentId } = request;
  let bookings = newBookings(deps, trip, paymentId, request.amountPaid);
  let held = request.held;
  for (let attempt = 1; ; attempt++) {
    const result = await deps.store.commit(confirmationWrite(deps, { ...request, held }, bookings));
    if (result.committed) return { committed: true, bookings };
    const { rejection } = result;
    if (held && rejection.hold && !rejection.trip) {
      // Its hold expired or was released: the trip competes for the rest like any other.
      held = false;
      continue;
    }
    const otherRefusals = rejection.trip || rejection.eventAlreadyProcessed || rejection.seatChanges.length > 0 || rejection.paymentRecord;
    if (!otherRefusals && rejection.takenReferences.length > 0 && attempt < REFERENCE_ATTEMPTS) {
      const taken = new Set(rejection.takenReferences);
      bookings = bookings.map((booking) => (taken.has(booking.reference) ? { ...booking, reference: deps.ids.reference() } : booking));
      continue;
    }
    return { committed: false, rejection };
  }
}

/** What a refused confirmation of a trip just read means, as the use case's answer. */
async function answerRefusal(store: BookingStore, input: ConfirmTripInput, rejection: WriteRejection): Promise<ConfirmTripResult> {
  const { trip, paymentId } = input;
  if (rejection.trip || rejection.eventAlreadyProcessed) {
    // Someone else moved the trip first (often a concurrent delivery of the same payment): answer from what it is now.
    const current = rejection.trip ? rejection.trip.current : await store.getTrip(trip.tripId);
    return (current && (await settledOutcome(store, current, paymentId))) ?? notPending(trip.tripId, current);
  }
  if (rejection.seatChanges.length > 0) return slotFailure(rejection);
  if (rejection.paymentRecord) {
    // The code predates create-booking's callers naming a payment that already booked a trip: one record per payment.
    return failure(
      'PAYMENT_SET_ASIDE',
      `Payment ${paymentId} already has a record (it booked another trip, or was refunded or set aside before this confirmation); it books nothing.`,
    );
  }
  return failure('TRANSACTION_FAILED', 'The confirmation was refused for a reason that was not a slot or the trip.', {
    retryable: true,
  });
}

/** The answer for a trip that is no longer waiting for a payment, or undefined when it still is. */
async function settledOutcome(store: BookingStore, trip: Trip, paymentId: string): Promise<ConfirmTripResult | undefined> {
  if (CONFIRMABLE_TRIP_STATUSES.includes(trip.status)) return undefined;
  if (trip.status === 'booked' && trip.paymentId === paymentId) {
    const bookings = await store.getBookings(trip.bookingReferences);
    return { ok: true, tripId: trip.tripId, paymentId, bookings: bookings.map(summarise), replayed: true };
  }
  return notPending(trip.tripId, trip);
}

export function notPending(tripId: string, trip: Trip | undefined): BookingFailure {
  if (!trip) return failure('TRIP_NOT_FOUND', `Trip ${tripId} does not exist.`);
  const by = trip.paymentId ? ` (payment ${trip.paymentId})` : '';
  return failure('TRIP_NOT_PENDING', `Trip ${tripId} is ${trip.status}${by}, not awaiting a payment.`);
}

/**
 * What each booking's share of the payment is: its price, scaled to what was actually paid (a discount lowers
 * every share alike), rounded so the shares add up to the payment exactly (largest remainder).
 */
export function paidShares(prices: readonly number[], amountPaid: number): number[] {
  const total = prices.reduce((sum, price) => sum + price, 0);
  if (total === 0) return prices.map(() => 0);
  const exact = prices.map((price) => (price * amountPaid) / total);
  const shares = exact.map(Math.floor);
  let left = amountPaid - shares.reduce((sum, share) => sum + share, 0);
  const byRemainder = exact.map((value, index) => ({ index, remainder: value - Math.floor(value) })).sort((a, b) => b.remainder - a.remainder);
  for (const { index } of byRemainder) {
    if (left <= 0) break;
    shares[index] = (shares[index] ?? 0) + 1;
    left--;
  }
  return shares;
}

function newBookings(deps: Deps, trip: TripToConfirm, paymentId: string, amountPaid: number): Booking[] {
  const createdAt = deps.clock.now().toISOString();
  const prices = trip.itemAmounts;
  // Trips stored before prices were recorded per item have no shares to split.
  const amounts = prices && prices.length === trip.items.length ? paidShares(prices, amountPaid) : [];
  return trip.items.map((item, index) => ({
    bookingId: deps.ids.uuid(),
    reference: deps.ids.reference(),
    tripId: trip.tripId,
    userId: trip.userId,
    paymentId,
    experienceId: item.experienceId,
    slotId: item.slotId,
    guestCount: item.guestCount,
    date: item.date,
    time: item.time,
    status: 'confirmed',
    createdAt,
    ...(amounts[index] !== undefined && { amount: amounts[index], currency: trip.currency }),
  }));
}

/** Items of one trip on the same slot become one decrement: a transaction may touch an item only once. */
function seatTakes(items: readonly Pick<TripItem, 'slotId' | 'experienceId' | 'guestCount'>[], held: boolean): SeatTake[] {
  return seatsPerSlot(items).map(({ slotId, experienceId, guests }) => ({ kind: 'take', slotId, experienceId, guests, held }));
}

/** What the `booking.confirmed` audit entry of a booking keeps of it. */
export function confirmedBookingMetadata(booking: Booking): Record<string, string | number> {
  return {
    reference: booking.reference,
    bookingId: booking.bookingId,
    paymentId: booking.paymentId,
    tripId: booking.tripId,
    userId: booking.userId,
    experienceId: booking.experienceId,
    slotId: booking.slotId,
    guestCount: booking.guestCount,
  };
}

function confirmationWrite(deps: Deps, request: ConfirmationRequest, bookings: readonly Booking[]): AtomicWrite {
  const { trip, paymentId, marker } = request;
  const at = deps.clock.now().toISOString();
  const references = bookings.map((booking) => booking.reference);
  const audits = bookings.map((booking) =>
    auditEntry(deps, {
      eventType: 'booking.confirmed',
      entityType: 'booking',
      entityId: booking.reference,
      actorType: 'system',
      at,
      metadata: confirmedBookingMetadata(booking),
    }),
  );
  return {
    at,
    seatChanges: seatTakes(trip.items, request.held),
    ...(request.held && { holdTransition: { tripId: trip.tripId, to: 'consumed' as const } }),
    newBookings: bookings,
    audits,
    // The confirmation claims the payment: a refund recorded first makes this Put fail, and one arriving later finds it booked.
    // Refunded in part before it arrived, it starts with what Stripe counts back (one built unread requires none kept).
    paymentRecord: {
      record: withRefundsBeforeRecord(
        newPaymentRecord(
          {
            paymentId,
            status: 'booked',
            tripId: trip.tripId,
            ...(request.sessionId !== undefined && { sessionId: request.sessionId }),
            setAside: false,
            amountPaid: request.amountPaid,
            currency: trip.currency,
          },
          at,
        ),
        request.refundsBeforeRecord,
      ),
    },
    // The trip must still be the traveller's and waiting: the caller's read is not trusted past this condition.
    tripTransition: {
      tripId: trip.tripId,
      userId: trip.userId,
      ...(request.paidFor && { paidFor: request.paidFor }),
      ...(request.refundsBeforeRecord && { chargeRefundedEarlyAsRead: request.refundsBeforeRecord.asRead }),
      from: CONFIRMABLE_TRIP_STATUSES,
      to: 'booked',
      paymentId,
      bookingReferences: references,
    },
    ...(marker && { processedEvent: processedEventRecord(marker, 'booked', { tripId: trip.tripId, references, at }) }),
  };
}

function slotFailure(rejection: WriteRejection): BookingFailure {
  return slotRefusalFailure(
    rejection.seatChanges.map(({ change, current }) =>
      classifySlotRefusal(
        change.slotId,
        change.guests,
        current,
        change.kind === 'take' ? change.experienceId : undefined,
        change.kind === 'take' && !change.held,
      ),
    ),
  );
}

/**
 * The store gave no definite answer. If the write may have landed, the trip is read back first:
 * a confirmation that committed must never be reported as a failure.
 */
async function answerAfterUnavailableStore(store: BookingStore, input: ConfirmTripInput, error: StoreUnavailableError): Promise<ConfirmTripResult> {
  if (error.maybeCommitted) {
    try {
      const trip = await store.getTrip(input.trip.tripId);
      if (trip?.status === 'booked' && trip.paymentId === input.paymentId) {
        return (await settledOutcome(store, trip, input.paymentId)) as ConfirmTripSuccess;
      }
    } catch {
      // Still unreachable: the caller retries the whole confirmation, which is idempotent.
    }
  }
  return failure('TRANSACTION_FAILED', 'The booking store is unavailable; the confirmation can be retried.', { retryable: true });
}

function success(tripId: string, paymentId: string, bookings: readonly Booking[]): ConfirmTripSuccess {
  return { ok: true, tripId, paymentId, bookings: bookings.map(summarise), replayed: false };
}

function summarise(booking: Booking): BookingSummary {
  return {
    id: booking.bookingId,
    reference: booking.reference,
    experienceId: booking.experienceId,
    slotId: booking.slotId,
    status: booking.status,
  };
}
