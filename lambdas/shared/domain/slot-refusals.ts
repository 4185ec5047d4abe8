// Why a slot refuses seats, and how those refusals become one failure with per-slot counts.
import { failure, type BookingFailure, type SlotFailure } from './errors';
import { unheldSeats, type Slot } from './model';

/** Most serious first: when several slots fail, the trip's code is the worst of them. */
const SEVERITY: readonly SlotFailure['code'][] = ['SLOT_NOT_FOUND', 'SLOT_BLOCKED', 'INSUFFICIENT_AVAILABILITY'];

/** Whether `slot` can give `requested` seats to `experienceId` right now (of those neither booked nor held, with `fromUnheld`). */
export function canSeat(slot: Slot | undefined, requested: number, experienceId?: string, fromUnheld = false): slot is Slot {
  const seats = slot && (fromUnheld ? Math.min(slot.availableCount, unheldSeats(slot)) : slot.availableCount);
  return !!slot && (experienceId === undefined || slot.experienceId === experienceId) && !slot.isBlocked && (seats ?? 0) >= requested;
}

/**
 * Why one slot refused its seats, read from the slot as it was when it refused. `fromUnheld`: the seats were
 * asked of those neither booked nor held (a hold, or a confirmation without one), so those are what was available.
 */
export function classifySlotRefusal(slotId: string, requested: number, current: Slot | undefined, experienceId?: string, fromUnheld = false): SlotFailure {
  if (!current || (experienceId !== undefined && current.experienceId !== experienceId)) {
    return { slotId, code: 'SLOT_NOT_FOUND', requested };
  }
  const available = fromUnheld ? Math.min(current.availableCount, unheldSeats(current)) : current.availableCount;
  if (current.isBlocked) return { slotId, code: 'SLOT_BLOCKED', requested, available };
  return { slotId, code: 'INSUFFICIENT_AVAILABILITY', requested, available };
}

export function slotRefusalFailure(slots: readonly SlotFailure[]): BookingFailure {
  const code = SEVERITY.find((candidate) => slots.some((slot) => slot.code === candidate)) ?? 'INSUFFICIENT_AVAILABILITY';
  const message = slots.map(describeRefusal).join(' ');
  return failure(code, message, { slots });
}

function describeRefusal(slot: SlotFailure): string {
  switch (slot.code) {
    case 'SLOT_NOT_FOUND':
      return `Slot ${slot.slotId} does not exist.`;
    case 'SLOT_BLOCKED':
      return `Slot ${slot.slotId} is blocked and not available for booking.`;
    case 'INSUFFICIENT_AVAILABILITY':
      return `Slot ${slot.slotId} has only ${slot.available} of the ${slot.requested} requested spots available.`;
  }
}
