// Business failure codes (returned, never thrown) and the exceptions for what is not a business outcome.

export const BOOKING_ERROR_CODES = [
  'VALIDATION_FAILED',
  'TRIP_TOO_LARGE',
  'TRIP_NOT_FOUND',
  'TRIP_NOT_PENDING',
  'TRIP_MISMATCH',
  'SLOT_NOT_FOUND',
  'SLOT_BLOCKED',
  'INSUFFICIENT_AVAILABILITY',
  'PAYMENT_SET_ASIDE',
  'PAYMENT_NOT_FOUND',
  'IDEMPOTENCY_KEY_REUSED',
  'CHECKOUT_REFUSED',
  'CHECKOUT_PAID',
  'PAYMENT_CHANGED',
  'NOTHING_TO_RETRY',
  'REFUND_UNCLEAR',
  'NOT_NEEDING_ATTENTION',
  'REFUNDS_IN_FLIGHT',
  'BOOKING_NOT_FOUND',
  'CAPACITY_BELOW_BOOKED',
  'STRIPE_UNAVAILABLE',
  'TRANSACTION_FAILED',
] as const;
export type BookingErrorCode = (typeof BOOKING_ERROR_CODES)[number];

/** Why one slot of a trip could not be booked, decoded from the transaction's cancellation reasons. */
export interface SlotFailure {
  readonly slotId: string;
  readonly code: 'SLOT_NOT_FOUND' | 'SLOT_BLOCKED' | 'INSUFFICIENT_AVAILABILITY';
  readonly requested: number;
  /** Seats the slot had when the transaction was evaluated; absent when the slot does not exist. */
  readonly available?: number;
}

export interface BookingFailure {
  readonly ok: false;
  readonly errorCode: BookingErrorCode;
  readonly message: string;
  /** Per-slot detail for the slot codes. */
  readonly slots?: readonly SlotFailure[];
  /** The offending field, for VALIDATION_FAILED. */
  readonly field?: string;
  /** True only when the same request may succeed later (TRANSACTION_FAILED). */
  readonly retryable: boolean;
  /** For the operator's log only, never answered to a caller: what another system said (Stripe's words of a refusal). */
  readonly detail?: string;
}

export function failure(
  errorCode: BookingErrorCode,
  message: string,
  extra: Partial<Pick<BookingFailure, 'slots' | 'field' | 'retryable' | 'detail'>> = {},
): BookingFailure {
  return { ok: false, errorCode, message, retryable: false, ...extra };
}

/**
 * The store could not give a definite answer (throttled, conflicting, unreachable) after its retries.
 * `maybeCommitted` is true when a write may have been applied before the failure (a timeout after sending).
 */
export class StoreUnavailableError extends Error {
  readonly maybeCommitted: boolean;

  constructor(message: string, options: { cause?: unknown; maybeCommitted: boolean }) {
    super(message, { cause: options.cause });
    this.name = 'StoreUnavailableError';
    this.maybeCommitted = options.maybeCommitted;
  }
}

/**
 * What a step read kept changing under it through all its attempts (other writers of the same item), so the step
 * wrote nothing: a conflict the store could not see through, retried as its unavailability is. What was committed
 * before the step stands, and the same call made again resumes from it.
 */
export class StateKeptMovingError extends StoreUnavailableError {
  constructor(message: string) {
    super(message, { maybeCommitted: false });
    this.name = 'StateKeptMovingError';
  }
}

/**
 * A stored item does not have the shape the code relies on (a slot whose count is not a number, a trip that
 * no longer parses). Never a reason to refund or to retry: the payment it concerns goes to a person.
 */
export class StoredDataError extends Error {
  readonly entity: string;
  readonly entityId: string;

  constructor(entity: string, entityId: string, problem: string) {
    super(`Stored ${entity} ${entityId} is unusable: ${problem}`);
    this.name = 'StoredDataError';
    this.entity = entity;
    this.entityId = entityId;
  }
}
