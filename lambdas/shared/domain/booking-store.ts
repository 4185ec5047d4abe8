// The storage port of the booking domain: what the use cases ask of a store, in domain terms only.
import type { StoredDataError } from './errors';
import type { AuditEntry, Booking, CheckoutTrip, EarlyChargeTotal, Hold, PaymentRecord, ProcessedEvent, Slot, Trip, TripStatus, UnusableEvent } from './model';

/**
 * Take seats from a slot (a confirmation), guarded: the slot exists for that experience, is not blocked, has
 * enough seats. `held`: the seats were held by this trip's checkout, so only availableCount moves; otherwise
 * they must also be unheld, and both counters move.
 */
export interface SeatTake {
  readonly kind: 'take';
  readonly slotId: string;
  readonly experienceId?: string;
  readonly guests: number;
  readonly held?: boolean;
}

/** Hold seats for a checkout: the same guards against the seats neither booked nor held; only unheldCount moves. */
export interface SeatHold {
  readonly kind: 'hold';
  readonly slotId: string;
  readonly experienceId: string;
  readonly guests: number;
}

/** Give held seats back to sale (a hold released); guarded by the hold itself, released once in the same transaction. */
export interface SeatUnhold {
  readonly kind: 'unhold';
  readonly slotId: string;
  readonly guests: number;
}

/**
 * Give seats back, guarded so availability never exceeds capacity: the slot's capacity is still the one
 * read (`capacity`) and it has at most `capacity - guests` seats free before the release.
 */
export interface SeatGive {
  readonly kind: 'give';
  readonly slotId: string;
  readonly guests: number;
  readonly capacity: number;
}

export type SeatChange = SeatTake | SeatGive | SeatHold | SeatUnhold;

/** What a paid Checkout Session says of its trip, for the trip's conditions to check. */
export interface PaidFor extends CheckoutTrip {
  readonly checkoutSessionId: string;
  readonly amount: number;
  readonly currency: string;
}

export interface TripTransition {
  readonly tripId: string;
  readonly from: readonly TripStatus[];
  readonly to: TripStatus;
  /** When set, the stored trip must belong to this user. */
  readonly userId?: string;
  /**
   * When set, the stored trip must be the one this Checkout Session was opened for, at this price, with exactly
   * these items: what lets a confirmation built from the session alone, without reading the trip, book nothing
   * the trip did not ask for.
   */
  readonly paidFor?: PaidFor;
  readonly paymentId?: string;
  readonly bookingReferences?: readonly string[];
  readonly statusReason?: string;
  readonly checkoutSessionId?: string;
  readonly checkoutUrl?: string;
  readonly refundId?: string;
  readonly holdExpiresAt?: string;
  /**
   * When set, the trip must have no Checkout Session recorded (`null`), or none but this one: a trip whose payment page
   * was answered is never ended by a request that failed to make one, nor given a second page.
   */
  readonly recordedSessionNoneOr?: string | null;
  /** When set, the trip's hold must still end then: a retried checkout may have held it on since this was decided. */
  readonly heldUntil?: string;
  /**
   * When set, the partial refund the trip kept from before its payment's record (`chargeRefundedEarly`) must be as read
   * (`null`: none): the payment's first record starts with what Stripe said because one was kept, so one kept after the
   * read makes the step decide again. The one kept for this transition's payment is removed: the record it was kept for
   * is this write's (other payments' stay, for their records). A confirmation built without reading the trip requires none.
   */
  readonly chargeRefundedEarlyAsRead?: readonly EarlyChargeTotal[] | null;
}

/**
 * A traveller's return about to ask the provider for its trip's session: recorded on the trip only if no return did so
 * after `notCheckedSince` and the trip still waits for its payment, so polls ask once per interval however many arrive at once.
 */
export interface ProviderCheckClaim {
  readonly tripId: string;
  /** When this return asks. */
  readonly at: string;
  /** A check recorded after this instant is recent: this one is refused. */
  readonly notCheckedSince: string;
  /** The states in which the provider may be asked (the trip waits for its payment). */
  readonly whileStatusIn: readonly TripStatus[];
}

