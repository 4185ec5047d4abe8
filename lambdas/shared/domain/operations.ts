// Operator use cases: add, block, resize and adjust slots without breaking what is sold; check for drift.
import { setTimeout as delay } from 'node:timers/promises';
import { retryWhileStateMoves, STATE_MOVED } from './state-moved';
import * as z from '../zod';
import type { AtomicWrite, BookingQueries, BookingStore } from './booking-store';
import { auditEntry } from './audit-trail';
import type { Deps } from './collaborators';
import { failure, StoredDataError, type BookingFailure } from './errors';
import { confirmedGuests, guestsPerSlot, unheldSeats, type AuditEntry, type Booking, type Hold, type Slot } from './model';
import { classifySlotRefusal, slotRefusalFailure } from './slot-refusals';
import { dateSchema, idSchema, MAX_SLOT_PRICE, timeSchema } from './trip-input';

const CAPACITY_ATTEMPTS = 5;
const BLOCK_ATTEMPTS = 3;

/** The most seats one slot may have, when it is added and when it is resized alike. */
export const MAX_SLOT_CAPACITY = 10_000;

/** A slot has at least one seat: one that can never be sold is blocked instead. */
export const capacitySchema = z
  .number()
  .check(
    z.refine(Number.isInteger, 'must be a whole number'),
    z.minimum(1, 'must be at least 1'),
    z.maximum(MAX_SLOT_CAPACITY, `must be at most ${MAX_SLOT_CAPACITY}`),
  );

const ISO_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

export const newSlotSchema = z.strictObject({
  slotId: z.optional(idSchema),
  experienceId: idSchema,
  date: dateSchema,
  time: timeSchema,
  capacity: capacitySchema,
  priceAmount: z
    .number()
    .check(
      z.refine(Number.isInteger, 'must be in minor units (cents)'),
      z.minimum(0, 'must not be negative'),
      z.maximum(MAX_SLOT_PRICE, `must be at most ${MAX_SLOT_PRICE} (a trip of the most items and guests must stay one Stripe amount)`),
    ),
  currency: z.string().check(
    z.regex(/^[a-z]{3}$/, 'must be a three-letter ISO 4217 code (EUR, USD…)'),
    // A code no currency has (a typo) would be taken here and refused by Stripe at every checkout.
    z.refine((code) => ISO_CURRENCIES.has(code.toUpperCase()), 'is no ISO 4217 currency'),
  ),
});

function operatorAudit(deps: Deps, eventType: string, slotId: string, actorId: string | undefined, metadata: AuditEntry['metadata']): AuditEntry {
  return auditEntry(deps, { eventType, entityType: 'slot', entityId: slotId, actorType: 'operator', actorId, metadata });
}

export type NewSlot = z.infer<typeof newSlotSchema>;

export async function addSlot(deps: Deps, input: NewSlot, actorId?: string): Promise<{ ok: true; slot: Slot } | BookingFailure> {
  const { slotId, ...fields } = input;
  const now = deps.clock.now().toISOString();
  // By day: the slot's own time zone is not stored, and nobody can book a day that has passed anywhere.
  if (fields.date < now.slice(0, 10)) return failure('VALIDATION_FAILED', `date ${fields.date} is in the past`, { field: 'date' });
  const slot: Slot = { slotId: slotId ?? deps.ids.uuid(), ...fields, availableCount: fields.capacity, isBlocked: false, updatedAt: now };
  const result = await deps.store.commit({
    at: now,
    newSlot: slot,
    audits: [operatorAudit(deps, 'slot.created', slot.slotId, actorId, { capacity: slot.capacity, priceAmount: slot.priceAmount, currency: slot.currency })],
  });
  if (!result.committed) return failure('VALIDATION_FAILED', `slotId ${slot.slotId} is already taken`, { field: 'slotId' });
  return { ok: true, slot };
}

export async function setSlotBlocked(
  deps: Deps,
  slotId: string,
  isBlocked: boolean,
  actorId?: string,
): Promise<{ ok: true; changed: boolean } | BookingFailure> {
  return retryWhileStateMoves(
    BLOCK_ATTEMPTS,
    async () => {
      const slot = (await deps.store.getSlots([slotId])).get(slotId);
      if (!slot) return failure('SLOT_NOT_FOUND', `Slot ${slotId} does not exist.`);
      // Already so: nothing changes, so the audit trail records nothing.
      if (slot.isBlocked === isBlocked) return { ok: true, changed: false } as const;
      // Written only if the slot is still otherwise: of two runs at once (a double Enter, two terminals), one changes it.
      const result = await deps.store.commit({
        at: deps.clock.now().toISOString(),
        slotSettings: { slotId, isBlocked },
        audits: [operatorAudit(deps, isBlocked ? 'slot.blocked' : 'slot.unblocked', slotId, actorId, {})],
      });
      return result.committed ? ({ ok: true, changed: true } as const) : STATE_MOVED;
    },
    () => failure('TRANSACTION_FAILED', `Slot ${slotId} kept being blocked and unblocked; try again.`, { retryable: true }),
  );
}

