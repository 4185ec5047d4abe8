// The reliability harness: the seed of a run, a barrier-started concurrent runner, and the invariants read back from the table.
import type { BookingQueries, BookingStore } from '../../lambdas/shared/domain/booking-store';
import { confirmedGuests, type Slot, type Trip } from '../../lambdas/shared/domain/model';

/** The seed of a run: fixed by RELIABILITY_SEED to reproduce a failure, fresh otherwise. */
export function runSeed(): number {
  return process.env.RELIABILITY_SEED ? Number(process.env.RELIABILITY_SEED) : Math.floor(Math.random() * 2 ** 31);
}

/**
 * Starts every task at once: each waits on one shared promise that is released after all have been
 * created, so none gets a head start from being created first.
 */
export async function startTogether<T>(tasks: readonly (() => Promise<T>)[]): Promise<PromiseSettledResult<T>[]> {
  let release!: () => void;
  const barrier = new Promise<void>((resolve) => (release = resolve));
  const running = tasks.map(async (task) => {
    await barrier;
    return task();
  });
  release();
  return Promise.allSettled(running);
}

/** A paid event the endpoint acknowledged with 2xx: it must not be lost. */
export interface AcknowledgedPayment {
  readonly tripId: string;
  readonly paymentId: string;
}

/** What the payment provider says about a payment's money (the Stripe fake's running total). */
export interface MoneyAtProvider {
  refundedAtProvider(paymentId: string): number;
}

/**
 * The invariants, read from the table once the load has stopped; returns every violation found.
 * 1. every slot: 0 <= availableCount <= capacity and availableCount + confirmed guests = capacity;
 * 2. every trip all or nothing: all its bookings (one per item) or none, each with its audit entry;
 * 3. one booking set per payment, and every acknowledged payment ended booked, refunded or set aside;
 * 4. seats back exactly once: cancelled bookings hold no seats (follows from 1);
 * 5. money: for every payment, refunds succeeded (on its record and at the provider) never exceed what
 *    was paid, and no trip is booked while its payment is refunded in full.
 */
export async function findViolations(
  store: BookingStore & BookingQueries,
  slots: readonly Slot[],
  trips: readonly Trip[],
  acknowledged: readonly AcknowledgedPayment[] = [],
  money?: MoneyAtProvider,
): Promise<string[]> {
  const violations: string[] = [];
  const current = await store.getSlots(slots.map((slot) => slot.slotId));
  for (const slot of slots) {
    const now = current.get(slot.slotId);
    if (!now) {
      violations.push(`slot ${slot.slotId} vanished`);
      continue;
    }
    const guests = confirmedGuests(await store.listBookingsOfSlot(slot.slotId));
    if (now.availableCount < 0 || now.availableCount > now.capacity) {
      violations.push(`slot ${slot.slotId}: availableCount ${now.availableCount} outside 0..${now.capacity}`);
    }
    if (now.availableCount + guests !== now.capacity) {
      violations.push(`slot ${slot.slotId}: available ${now.availableCount} + confirmed guests ${guests} != capacity ${now.capacity}`);
    }
  }
  for (const trip of trips) {
    const stored = await store.getTrip(trip.tripId);
    const bookings = await store.listBookingsOfTrip(trip.tripId);
    if (!stored) {
      violations.push(`trip ${trip.tripId} vanished`);
      continue;
    }
    if (bookings.length > 0) {
      if (bookings.length !== trip.items.length) violations.push(`trip ${trip.tripId}: ${bookings.length} bookings for ${trip.items.length} items`);
      const payments = new Set(bookings.map((booking) => booking.paymentId));
      if (payments.size !== 1 || stored.paymentId !== [...payments][0])
        violations.push(`trip ${trip.tripId}: bookings of ${[...payments].join(', ')} but trip paid by ${stored.paymentId}`);
      // One booking of several cancelled leaves its trip booked (test/ops/payments.test.ts); the last one never does.
      if (stored.status === 'booked' && bookings.every((booking) => booking.status !== 'confirmed'))
        violations.push(`trip ${trip.tripId}: booked with every booking cancelled`);
      if (stored.status !== 'booked' && stored.status !== 'refunded') violations.push(`trip ${trip.tripId}: ${stored.status} with bookings`);
      if (stored.status === 'refunded' && bookings.some((booking) => booking.status !== 'cancelled'))
        violations.push(`trip ${trip.tripId}: refunded with confirmed bookings`);
      for (const booking of bookings) {
        const audit = await store.listAudit('booking', booking.reference);
        if (!audit.some((entry) => entry.eventType === 'booking.confirmed'))
          violations.push(`booking ${booking.reference} has no booking.confirmed audit entry`);
      }
    } else if (stored.status === 'booked') {
      violations.push(`trip ${trip.tripId}: booked without bookings`);
    }
  }
  for (const { tripId, paymentId } of acknowledged) {
    violations.push(...(await moneyViolations(store, paymentId, money)));
    const trip = await store.getTrip(tripId);
    const settledOnTrip = trip?.paymentId === paymentId && ['booked', 'refunded', 'refund_pending'].includes(trip.status);
    if (!settledOnTrip && !(await store.getPaymentRecord(paymentId))) {
      violations.push(`payment ${paymentId} for trip ${tripId} was acknowledged but is neither booked, refunded nor set aside (trip ${trip?.status})`);
    }
  }
  return violations;
}

async function moneyViolations(store: BookingStore & BookingQueries, paymentId: string, money?: MoneyAtProvider): Promise<string[]> {
  const record = await store.getPaymentRecord(paymentId);
  if (!record) return [];
  const found: string[] = [];
  const succeeded = record.refunds.filter((entry) => entry.status === 'succeeded').reduce((sum, entry) => sum + entry.amount, 0);
  if (succeeded > record.amountPaid) found.push(`payment ${paymentId}: refunds succeeded ${succeeded} > paid ${record.amountPaid}`);
  if (record.amountRefunded > record.amountPaid) found.push(`payment ${paymentId}: refunded ${record.amountRefunded} > paid ${record.amountPaid}`);
  const atProvider = money?.refundedAtProvider(paymentId) ?? 0;
  if (atProvider > record.amountPaid) found.push(`payment ${paymentId}: ${atProvider} refunded at the provider > paid ${record.amountPaid}`);
  const shares = new Set<string>();
  for (const entry of record.refunds) {
    if (entry.bookingReferences.length === 1 && entry.status === 'succeeded') {
      const share = entry.bookingReferences[0] as string;
      if (shares.has(share)) found.push(`payment ${paymentId}: booking ${share} refunded twice`);
      shares.add(share);
    }
  }
  if (record.tripId !== undefined && !record.setAside) {
    const trip = await store.getTrip(record.tripId);
    const fullyRefunded = record.amountPaid > 0 && (record.amountRefunded >= record.amountPaid || atProvider >= record.amountPaid);
    if (trip?.status === 'booked' && trip.paymentId === paymentId && fullyRefunded)
      found.push(`trip ${trip.tripId}: booked while payment ${paymentId} is refunded in full`);
  }
  return found;
}
