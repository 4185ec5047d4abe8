// Use cases: give seats back — cancel confirmed bookings (a trip's, or one by reference), and operators' single-slot adjustments.
import type { AtomicWrite, BookingStore, PaymentRecordWrite, SeatGive, TripTransition } from './booking-store';
import type { Clock, IdSource } from './collaborators';
import type { EventMarker } from './confirm-trip';
import { failure, type BookingFailure } from './errors';
import type { AuditActorType, AuditEntry, Booking, Slot, TripStatus } from './model';
import { classifySlotRefusal, slotRefusalFailure } from './slot-refusals';

export interface ReleaseDeps {
  readonly store: BookingStore;
  readonly clock: Clock;
  readonly ids: IdSource;
}

export type ReleaseTarget = { readonly tripId: string } | { readonly reference: string };

export interface ReleaseOptions {
  readonly reason: string;
  readonly actorType: AuditActorType;
  readonly actorId?: string;
  /** Moves the trip in the same transaction (a full refund moves a booked trip to `refunded`). */
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
 * Input: a trip or one booking reference, and why.
 * Output: what was released now and what had been released before; seats come back exactly once.
 * Steps: read the bookings and their slots → one transaction (bookings confirmed→cancelled, seats back
 * capped at capacity, one audit entry per booking) → on a concurrent change, re-read and retry.
 */
export async function releaseBookings(
  deps: ReleaseDeps,
  target: ReleaseTarget,
  options: ReleaseOptions,
): Promise<ReleaseSuccess | BookingFailure> {
  const attempts = options.paymentRecord ? 1 : RELEASE_ATTEMPTS;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const bookings = await loadTargetBookings(deps.store, target);
    if (!bookings.ok) return bookings;
    const tripId = 'tripId' in target ? target.tripId : bookings.value[0]?.tripId;
    const confirmed = bookings.value.filter((booking) => booking.status === 'confirmed');
    const alreadyReleased = bookings.value.filter((booking) => booking.status !== 'confirmed').map((booking) => booking.reference);
    const at = deps.clock.now().toISOString();
    const slots = await deps.store.getSlots(confirmed.map((booking) => booking.slotId));
    const tripTransition: TripTransition | undefined =
      tripId !== undefined && options.tripTransition ? { tripId, ...options.tripTransition } : undefined;
    if (confirmed.length === 0 && !tripTransition && !options.marker && !options.paymentRecord) return { ok: true, released: [], alreadyReleased };

    const write: AtomicWrite = {
      at,
      seatChanges: seatGives(confirmed, slots),
      cancellations: confirmed.map((booking) => ({ reference: booking.reference, reason: options.reason })),
      audits: [...confirmed.map((booking) => cancellationAudit(deps, booking, options, at)), ...(options.audits ?? [])],
      ...(tripTransition && { tripTransition }),
      ...(options.paymentRecord && { paymentRecord: options.paymentRecord }),
      ...(options.marker && {
        processedEvent: {
          eventId: options.marker.eventId,
          eventType: options.marker.eventType,
          outcome: 'released',
          ...(tripId !== undefined && { tripId }),
          references: confirmed.map((booking) => booking.reference),
          processedAt: at,
          expiresAt: options.marker.expiresAt,
        },
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
  }
  return failure('TRANSACTION_FAILED', 'The bookings kept changing while being released; try again.', { retryable: true });
}

async function loadTargetBookings(
  store: BookingStore,
  target: ReleaseTarget,
): Promise<{ ok: true; value: Booking[] } | BookingFailure> {
  if ('reference' in target) {
    const found = await store.getBookings([target.reference]);
    return found.length > 0 ? { ok: true, value: found } : failure('BOOKING_NOT_FOUND', `Booking ${target.reference} does not exist.`);
  }
  const trip = await store.getTrip(target.tripId);
  if (!trip) return failure('TRIP_NOT_FOUND', `Trip ${target.tripId} does not exist.`);
  return { ok: true, value: await store.getBookings(trip.bookingReferences) };
}

/**
 * One give-back per slot, summed over the bookings on it. Never more than the slot has room for: if
 * availability has drifted above `capacity - guests`, only the room that is left is given back.
 */
function seatGives(bookings: readonly Booking[], slots: Map<string, Slot>): SeatGive[] {
  const guestsBySlot = new Map<string, number>();
  for (const booking of bookings) guestsBySlot.set(booking.slotId, (guestsBySlot.get(booking.slotId) ?? 0) + booking.guestCount);
  const gives: SeatGive[] = [];
  for (const [slotId, guests] of guestsBySlot) {
    const slot = slots.get(slotId);
    if (!slot) continue; // a slot that no longer exists has no seats to give back
    const room = Math.min(guests, slot.capacity - slot.availableCount);
    if (room > 0) gives.push({ kind: 'give', slotId, guests: room, capacity: slot.capacity });
  }
  return gives;
}

function cancellationAudit(deps: ReleaseDeps, booking: Booking, options: ReleaseOptions, at: string): AuditEntry {
  return {
    auditId: deps.ids.uuid(),
    eventType: 'booking.cancelled',
    entityType: 'booking',
    entityId: booking.reference,
    actorType: options.actorType,
    ...(options.actorId !== undefined && { actorId: options.actorId }),
    occurredAt: at,
    metadata: {
      reference: booking.reference,
      bookingId: booking.bookingId,
      tripId: booking.tripId,
      paymentId: booking.paymentId,
      slotId: booking.slotId,
      guestCount: booking.guestCount,
      reason: options.reason,
    },
  };
}

export interface AdjustAvailabilityInput {
  readonly slotId: string;
  /** Seats to release (positive) or take (negative). */
  readonly delta: number;
  readonly reason: string;
  readonly actorId?: string;
}

export interface AdjustAvailabilitySuccess {
  readonly ok: true;
  readonly slotId: string;
  /** Seats actually moved: a release is capped at the slot's capacity. */
  readonly applied: number;
}

/**
 * Operators' single-slot adjustment: take or release `|delta|` seats with the same guards and codes as a
 * confirmation (missing, blocked, insufficient) and a release (never above capacity), audited.
 */
export async function adjustAvailability(
  deps: ReleaseDeps,
  input: AdjustAvailabilityInput,
): Promise<AdjustAvailabilitySuccess | BookingFailure> {
  if (!Number.isInteger(input.delta) || input.delta === 0) {
    return failure('VALIDATION_FAILED', 'delta must be a non-zero whole number of seats', { field: 'delta' });
  }
  for (let attempt = 1; attempt <= RELEASE_ATTEMPTS; attempt++) {
    const at = deps.clock.now().toISOString();
    let applied: number;
    let change: AtomicWrite['seatChanges'];
    if (input.delta < 0) {
      applied = -input.delta;
      change = [{ kind: 'take', slotId: input.slotId, guests: applied }];
    } else {
      const slot = (await deps.store.getSlots([input.slotId])).get(input.slotId);
      if (!slot) return slotRefusalFailure([classifySlotRefusal(input.slotId, input.delta, undefined)]);
      applied = Math.min(input.delta, slot.capacity - slot.availableCount);
      if (applied === 0) return { ok: true, slotId: input.slotId, applied: 0 };
      change = [{ kind: 'give', slotId: input.slotId, guests: applied, capacity: slot.capacity }];
    }
    const audit: AuditEntry = {
      auditId: deps.ids.uuid(),
      eventType: 'slot.availability_adjusted',
      entityType: 'slot',
      entityId: input.slotId,
      actorType: 'operator',
      ...(input.actorId !== undefined && { actorId: input.actorId }),
      occurredAt: at,
      metadata: { delta: input.delta > 0 ? applied : -applied, reason: input.reason },
    };
    const result = await deps.store.commit({ at, seatChanges: change, audits: [audit] });
    if (result.committed) return { ok: true, slotId: input.slotId, applied };
    const refused = result.rejection.seatChanges[0];
    if (input.delta < 0 && refused) {
      // Seats taken by an operator must be free: neither booked nor held by a checkout.
      return slotRefusalFailure([classifySlotRefusal(input.slotId, applied, refused.current, undefined, true)]);
    }
    // A release raced with another change of the slot: re-read its capacity and availability.
  }
  return failure('TRANSACTION_FAILED', `Slot ${input.slotId} kept changing during the adjustment; try again.`, { retryable: true });
}
