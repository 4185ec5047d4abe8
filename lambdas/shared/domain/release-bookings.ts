// Use case: give seats back — cancel confirmed bookings (a trip's, or one by reference) — exactly once, never above capacity.
import { retryWhileStateMoves, STATE_MOVED } from './state-moved';
import type { AtomicWrite, BookingStore, PaymentRecordWrite, SeatGive, TripTransition } from './booking-store';
import { auditEntry, processedEventRecord, type EventMarker } from './audit-trail';
import type { Deps } from './collaborators';
import { failure, type BookingFailure } from './errors';
import { guestsPerSlot, type AuditActorType, type AuditEntry, type Booking, type Slot, type Trip, type TripStatus } from './model';

/**
 * A trip as its caller has just read it (its bookings are released), or one booking by reference — with the share its
 * caller read it at, when it decided on that share (the booking is then released only while its share is still that).
 */
export type ReleaseTarget = { readonly trip: Trip } | { readonly reference: string; readonly shareAsRead?: number };

export interface ReleaseOptions {
  readonly reason: string;
  readonly actorType: AuditActorType;
  readonly actorId?: string;
  /** Moves the bookings' trip in the same transaction (a full refund moves a booked trip to `refunded`). */
  readonly tripTransition?: { readonly from: readonly TripStatus[]; readonly to: TripStatus; readonly statusReason?: string };
  readonly marker?: EventMarker;
  /**
   * The payment record as this release leaves it, written in the same transaction. It was computed from what
   * the caller read, so the release is tried once: if anything moved, it answers PAYMENT_CHANGED and the
   * caller reads again and decides again.
   */
  readonly paymentRecord?: PaymentRecordWrite;
  /** More audit entries for the same transaction (the payment's). */
  readonly audits?: readonly AuditEntry[];
}

export interface ReleasedBooking {
  readonly reference: string;
  readonly slotId: string;
  readonly guestCount: number;
}

export interface ReleaseSuccess {
  readonly ok: true;
  readonly released: readonly ReleasedBooking[];
  /** Bookings of the target that were already cancelled: releasing twice gives seats back once. */
  readonly alreadyReleased: readonly string[];
}

/** Concurrent releases and capacity changes make a release re-read and try again, this many times at most. */
const RELEASE_ATTEMPTS = 5;

/**
 * Input: a trip (as read by the caller) or one booking reference, and why.
 * Output: what was released now and what had been released before; seats come back exactly once.
 * Steps: read the bookings and their slots → one transaction (bookings confirmed→cancelled, seats back
 * capped at capacity, one audit entry per booking) → on a concurrent change, re-read and retry.
 */
