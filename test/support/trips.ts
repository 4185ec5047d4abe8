// Test helpers for trips: created through the createTrip use case, exactly as checkout does.
import { expect } from 'vitest';
import type { ConfirmTripInput } from '../../lambdas/shared/domain/confirm-trip';
import { createTrip } from '../../lambdas/shared/domain/create-trip';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { checkoutSession, paymentIntentId, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { deps, overwriteSlot, seedSlot, uniqueId, type TestStore } from './store';

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

/** A trip whose only slot is blocked once it is pending, and its payment at the fake: its webhook must refund it. */
export async function unbookablePaidTrip(store: TestStore, fake: StripeFake) {
  const slot = await seedSlot(store, { capacity: 3, priceAmount: 4_500 });
  const trip = await createPendingTrip(store, [[slot, 2]]);
  await overwriteSlot({ ...slot, isBlocked: true });
  const paymentId = paymentIntentId();
  fake.registerPayment(paymentId, trip.amount);
  const paid = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentId }));
  return { trip, paymentId, paid };
}
