// Why a slot refuses seats, and how those refusals become one failure with per-slot counts.
import { failure, type BookingFailure, type SlotFailure } from './errors';
import type { Slot } from './model';

/** Most serious first: when several slots fail, the trip's code is the worst of them. */
const SEVERITY: readonly SlotFailure['code'][] = ['SLOT_NOT_FOUND', 'SLOT_BLOCKED', 'INSUFFICIENT_AVAILABILITY'];

/** Whether `slot` can give `requested` seats to `experienceId` right now. */
export function canSeat(slot: Slot | undefined, requested: number, experienceId?: string): slot is Slot {
  return !!slot && (experienceId === undefined || slot.experienceId === experienceId) && !slot.isBlocked && slot.availableCount >= requested;
}

/** Why one slot refused its seats, read from the slot as it was when it refused. */
export function classifySlotRefusal(slotId: string, requested: number, current: Slot | undefined, experienceId?: string): SlotFailure {
  if (!current || (experienceId !== undefined && current.experienceId !== experienceId)) {
    return { slotId, code: 'SLOT_NOT_FOUND', requested };
  }
  if (current.isBlocked) return { slotId, code: 'SLOT_BLOCKED', requested, available: current.availableCount };
  return { slotId, code: 'INSUFFICIENT_AVAILABILITY', requested, available: current.availableCount };
}

export function slotRefusalFailure(slots: readonly SlotFailure[]): BookingFailure {
  const code = SEVERITY.find((candidate) => slots.some((slot) => slot.code === candidate)) ?? 'INSUFFICIENT_AVAILABILITY';
  const message = slots
    .map((slot) => {
      switch (slot.code) {
        case 'SLOT_NOT_FOUND':
          return `Slot ${slot.slotId} does not exist.`;
        case 'SLOT_BLOCKED':
          return `Slot ${slot.slotId} is blocked and not available for booking.`;
        case 'INSUFFICIENT_AVAILABILITY':
          return `Slot ${slot.slotId} has only ${slot.available} of the ${slot.requested} requested spots available.`;
      }
    })
    .join(' ');
  return failure(code, message, { slots });
}