/**
 * Changes a slot's capacity and its availability by the same amount, so seats already sold stay sold:
 * a capacity below the seats booked is refused with CAPACITY_BELOW_BOOKED.
 */
export async function setSlotCapacity(deps: Deps, slotId: string, capacity: number, actorId?: string): Promise<{ ok: true; slot: Slot } | BookingFailure> {
  const valid = capacitySchema.safeParse(capacity);
  if (!valid.success) return failure('VALIDATION_FAILED', `capacity ${valid.error.issues[0]?.message ?? 'is invalid'}`, { field: 'capacity' });
  return retryWhileStateMoves(
    CAPACITY_ATTEMPTS,
    async () => {
      const slot = (await deps.store.getSlots([slotId])).get(slotId);
      if (!slot) return failure('SLOT_NOT_FOUND', `Slot ${slotId} does not exist.`);
      const booked = slot.capacity - slot.availableCount;
      const held = slot.availableCount - unheldSeats(slot);
      if (capacity < booked + held) {
        const what = held > 0 ? `${booked} seats booked and ${held} held by checkouts` : `${booked} seats booked`;
        return failure('CAPACITY_BELOW_BOOKED', `Slot ${slotId} has ${what}; its capacity cannot go below that (asked for ${capacity}).`);
      }
      const result = await deps.store.commit({
        at: deps.clock.now().toISOString(),
        slotSettings: { slotId, capacity: { from: slot.capacity, to: capacity } },
        audits: [operatorAudit(deps, 'slot.capacity_changed', slotId, actorId, { from: slot.capacity, to: capacity })],
      });
      if (result.committed) {
        const delta = capacity - slot.capacity;
        return { ok: true, slot: { ...slot, capacity, availableCount: slot.availableCount + delta, unheldCount: unheldSeats(slot) + delta } };
      }
      // Seats were sold or released meanwhile: read again.
      return STATE_MOVED;
    },
    () => failure('TRANSACTION_FAILED', `Slot ${slotId} kept changing; try again.`, { retryable: true }),
  );
}

export interface SlotDrift {
  readonly slotId: string;
  readonly experienceId: string;
  readonly capacity: number;
  readonly availableCount: number;
  readonly confirmedGuests: number;
  /** availableCount − (capacity − confirmedGuests): 0 when the slot is consistent. */
  readonly drift: number;
  /** Seats neither booked nor held, as stored. */
  readonly unheldCount: number;
  /** Guests of the holds still held on this slot. */
  readonly heldGuests: number;
  /** unheldCount − (availableCount − heldGuests): 0 when the holds add up. */
  readonly holdDrift: number;
}

export interface UnusableItem {
  readonly entity: string;
  readonly id: string;
  readonly problem: string;
}

/**
 * How long a slot must stay unchanged before its bookings and holds are compared with it again: they are read from
 * global secondary indexes, which DynamoDB updates a moment after the table ("within a fraction of a second" normally).
 */
export const INDEX_SETTLE_MS = 2_000;

/** Re-checks of a slot that seemed to drift, each waiting INDEX_SETTLE_MS; a slot changing through all of them is left unsettled. */
const RECHECK_ATTEMPTS = 3;

export interface ConsistencyCheckOptions {
  /** @default INDEX_SETTLE_MS */
  readonly settleMs?: number;
  /** Waits `ms`. @default a timer */
  readonly wait?: (ms: number) => Promise<void>;
}

export interface ConsistencyReport {
  readonly slots: number;
  /** Slots found drifted twice: at first, and again while they stayed unchanged long enough for the indexes. */
  readonly drifted: SlotDrift[];
  /** Slots that seemed to drift, then changed through every re-check (traffic on them): neither drifted nor vouched for. */
  readonly unsettled: string[];
  readonly unusable: UnusableItem[];
}

/**
 * For every slot: capacity = available + confirmed guests, and available − held guests = unheld ≥ 0 (held seats
 * are never sold twice); lists stored slots that cannot be read.
 *
 * The slots, the holds and each slot's bookings are read one after another, while the webhook and checkouts go on
 * writing: a confirmation or a hold committed between two of those reads makes a consistent slot look drifted. So a
 * slot that does is checked again on its own: read, left INDEX_SETTLE_MS, read again, its bookings and the holds read,
 * then the slot once more. Only when it did not change across all three reads (every write of its seats rewrites it,
 * `updatedAt` included) are the numbers of one moment, and its drift is reported; a slot that kept changing is
 * reported unsettled. Writes that leave a slot exactly as it was, down to the millisecond of `updatedAt` (stamped by
 * each writer's clock), cannot be told from none: a drift a second run no longer shows was such traffic.
 */
