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
  readonly availableCount: number;
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
  /** The payment was refunded (before or instead of booking, or after a full refund of a booked trip). */
  'refunded',
  /** A delayed payment failed. */
  'payment_failed',
  /** The checkout session expired unpaid. */
  'expired',
] as const;
export type TripStatus = (typeof TRIP_STATUSES)[number];

/** States from which a payment may confirm the trip. */
export const CONFIRMABLE_TRIP_STATUSES: readonly TripStatus[] = ['pending_payment', 'awaiting_payment'];

export interface Trip {
  readonly tripId: string;
  readonly userId: string;
  readonly items: readonly TripItem[];
  /** Total in the currency's minor unit, computed from the slots' prices when the trip was created. */
  readonly amount: number;
  readonly currency: Currency;
  readonly status: TripStatus;
  readonly checkoutSessionId?: string;
  /** The payment (Stripe PaymentIntent id) that booked or is being refunded for this trip. */
  readonly paymentId?: string;
  readonly bookingReferences: readonly string[];
  /** What each item costs, in minor units, aligned with `items` (slot price × guests when the trip was created). */
  readonly itemAmounts?: readonly number[];
  /** Why the trip is refund_pending or refunded. */
  readonly statusReason?: string;
  /** The Stripe refund that returned the payment, once it exists. */
  readonly refundId?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
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

export type AuditEntityType = 'booking' | 'trip' | 'slot' | 'payment';
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

/**
 * A payment held outside any trip's own state: one that could not be matched to a trip it may book
 * (unknown trip, mismatching amount or user, a second payment for a booked trip), or one refunded before
 * its confirmation arrived. Its existence is what stops a late confirmation from booking with it.
 */
export interface PaymentRecord {
  readonly paymentId: string;
  readonly tripId?: string;
  readonly status: 'refund_pending' | 'refunded';
  readonly reason: string;
  /** Amount paid, in minor units, when known. */
  readonly amount?: number;
  readonly currency?: Currency;
  readonly refundId?: string;
  readonly createdAt: string;
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

/** The booking fields a caller gets back after a confirmation. */
export interface ConfirmedBooking {
  readonly id: string;
  readonly reference: string;
  readonly experienceId: string;
  readonly slotId: string;
  readonly status: 'confirmed';
}