/** The payment record, written whole: new, or replacing exactly the version that was read. */
export interface PaymentRecordWrite {
  readonly record: PaymentRecord;
  /** The version read; absent when no record may exist yet (the first path to touch a payment claims it). */
  readonly expectedVersion?: number;
}

/** An operator's change to a slot, guarded so the seats already sold stay sold. */
export interface SlotSettingsChange {
  readonly slotId: string;
  /** Written only while the slot is otherwise (a block or unblock of two at once changes it once). */
  readonly isBlocked?: boolean;
  /**
   * Capacity from → to. Availability moves by the same delta, so `available + booked = capacity` still
   * holds; refused when fewer seats are free than the capacity shrinks by.
   */
  readonly capacity?: { readonly from: number; readonly to: number };
}

export interface BookingCancellation {
  readonly reference: string;
  readonly reason: string;
  /** When set, the booking's share must still be this: the share its refund or waiver was decided at. */
  readonly shareAsRead?: number;
}

/**
 * A confirmed booking's share of its payment, from the figure read to another: its payment's charge learned after it
 * was booked (create-booking could only record its trip's price). Guarded: still confirmed, still at `from`.
 */
export interface BookingShareChange {
  readonly reference: string;
  readonly from: number;
  readonly to: number;
}

/** Everything one atomic write may hold; each part carries the condition that protects it. */
export interface AtomicWrite {
  readonly seatChanges?: readonly SeatChange[];
  readonly newSlot?: Slot;
  readonly slotSettings?: SlotSettingsChange;
  readonly newBookings?: readonly Booking[];
  readonly cancellations?: readonly BookingCancellation[];
  readonly shareChanges?: readonly BookingShareChange[];
  readonly audits?: readonly AuditEntry[];
  readonly tripTransition?: TripTransition;
  readonly paymentRecord?: PaymentRecordWrite;
  /** A new trip (checkout): must not exist yet. */
  readonly newTrip?: Trip;
  /** A new hold, or a hold leaving `held` (consumed by its confirmation, or released): exactly once. */
  readonly newHold?: Hold;
  readonly holdTransition?: {
    readonly tripId: string;
    readonly to: 'consumed' | 'released';
    /** When set, the hold must have run out by then: the sweeper, which found it by an expiry a retry may have moved since. */
    readonly expiredBy?: string;
  };
  /** A hold still held until `from`, held on until `to` (a checkout retried too late for its payment page's expiry). */
  readonly holdRenewal?: { readonly tripId: string; readonly from: string; readonly to: string };
  /** An unusable event, new (`expectedStatus` absent) or replacing the one read in that status. */
  readonly unusableEvent?: { readonly event: UnusableEvent; readonly expectedStatus?: UnusableEvent['status'] };
  readonly processedEvent?: ProcessedEvent;
  /**
   * The partial refunds kept on the trip the charge names (`Trip.chargeRefundedEarly`), with one of a payment with no
   * record yet added or moved on, replacing those read (`asRead`, `null`: none).
   */
  readonly chargeRefundedEarly?: { readonly tripId: string; readonly kept: readonly EarlyChargeTotal[]; readonly asRead: readonly EarlyChargeTotal[] | null };
  /** The payment must have no record yet. */
  readonly paymentRecordAbsent?: string;
  /**
   * A payment's first record written without moving the trip it names (set aside): the partial refunds the trip kept must
   * be as read (`null`: none), as `TripTransition.chargeRefundedEarlyAsRead`, and `paymentId`'s own is taken off.
   */
  readonly tripChargeRefundedEarlyAsRead?: { readonly tripId: string; readonly paymentId: string; readonly asRead: readonly EarlyChargeTotal[] | null };
  readonly at: string;
}