export async function releaseBookings(deps: Deps, target: ReleaseTarget, options: ReleaseOptions): Promise<ReleaseSuccess | BookingFailure> {
  const attempts = options.paymentRecord ? 1 : RELEASE_ATTEMPTS;
  // The share its caller decided at: one corrected since (its payment's charge learned late) refuses the cancellation.
  const shareAsRead = 'shareAsRead' in target && target.shareAsRead !== undefined ? { shareAsRead: target.shareAsRead } : {};
  return retryWhileStateMoves(
    attempts,
    async () => {
      const bookings = await loadTargetBookings(deps.store, target);
      if (!bookings.ok) return bookings;
      const tripId = 'trip' in target ? target.trip.tripId : bookings.value[0]?.tripId;
      const confirmed = bookings.value.filter((booking) => booking.status === 'confirmed');
      const alreadyReleased = bookings.value.filter((booking) => booking.status !== 'confirmed').map((booking) => booking.reference);
      // One booking its caller read confirmed and decided on, with the payment record to match: cancelled meanwhile (by
      // another cancellation of it), that decision is not this release's to write. Its caller reads everything again.
      if ('reference' in target && options.paymentRecord && confirmed.length === 0) {
        return failure('PAYMENT_CHANGED', `Booking ${target.reference} was cancelled meanwhile; read it and its payment again.`);
      }
      const at = deps.clock.now().toISOString();
      const slots = await deps.store.getSlots(confirmed.map((booking) => booking.slotId));
      const tripTransition: TripTransition | undefined = tripId !== undefined && options.tripTransition ? { tripId, ...options.tripTransition } : undefined;
      if (confirmed.length === 0 && !tripTransition && !options.marker && !options.paymentRecord) return { ok: true, released: [], alreadyReleased };

      const write: AtomicWrite = {
        at,
        seatChanges: seatGives(confirmed, slots),
        cancellations: confirmed.map((booking) => ({ reference: booking.reference, reason: options.reason, ...shareAsRead })),
        audits: [...confirmed.map((booking) => cancellationAudit(deps, booking, options, at)), ...(options.audits ?? [])],
        ...(tripTransition && { tripTransition }),
        ...(options.paymentRecord && { paymentRecord: options.paymentRecord }),
        ...(options.marker && {
          processedEvent: processedEventRecord(options.marker, 'released', { tripId, references: confirmed.map((booking) => booking.reference), at }),
        }),
      };
      const result = await deps.store.commit(write);
      if (result.committed) {
        const released = confirmed.map(({ reference, slotId, guestCount }) => ({ reference, slotId, guestCount }));
        return { ok: true, released, alreadyReleased };
      }
      if (options.paymentRecord) {
        return failure('PAYMENT_CHANGED', `The bookings, trip or payment record of ${tripId} changed while being released; read them again.`);
      }
      if (result.rejection.trip) {
        const status = result.rejection.trip.current?.status ?? 'missing';
        return failure('TRIP_NOT_PENDING', `Trip ${tripId} is ${status}; it cannot move to ${options.tripTransition?.to}.`);
      }
      if (result.rejection.eventAlreadyProcessed) return { ok: true, released: [], alreadyReleased: bookings.value.map((b) => b.reference) };
      // A booking was cancelled or a slot's capacity changed meanwhile: read again and recompute.
      return STATE_MOVED;
    },
    () => failure('TRANSACTION_FAILED', 'The bookings kept changing while being released; try again.', { retryable: true }),
  );
}

async function loadTargetBookings(store: BookingStore, target: ReleaseTarget): Promise<{ ok: true; value: Booking[] } | BookingFailure> {
  if ('reference' in target) {
    const found = await store.getBookings([target.reference]);
    return found.length > 0 ? { ok: true, value: found } : failure('BOOKING_NOT_FOUND', `Booking ${target.reference} does not exist.`);
  }
  // A trip's booking references never change once booked; only the bookings' statuses are read again.
  return { ok: true, value: await store.getBookings(target.trip.bookingReferences) };
}

/**
 * One give-back per slot, summed over the bookings on it. Never more than the slot has room for: if
 * availability has drifted above `capacity - guests`, only the room that is left is given back.
 */
function seatGives(bookings: readonly Booking[], slots: Map<string, Slot>): SeatGive[] {
  const gives: SeatGive[] = [];
  for (const [slotId, guests] of guestsPerSlot(bookings)) {
    const slot = slots.get(slotId);
    if (!slot) continue; // a slot that no longer exists has no seats to give back
    const room = Math.min(guests, slot.capacity - slot.availableCount);
    if (room > 0) gives.push({ kind: 'give', slotId, guests: room, capacity: slot.capacity });
  }
  return gives;
}

function cancellationAudit(deps: Deps, booking: Booking, options: ReleaseOptions, at: string): AuditEntry {
  return auditEntry(deps, {
    eventType: 'booking.cancelled',
    entityType: 'booking',
    entityId: booking.reference,
    actorType: options.actorType,
    actorId: options.actorId,
    at,
    metadata: {
      reference: booking.reference,
      bookingId: booking.bookingId,
      tripId: booking.tripId,
      paymentId: booking.paymentId,
      slotId: booking.slotId,
      guestCount: booking.guestCount,
      reason: options.reason,
    },
  });
}
