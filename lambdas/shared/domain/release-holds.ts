// Use cases: give a checkout's held seats back to sale, exactly once — when its session expires, or when the sweeper finds it expired.
import type { AtomicWrite, AtomicWriteResult, BookingStore, TripTransition } from './booking-store';
import { auditEntry } from './audit-trail';
import type { Deps } from './collaborators';
import { StoredDataError } from './errors';
import { seatsPerSlot, type AuditActorType, type AuditEntry, type Hold, type Trip } from './model';

/** The parts of a transaction that release `hold`: its seats back to sale, the hold `released` (once), an audit entry. */
export function holdRelease(
  deps: Deps,
  hold: Pick<Hold, 'tripId' | 'seats'>,
  actorType: AuditActorType,
  why: string,
  expiredBy?: string,
): Pick<AtomicWrite, 'seatChanges' | 'holdTransition'> & { audit: AuditEntry } {
  return {
    seatChanges: hold.seats.map(({ slotId, guests }) => ({ kind: 'unhold', slotId, guests })),
    holdTransition: { tripId: hold.tripId, to: 'released', ...(expiredBy !== undefined && { expiredBy }) },
    audit: auditEntry(deps, {
      eventType: 'trip.hold_released',
      entityType: 'trip',
      entityId: hold.tripId,
      actorType,
      metadata: { why, seats: hold.seats.map(({ slotId, guests }) => `${slotId}:${guests}`).join(',') },
    }),
  };
}

/**
 * Commits a write that releases a hold. A slot of the hold that no longer exists has no seats to give back:
 * it is left out and the write tried again, so one missing slot cannot keep the others' seats held for ever.
 */
export async function commitHoldRelease(store: BookingStore, write: AtomicWrite): Promise<AtomicWriteResult> {
  const result = await store.commit(write);
  if (result.committed) return result;
  const missing = new Set(
    result.rejection.seatChanges.filter(({ change, current }) => change.kind === 'unhold' && current === undefined).map(({ change }) => change.slotId),
  );
  if (missing.size === 0) return result;
  return store.commit({ ...write, seatChanges: (write.seatChanges ?? []).filter((change) => !(change.kind === 'unhold' && missing.has(change.slotId))) });
}

/**
 * Commits a write that takes the trip out of waiting for its payment, releasing the seats its checkout held in
 * the same transaction — unless the hold was released or consumed first (the sweeper), then without it.
 */
export async function commitReleasingHold(
  deps: Deps,
  write: AtomicWrite,
  trip: Pick<Trip, 'tripId' | 'items' | 'holdExpiresAt'>,
  actorType: AuditActorType,
  actorId?: string,
): Promise<AtomicWriteResult> {
  if (trip.holdExpiresAt === undefined) return deps.store.commit(write);
  const seats = seatsPerSlot(trip.items).map(({ slotId, guests }) => ({ slotId, guests }));
  const { audit, ...release } = holdRelease(deps, { tripId: trip.tripId, seats }, actorType, `trip ${write.tripTransition?.to ?? 'moved'}`);
  const released = actorId === undefined ? audit : { ...audit, actorId };
  const result = await commitHoldRelease(deps.store, { ...write, ...release, audits: [...(write.audits ?? []), released] });
  if (!result.committed && result.rejection.hold && !result.rejection.trip && !result.rejection.eventAlreadyProcessed) return deps.store.commit(write);
  return result;
}

export interface SweepResult {
  readonly released: readonly string[];
  /** Holds another path (the session's expiry event, the confirmation) settled first. */
  readonly alreadySettled: readonly string[];
  /** Trips that no longer read, whose holds were released all the same and which were left as they are: a person's to look at. */
  readonly unreadableTrips: readonly { readonly tripId: string; readonly problem: string }[];
  /** Holds a slot would not take the seats of (it no longer reads as one): left held, the others released. A person's to repair. */
  readonly heldByUnusableSlots: readonly { readonly tripId: string; readonly slotIds: readonly string[]; readonly problem: string }[];
}

/** Why a checkout ends whose hold ran out before any payment page was made. */
export const HOLD_RAN_OUT = 'hold ran out before a payment page was made';

/**
 * The write that ends the trip of a checkout no payment page was recorded for (`expired`, audited `trip.checkout_ended`),
 * as read: still waiting, no page recorded meanwhile, and its hold ending when it was read to (a retry may have held it on).
 */
