// The booking domain's entities, as the use cases see them (no storage or transport detail).

/** ISO-4217 code in lower case, as Stripe spells it (`eur`, `usd`). */
export type Currency = string;

export interface Slot {
  readonly slotId: string;
  readonly experienceId: string;
  /** `YYYY-MM-DD`, local to the experience. */
  readonly date: string;
  /** `HH:MM`, 24-hour, local to the experience. */
  readonly time: string;
  readonly capacity: number;
  /** Seats not booked: capacity = availableCount + confirmed guests. */
  readonly availableCount: number;
  /**
   * Seats neither booked nor held by a checkout: availableCount − held seats. Checkout takes from it; a
   * confirmation of a trip whose hold is gone takes from both. Absent on slots stored before holds (= availableCount).
   */
  readonly unheldCount?: number;
  readonly isBlocked: boolean;
  /** Price per guest in the currency's minor unit (cents). */
  readonly priceAmount: number;
  readonly currency: Currency;
  readonly updatedAt: string;
}

export interface TripItem {
  readonly experienceId: string;
  readonly slotId: string;
  readonly guestCount: number;
  readonly date: string;
  readonly time: string;
}

export const TRIP_STATUSES = [
  /** Created by checkout; no payment seen yet. */
  'pending_payment',
  /** Checkout completed with a delayed payment method; the money has not arrived. */
  'awaiting_payment',
  /** Paid and confirmed: bookings exist and seats are taken. */
  'booked',
  /** Paid but not bookable; a refund is owed and being issued. */
  'refund_pending',
  /** The payment went back in full (before or instead of booking, after a full refund, or after every booking was cancelled and refunded). */
  'refunded',
  /** Every booking was cancelled, and not all of the money went back (a share was waived, or a refund is still under way). */
  'cancelled',
  /** A delayed payment failed. */
  'payment_failed',
  /** The checkout session expired unpaid. */
  'expired',
] as const;
export type TripStatus = (typeof TRIP_STATUSES)[number];

/**
 * How much later than asked the session ends, and how much later than its session the hold ends. The session's
 * expiry is fixed when the hold is made and sent the same on every retry, so a retry whose first attempt did
 * reach Stripe is answered with that session (same key, same parameters); the slack keeps it more than Stripe's
 * 30 minutes away for a retry within 5 minutes, and a payment made at its last second still finds its hold.
 */
export const SESSION_SLACK_MS = 5 * 60_000;

/** States from which a payment may confirm the trip. */
export const CONFIRMABLE_TRIP_STATUSES: readonly TripStatus[] = ['pending_payment', 'awaiting_payment'];

/**
 * Until when the trip's seats are held for its payment: only while it waits for one and the hold has not run out (the
 * stored time outlives the hold, which the sweeper releases once it has).
 */
export function seatsHeldUntil(trip: Pick<Trip, 'status' | 'holdExpiresAt'>, now: Date): string | undefined {
  const until = CONFIRMABLE_TRIP_STATUSES.includes(trip.status) ? trip.holdExpiresAt : undefined;
  return until !== undefined && Date.parse(until) > now.getTime() ? until : undefined;
}