export async function checkConsistency(store: BookingStore & BookingQueries, options: ConsistencyCheckOptions = {}): Promise<ConsistencyReport> {
  // Each item that no longer reads is listed once, however many reads meet it (every re-check lists the holds again).
  const unusableByKey = new Map<string, UnusableItem>();
  const noteProblem = (problem: StoredDataError): void => {
    const key = `${problem.entity}#${problem.entityId}`;
    if (!unusableByKey.has(key)) unusableByKey.set(key, { entity: problem.entity, id: problem.entityId, problem: problem.message });
  };
  const noteUnusable = (error: unknown): undefined => {
    if (!(error instanceof StoredDataError)) throw error;
    noteProblem(error);
  };
  const slots = await store.listAllSlots(noteProblem);
  // A hold that no longer reads is listed, not a reason to stop: its slot may then show hold drift, beside it.
  const heldBySlot = heldGuestsPerSlot(await store.listActiveHolds(noteProblem));
  const suspected: string[] = [];
  for (const slot of slots) {
    const bookings = await store.listBookingsOfSlot(slot.slotId).catch(noteUnusable);
    if (bookings && driftOf(slot, bookings, heldBySlot)) suspected.push(slot.slotId);
  }

  const settleMs = options.settleMs ?? INDEX_SETTLE_MS;
  const wait = options.wait ?? ((ms: number) => delay(ms));
  const recheck = async (slotId: string): Promise<SlotDrift | 'consistent' | 'unsettled'> => {
    for (let attempt = 0; attempt < RECHECK_ATTEMPTS; attempt++) {
      const slotNow = async () => (await store.getSlots([slotId])).get(slotId);
      const before = await slotNow();
      await wait(settleMs);
      // Unchanged through the wait (the indexes have caught up with its last write) and through the reads themselves.
      const settled = await slotNow();
      const [bookings, holds] = await Promise.all([store.listBookingsOfSlot(slotId), store.listActiveHolds(noteProblem)]);
      const after = await slotNow();
      if (before && settled && after && sameSeats(before, settled) && sameSeats(settled, after)) {
        return driftOf(after, bookings, heldGuestsPerSlot(holds)) ?? 'consistent';
      }
    }
    return 'unsettled';
  };
  const rechecked = await Promise.all(suspected.map((slotId) => recheck(slotId).catch(noteUnusable)));
  return {
    slots: slots.length,
    drifted: rechecked.filter((result): result is SlotDrift => typeof result === 'object'),
    unsettled: suspected.filter((_, index) => rechecked[index] === 'unsettled'),
    unusable: [...unusableByKey.values()],
  };
}

function heldGuestsPerSlot(holds: readonly Hold[]): Map<string, number> {
  return guestsPerSlot(holds.flatMap((hold) => hold.seats.map(({ slotId, guests }) => ({ slotId, guestCount: guests }))));
}

/** The slot's drift against its bookings and the holds on it, or undefined when it adds up. */
function driftOf(slot: Slot, bookings: readonly Booking[], heldBySlot: ReadonlyMap<string, number>): SlotDrift | undefined {
  const guestsBooked = confirmedGuests(bookings);
  const drift = slot.availableCount - (slot.capacity - guestsBooked);
  const heldGuests = heldBySlot.get(slot.slotId) ?? 0;
  const unheldCount = unheldSeats(slot);
  const holdDrift = unheldCount - (slot.availableCount - heldGuests);
  if (drift === 0 && holdDrift === 0 && unheldCount >= 0 && slot.availableCount >= 0 && slot.availableCount <= slot.capacity) return undefined;
  return {
    slotId: slot.slotId,
    experienceId: slot.experienceId,
    capacity: slot.capacity,
    availableCount: slot.availableCount,
    confirmedGuests: guestsBooked,
    drift,
    unheldCount,
    heldGuests,
    holdDrift,
  };
}

/** The same seats as read before: no write of the slot's seats came in between (each rewrites `updatedAt` too). */
function sameSeats(before: Slot, after: Slot): boolean {
  return (
    before.updatedAt === after.updatedAt &&
    before.capacity === after.capacity &&
    before.availableCount === after.availableCount &&
    unheldSeats(before) === unheldSeats(after)
  );
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
export async function adjustAvailability(deps: Deps, input: AdjustAvailabilityInput): Promise<AdjustAvailabilitySuccess | BookingFailure> {
  if (!Number.isInteger(input.delta) || input.delta === 0) {
    return failure('VALIDATION_FAILED', 'delta must be a non-zero whole number of seats', { field: 'delta' });
  }
  return retryWhileStateMoves(
    CAPACITY_ATTEMPTS,
    async () => {
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
      const audit = operatorAudit(deps, 'slot.availability_adjusted', input.slotId, input.actorId, {
        delta: input.delta > 0 ? applied : -applied,
        reason: input.reason,
      });
      const result = await deps.store.commit({ at, seatChanges: change, audits: [audit] });
      if (result.committed) return { ok: true, slotId: input.slotId, applied };
      const refused = result.rejection.seatChanges[0];
      if (input.delta < 0 && refused) {
        // Seats taken by an operator must be free: neither booked nor held by a checkout.
        return slotRefusalFailure([classifySlotRefusal(input.slotId, applied, refused.current, undefined, true)]);
      }
      // A release raced with another change of the slot: re-read its capacity and availability.
      return STATE_MOVED;
    },
    () => failure('TRANSACTION_FAILED', `Slot ${input.slotId} kept changing during the adjustment; try again.`, { retryable: true }),
  );
}