export function pagelessCheckoutEnd(
  deps: Deps,
  trip: Pick<Trip, 'tripId' | 'holdExpiresAt'>,
  why: string,
  at: string,
): AtomicWrite & { readonly tripTransition: TripTransition } {
  return {
    at,
    tripTransition: {
      tripId: trip.tripId,
      from: ['pending_payment'],
      to: 'expired',
      statusReason: why,
      recordedSessionNoneOr: null,
      ...(trip.holdExpiresAt !== undefined && { heldUntil: trip.holdExpiresAt }),
    },
    audits: [auditEntry(deps, { eventType: 'trip.checkout_ended', entityType: 'trip', entityId: trip.tripId, actorType: 'system', at, metadata: { why } })],
  };
}

/**
 * A trip whose hold ran out with no payment page recorded on it (Stripe never answered its checkout, and its traveller
 * gave up) can never be paid: it ends `expired`. One with a page is left waiting, since a late payment of it may still
 * book from the seats left.
 */
async function endPagelessCheckout(deps: Deps, hold: Hold, at: string): Promise<StoredDataError | undefined> {
  try {
    await deps.store.commit(pagelessCheckoutEnd(deps, { tripId: hold.tripId, holdExpiresAt: hold.expiresAt }, HOLD_RAN_OUT, at));
    return undefined;
  } catch (error) {
    // A trip that no longer reads (a refusal is read back from it) is no reason to keep its seats, nor those of the holds
    // behind it: its hold is released all the same, and the trip is answered for a person to look at.
    if (error instanceof StoredDataError) return error;
    throw error;
  }
}

/**
 * Input: now. Output: the holds released. Steps: read the held holds whose expiry has passed (through the
 * index, oldest first, in pages) → for each, one transaction that releases it only if it is still held. Events
 * can be late or lost: this is what guarantees seats come back.
 */
export async function releaseExpiredHolds(deps: Deps, options: { readonly maxHolds?: number; readonly pageSize?: number } = {}): Promise<SweepResult> {
  const released: string[] = [];
  const alreadySettled: string[] = [];
  const unreadableTrips: { tripId: string; problem: string }[] = [];
  const heldByUnusableSlots: { tripId: string; slotIds: string[]; problem: string }[] = [];
  const seen = (): number => released.length + alreadySettled.length + heldByUnusableSlots.length;
  const max = options.maxHolds ?? 1_000;
  const pageSize = options.pageSize ?? 100;
  // Every hold before the last one of a page is gone from the index once released or settled; only those left held on a
  // slot that no longer reads stay in it. Once one is, the next page starts after the page read, so they cannot fill it.
  let after: Hold | undefined;
  while (seen() < max) {
    const expired = await deps.store.listExpiredHolds(
      deps.clock.now().toISOString(),
      Math.min(pageSize, max - seen()),
      heldByUnusableSlots.length > 0 ? after : undefined,
    );
    after = expired.at(-1);
    const left = new Set(heldByUnusableSlots.map(({ tripId }) => tripId));
    const fresh = expired.filter((hold) => !released.includes(hold.tripId) && !alreadySettled.includes(hold.tripId) && !left.has(hold.tripId));
    if (fresh.length === 0) break;
    for (const hold of fresh) {
      const at = deps.clock.now().toISOString();
      // Found by its expiry, released only if it still has run out: a retried checkout may have held it on meanwhile.
      const { audit, ...release } = holdRelease(deps, hold, 'system', 'expired', at);
      // First, so that a run failing between the two leaves the hold for the next run to release.
      const unreadable = await endPagelessCheckout(deps, hold, at);
      if (unreadable) unreadableTrips.push({ tripId: hold.tripId, problem: unreadable.message });
      const result = await releaseUnlessUnusable(deps.store, { at, ...release, audits: [audit] });
      // DynamoDB's refusal names no item: the hold's slots are where one no longer reads.
      if ('unusable' in result)
        heldByUnusableSlots.push({ tripId: hold.tripId, slotIds: hold.seats.map((seat) => seat.slotId), problem: result.unusable.message });
      else (result.committed ? released : alreadySettled).push(hold.tripId);
    }
  }
  return { released, alreadySettled, unreadableTrips, heldByUnusableSlots };
}

/**
 * Commits a hold's release, answering a slot that no longer reads (a count of the wrong type) rather than throwing it:
 * no reason to keep the seats of the holds behind it held (the sweeper), nor the trip it was ending waiting (checkout).
 */
export async function releaseUnlessUnusable(store: BookingStore, write: AtomicWrite): Promise<AtomicWriteResult | { readonly unusable: StoredDataError }> {
  try {
    return await commitHoldRelease(store, write);
  } catch (error) {
    if (error instanceof StoredDataError) return { unusable: error };
    throw error;
  }
}