export interface Trip {
  readonly tripId: string;
  readonly userId: string;
  readonly items: readonly TripItem[];
  /** Total in the currency's minor unit, computed from the slots' prices when the trip was created. */
  readonly amount: number;
  readonly currency: Currency;
  readonly status: TripStatus;
  readonly checkoutSessionId?: string;
  /** Where the traveller pays (the session's hosted page), kept so a retried checkout answers the same. */
  readonly checkoutUrl?: string;
  /**
   * SHA-256 of the success and cancel URLs its checkout was asked with (absent on trips checked out before it was kept):
   * an Idempotency-Key names one request, URLs included, and Stripe is sent them under the session's key.
   */
  readonly returnUrlsDigest?: string;
  /** The payment (Stripe PaymentIntent id) that booked or is being refunded for this trip. */
  readonly paymentId?: string;
  readonly bookingReferences: readonly string[];
  /** What each item costs, in minor units, aligned with `items` (slot price × guests when the trip was created). */
  readonly itemAmounts?: readonly number[];
  /** Set when checkout held the trip's seats: until then they are reserved for its payment (the hold is its own item). */
  readonly holdExpiresAt?: string;
  /** Why the trip is refund_pending or refunded. */
  readonly statusReason?: string;
  /** The Stripe refund that returned the payment, once it exists. */
  readonly refundId?: string;
  /**
   * The partial refunds seen of payments for this trip before each had a record, one per payment (never empty): a
   * payment's first record asks Stripe what is back while any is kept, and removes its own.
   */
  readonly chargeRefundedEarly?: readonly EarlyChargeTotal[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * What a partial `charge.refunded` said of a payment that had no record yet (a refund made in the Dashboard before the
 * payment's confirmation arrived): the record its confirmation writes starts knowing it, so nothing asks Stripe for money
 * that is back already.
 */
export interface EarlyChargeTotal {
  readonly paymentId: string;
  /** The charge's `amount_refunded`. */
  readonly amount: number;
  /** When Stripe took that total (its event's `created`), when known. */
  readonly asOf?: number;
}

/**
 * A trip as its Checkout Session describes it (in the session's metadata, signed inside its events): enough to write
 * the bookings without reading the trip, whose stored price, owner and session the confirmation's conditions check.
 */
export interface CheckoutTrip {
  readonly items: readonly TripItem[];
  /** Aligned with `items`: what each costs, in minor units. */
  readonly itemAmounts: readonly number[];
}

/** The seats a checkout holds for one trip until its payment arrives or the hold expires; released or consumed exactly once. */
export interface Hold {
  readonly tripId: string;
  readonly seats: readonly { readonly slotId: string; readonly guests: number }[];
  readonly expiresAt: string;
  readonly status: 'held' | 'consumed' | 'released';
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Seats of a slot that are neither booked nor held. */
export function unheldSeats(slot: Slot): number {
  return slot.unheldCount ?? slot.availableCount;
}

export type BookingStatus = 'confirmed' | 'cancelled';

export interface Booking {
  readonly bookingId: string;
  readonly reference: string;
  readonly tripId: string;
  readonly userId: string;
  readonly paymentId: string;
  readonly experienceId: string;
  readonly slotId: string;
  readonly guestCount: number;
  /** This booking's share of the payment, in minor units: what cancelling it alone refunds. */
  readonly amount?: number;
  readonly currency?: Currency;
  readonly date: string;
  readonly time: string;
  readonly status: BookingStatus;
  readonly createdAt: string;
  readonly cancelledAt?: string;
  readonly cancellationReason?: string;
}

export type AuditEntityType = 'booking' | 'trip' | 'slot' | 'payment' | 'event';
export type AuditActorType = 'system' | 'operator' | 'stripe';

export interface AuditEntry {
  readonly auditId: string;
  readonly eventType: string;
  readonly entityType: AuditEntityType;
  readonly entityId: string;
  readonly actorType: AuditActorType;
  readonly actorId?: string;
  readonly occurredAt: string;
  readonly metadata: Readonly<Record<string, string | number | boolean | null>>;
}

export const PAYMENT_STATUSES = [
  /** Claimed by its trip's confirmation: the bookings it paid for exist (some may be cancelled since). */
  'booked',
  /** The money still held is owed back in full; a refund is requested or under way. */
  'refund_pending',
  /** Nothing more is owed: all of the money went back, or nothing was paid. */
  'refunded',
  /** Every booking it paid for was cancelled; what was not waived is refunded or being refunded. */
  'cancelled',
  /** A person must decide: Stripe refused a refund for good, a refund failed later, or stored data is unusable. */
  'needs_attention',
  /** A person looked at a payment that needed attention and closed it, with a note in its audit trail. */
  'resolved',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const REFUND_STATUSES = [
  /** Stored before Stripe is asked; a run that finds it here asks again with the same key. */
  'requested',
  /** Stripe's own refund states, kept current from its answers and its refund events. */
  'pending',
  'requires_action',
  'succeeded',
  'failed',
  'canceled',
  /** An operator cancelled without refunding (`--no-refund`): this share is never refunded. */
  'waived',
  /** Not needed any more: the charge was refunded in full by another refund. */
  'superseded',
] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** One refund of a payment, from the moment it is decided until Stripe's last word on it. */
export interface RefundEntry {
  /** Ours, unique per payment: the Stripe idempotency key and the `refund_key` in the refund's metadata. */
  readonly refundKey: string;
  readonly amount: number;
  readonly status: RefundStatus;
  /** Who decided it: the system (unbookable, set aside), an operator, or Stripe (a refund made outside this service). */
  readonly requestedBy: AuditActorType;
  readonly actorId?: string;
  /** Why, in our words; never sent to Stripe, so a retry with other words cannot clash with the key. */
  readonly reason: string;
  /** The bookings whose shares it returns; empty for a whole payment. */
  readonly bookingReferences: readonly string[];
  readonly stripeRefundId?: string;
  /** When Stripe created it (epoch seconds, by Stripe's clock, as its charge totals are stamped): a total taken before never counted it. */
  readonly providerCreated?: number;
  /** Stripe's error code or the refund's `failure_reason`, when it failed. */
  readonly failureCode?: string;
  /**
   * A failure learned without its time (a `refund.updated` not of the change itself, which may be a later update, looking the
   * refund up, or Stripe's answer to creating it): it happened no later than this (epoch seconds: the event's `created`,
   * or Stripe's clock from its answer's `Date` header; ours without one). A charge total taken until then may still count the failed refund.
   */
  readonly failedNoLaterThan?: number;
  /**
   * When it failed, by Stripe's event of the failure (epoch seconds): a charge total taken after the refund's creation and
   * before this second counted it, one taken after did not. Absent on failures learned without their time, and on records
   * stored before it was kept.
   */
  readonly failedAt?: number;
  /**
   * With `failedNoLaterThan`: the charge total (by the second it was taken) this failure was taken off when it was
   * learned, so Stripe's event giving the failure's time does not take it off that total twice.
   */
  readonly offTotalTakenAt?: number;
  /** The refund a person asked for again after this one failed. */
  readonly retriedAs?: string;
  /**
   * The currency its amount was priced in, said once its payment's charge was found to be in another (a share asked for
   * before the session said so): Stripe is asked for no such refund (see `pricedInAnotherCurrency`).
   */
  readonly pricedIn?: Currency;
  /**
   * When a person resolved the payment while this refund stood failed (settled another way, or not owed): it is never
   * asked for again.
   */
  readonly resolvedAt?: string;
  /**
   * How many times Stripe answered a server error it had kept under the key the refund was asked under (for a day, to
   * every retry): it is asked under a new one each time (`providerKeyOf`), and still found by `refundKey`.
   */
  readonly keyRenewals?: number;
  readonly requestedAt: string;
  readonly updatedAt: string;
}

/** One thing a person must look at on a payment. */
export interface AttentionReason {
  readonly reason: string;
  /** Stripe's error code or failure reason, when Stripe said it. */
  readonly code?: string;
  readonly since: string;
  /**
   * The last time the same reason was found again for something new (another booking's share) while the payment already
   * needed a person: kept once, but a resolution that read it before does not close what came since.
   */
  readonly again?: string;
}

/** Why a payment needs a person, and what it was doing when it did. */
export interface PaymentAttention extends AttentionReason {
  /** The status to go back to when a person retries the refund. */
  readonly previousStatus: PaymentStatus;
  /** Reasons found while it already needed a person (a share of unknown amount cancelled, another refund failed): each one a person's too. */
  readonly more?: readonly AttentionReason[];
}

/**
 * The one record of a payment (a Stripe PaymentIntent, or the Checkout Session when nothing was charged).
 * Every path that moves its money (confirmation, refund events, our refunds, an operator's cancellation)
 * writes it in the same transaction as the change it causes, guarded by `version`, so two deliveries
 * about one payment always serialise on this item.
 */
export interface PaymentRecord {
  readonly paymentId: string;
  readonly status: PaymentStatus;
  readonly tripId?: string;
  readonly sessionId?: string;
  /**
   * The trip the paying session was for, kept once its event found this record written for another (`tripId`):
   * create-booking was given this payment for a trip it did not pay. It stays whatever the record's attention becomes,
   * so that no full refund of the charge ever releases `tripId`, and the claim is raised once.
   */
  readonly paidForTripId?: string;
  /** True when the payment may not touch the trip it names (unknown, mismatching, for a trip no longer payable). */
  readonly setAside: boolean;
  /** Why it is not (or no longer) booked: a set-aside reason, a slot code, `refunded_before_confirmation`… */
  readonly reason?: string;
  /** What the traveller actually paid, in minor units (after discounts); 0 when nothing was charged. */
  readonly amountPaid: number;
  readonly currency: Currency;
  /**
   * What went back, as far as Stripe has told us: the larger of our refunds that succeeded and the charge's
   * own total (`chargeRefunded`), never above what was paid. Derived, stored so listings can read it.
   */
  readonly amountRefunded: number;
  /** The charge's running refunded total as Stripe last reported it (`charge.refunded`); it counts pending refunds and ones made outside. */
  readonly chargeRefunded?: number;
  /** When Stripe said so (epoch seconds): an older snapshot of the charge, arriving late, is not believed over it. */
  readonly chargeRefundedAsOf?: number;
  /**
   * When the total held was taken (the snapshot's own `created`); the largest safe integer for a total said without a time
   * (it counts every refund, until one fails); absent on records stored before it was kept (a failed refund then stays
   * counted: whether the total counted it cannot be told).
   */
  readonly chargeRefundedTakenAt?: number;
  readonly refunds: readonly RefundEntry[];
  readonly attention?: PaymentAttention;
  /** Increases with every write; each write is conditioned on the version it read. */
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * A validly signed event of a type we handle whose shape we cannot act on (a field missing, a value added in a
 * later API version, an implausible id). Acknowledged so Stripe stops retrying, and kept for a person.
 */
export interface UnusableEvent {
  readonly eventId: string;
  readonly eventType: string;
  /** Which field failed, and how (the schema's words). */
  readonly problem: string;
  readonly status: 'needs_attention' | 'resolved';
  readonly receivedAt: string;
  readonly updatedAt: string;
}

/** A Stripe event we have acted on, kept for the whole retry window so a late redelivery is recognised. */
export interface ProcessedEvent {
  readonly eventId: string;
  readonly eventType: string;
  readonly outcome: string;
  readonly tripId?: string;
  readonly references: readonly string[];
  readonly processedAt: string;
  /** Epoch seconds after which the record may be deleted. */
  readonly expiresAt: number;
}

/** Guests per slot: a transaction touches an item once, so everything on one slot moves as one sum. */
export function guestsPerSlot(entries: Iterable<{ readonly slotId: string; readonly guestCount: number }>): Map<string, number> {
  const bySlot = new Map<string, number>();
  for (const { slotId, guestCount } of entries) bySlot.set(slotId, (bySlot.get(slotId) ?? 0) + guestCount);
  return bySlot;
}

/** A trip's items per slot, summed, with the experience each slot was priced for. */
export function seatsPerSlot(
  items: readonly Pick<TripItem, 'slotId' | 'experienceId' | 'guestCount'>[],
): { slotId: string; experienceId: string; guests: number }[] {
  const experienceOf = new Map(items.map((item) => [item.slotId, item.experienceId]));
  return [...guestsPerSlot(items)].map(([slotId, guests]) => ({ slotId, experienceId: experienceOf.get(slotId) ?? '', guests }));
}

/** The seats a slot's bookings hold: the guests of those still confirmed. */
export function confirmedGuests(bookings: Iterable<Pick<Booking, 'status' | 'guestCount'>>): number {
  let guests = 0;
  for (const booking of bookings) if (booking.status === 'confirmed') guests += booking.guestCount;
  return guests;
}

/** The payment provider's mode a deployment works in: its key's, and the events it acts on. */
export type ProviderMode = 'live' | 'test';

/**
 * Where the reconciliation sweep of one provider's event list (`source`) goes on from. Only moves forward, and never
 * past an event whose processing failed before its record was written.
 */
export interface EventCursor {
  readonly source: string;
  /** Epoch seconds: every event created before it was seen by a sweep and processed, or found processed. */
  readonly resumeAt: number;
  /**
   * The mode of the deployment whose sweep moved it last: the table's own, which a sweep by hand checks its key against.
   * Absent on a cursor written before it was kept.
   */
  readonly mode?: ProviderMode;
  /**
   * Written only by the version before the refunds due: events its sweep stopped at, processed once more by the next
   * sweep even though their record exists (what that version's next run would have done); never written again.
   */
  readonly retryEventIds?: readonly string[];
  /**
   * The width (seconds) of the windows its sweep last listed events in, narrowed where the account's events are dense: the
   * next sweep starts with it rather than re-learning it. Absent on a cursor written before it was kept.
   */
  readonly windowSeconds?: number;
  readonly updatedAt: string;
}