/** Why an atomic write was refused: one entry per guard that failed, with the item as it was. */
export interface WriteRejection {
  readonly seatChanges: readonly { readonly change: SeatChange; readonly current?: Slot }[];
  /** References of new bookings that already exist. */
  readonly takenReferences: readonly string[];
  /** Present when the trip transition's guard failed; `current` is absent when the trip is missing. */
  readonly trip?: { readonly current?: Trip };
  /** Present when the payment record was not as read (or existed already); `current` is the record as it is. */
  readonly paymentRecord?: { readonly current?: PaymentRecord };
  /** Present when the hold was not held any more (or the new trip or hold existed already). */
  readonly hold?: { readonly current?: Hold };
  readonly tripExisted?: boolean;
  /** Present when the unusable event was recorded already, or is no longer in the status read. */
  readonly unusableEvent?: { readonly current?: UnusableEvent };
  readonly eventAlreadyProcessed: boolean;
}

export type AtomicWriteResult = { readonly committed: true } | { readonly committed: false; readonly rejection: WriteRejection };

/** What the request paths (webhook, checkout, create-booking, sweeper) ask of a store: point reads and the atomic write. */
export interface BookingStore {
  getTrip(tripId: string): Promise<Trip | undefined>;
  /** Stores a new trip; false when a trip with that id exists already. */
  createTrip(trip: Trip): Promise<boolean>;
  getSlots(slotIds: readonly string[]): Promise<Map<string, Slot>>;
  getBookings(references: readonly string[]): Promise<Booking[]>;
  getPaymentRecord(paymentId: string): Promise<PaymentRecord | undefined>;
  /** The trip a payment booked, by the payment index (eventually consistent): only for trips booked before payment records. */
  findTripByPayment(paymentId: string): Promise<Trip | undefined>;
  getUnusableEvent(eventId: string): Promise<UnusableEvent | undefined>;
  /** Holds still `held` whose expiry is at or before `at`, oldest first (a sparse index: only held ones are in it). */
  /** Held holds whose expiry is at or before `at`, oldest first; after `after` (one of them) when given. */
  listExpiredHolds(at: string, limit?: number, after?: Pick<Hold, 'tripId' | 'expiresAt'>): Promise<Hold[]>;
  /** Applies all of `write` or nothing of it. Throws StoreUnavailableError when no definite answer could be had. */
  commit(write: AtomicWrite): Promise<AtomicWriteResult>;
  /**
   * Records the check on the trip when the claim's guards hold: true when recorded (this return may ask), false when
   * another return asked recently or the trip no longer waits. Every trip transition forgets the last check, so a
   * trip that moved may be asked about at once.
   */
  claimProviderCheck(claim: ProviderCheckClaim): Promise<boolean>;
}

/**
 * What operator tools, the consistency check and tests ask besides: listings and scans, never on a request path.
 * A stored item that fails its shape is handed to `onUnusable` (and left out) when given, so one bad item
 * cannot hide the others.
 */
export interface BookingQueries {
  /** Every slot, by date and time. */
  listAllSlots(onUnusable?: (problem: StoredDataError) => void): Promise<Slot[]>;
  /** With `onUnusable`, a slot that no longer reads is handed to it and left out; without, it throws StoredDataError. */
  listSlotsOfExperience(experienceId: string, onUnusable?: (problem: StoredDataError) => void): Promise<Slot[]>;
  listBookingsOfTrip(tripId: string): Promise<Booking[]>;
  listBookingsOfSlot(slotId: string): Promise<Booking[]>;
  listTripsOfUser(userId: string): Promise<Trip[]>;
  listAudit(entityType: string, entityId: string): Promise<AuditEntry[]>;
  getProcessedEvent(eventId: string): Promise<ProcessedEvent | undefined>;
  getHold(tripId: string): Promise<Hold | undefined>;
  /** Payments in `needs_attention`, oldest first (a sparse index: only they are in it). */
  listPaymentsNeedingAttention(): Promise<PaymentRecord[]>;
  /** Unusable events still waiting for a person, oldest first (the same sparse index). */
  listEventsNeedingAttention(): Promise<UnusableEvent[]>;
  /** Every hold still held; with `onUnusable`, those that no longer read are told to it and left out instead of failing the list. */
  listActiveHolds(onUnusable?: (problem: StoredDataError) => void): Promise<Hold[]>;
  /** Every payment record. */
  listAllPaymentRecords(onUnusable?: (problem: StoredDataError) => void): Promise<PaymentRecord[]>;
}
