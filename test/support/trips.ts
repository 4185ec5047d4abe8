// Test helpers for trips: created through the createTrip use case, exactly as checkout does.
import { expect } from 'vitest';
import type { ConfirmTripInput } from '../../lambdas/shared/domain/confirm-trip';
import { createTrip } from '../../lambdas/shared/domain/create-trip';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { deps, uniqueId, type TestStore } from './store';

export async function createPendingTrip(store: TestStore, parts: readonly [Slot, number][], userId = uniqueId('user')): Promise<Trip> {
  const result = await createTrip(deps(store), {
    userId,
    items: parts.map(([slot, guests]) => ({ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: guests })),
  });
  if (!result.ok) expect.fail(`createTrip failed: ${result.errorCode} ${result.message}`);
  return result.trip;
}

/** The confirmTrip input a payment of `trip` produces. */
export function confirmationOf(trip: Trip, paymentId = uniqueId('pi')): ConfirmTripInput {
  return { trip, paymentId };
}
