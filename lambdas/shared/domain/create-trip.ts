import type { Deps } from './collaborators';
import { failure, type BookingFailure, type SlotFailure } from './errors';
import { guestsPerSlot, type Trip, type TripItem } from './model';
import { canSeat, classifySlotRefusal, slotRefusalFailure } from './slot-refusals';
import { checkGuestsPerSlot, checkTripSize, type CreateTripInput } from './trip-input';

export type CreateTripResult = { readonly ok: true; readonly trip: Trip } | BookingFailure;

/**
 * Input: `{ tripId?, userId, items: [{ experienceId, slotId, guestCount, date?, time? }] }`.
 * Output: the stored trip (`pending_payment`, amount in minor units) or a failure; nothing is stored on failure.
 * Steps: validate (size, guests per slot) → read the slots → check each exists, is open and (advisory) has the seats → price → store.
 * Seats are not held here: they are taken only by the confirmation, in one transaction.
 */
export async function createTrip(deps: Deps, input: CreateTripInput): Promise<CreateTripResult> {
  const priced = await priceTrip(deps, input);
  if (!priced.ok) return priced;
  if (!(await deps.store.createTrip(priced.trip))) {
    return failure('VALIDATION_FAILED', `tripId ${priced.trip.tripId} is already taken`, { field: 'tripId' });
  }
  return priced;
}

/**
 * The trip a checkout is about to charge for, priced from its slots and not stored: validation, the slots' own
 * dates and times, one currency, and (advisory) seats — of those neither booked nor held when `fromUnheld`.
 */
export async function priceTrip(deps: Deps, input: CreateTripInput, options: { fromUnheld?: boolean } = {}): Promise<CreateTripResult> {
  const tooLarge = checkTripSize(input.items) ?? checkGuestsPerSlot(input.items);
  if (tooLarge) return tooLarge;

  const slots = await deps.store.getSlots(input.items.map((item) => item.slotId));
  const requestedBySlot = guestsPerSlot(input.items);

  const refusals: SlotFailure[] = [];
  const items: TripItem[] = [];
  for (const [index, item] of input.items.entries()) {
    const slot = slots.get(item.slotId);
    const requested = requestedBySlot.get(item.slotId) ?? item.guestCount;
    if (!canSeat(slot, requested, item.experienceId, options.fromUnheld)) {
      // Advisory: the transaction that takes or holds the seats decides, but a trip that cannot be booked now is not worth paying for.
      if (!refusals.some((known) => known.slotId === item.slotId)) {
        refusals.push(classifySlotRefusal(item.slotId, requested, slot, item.experienceId, options.fromUnheld));
      }
      continue;
    }
    if (item.date !== undefined && item.date !== slot.date) {
      return failure('VALIDATION_FAILED', `items.${index}.date ${item.date} is not the slot's date ${slot.date}`, { field: `items.${index}.date` });
    }
    if (item.time !== undefined && item.time !== slot.time) {
      return failure('VALIDATION_FAILED', `items.${index}.time ${item.time} is not the slot's time ${slot.time}`, { field: `items.${index}.time` });
    }
    items.push({ experienceId: item.experienceId, slotId: item.slotId, guestCount: item.guestCount, date: slot.date, time: slot.time });
  }
  if (refusals.length > 0) return slotRefusalFailure(refusals);

  const currencies = new Set(items.map((item) => slots.get(item.slotId)?.currency));
  if (currencies.size !== 1) {
    return failure('VALIDATION_FAILED', `items are priced in different currencies (${[...currencies].join(', ')}); one trip is paid in one`, {
      field: 'items',
    });
  }
  const itemAmounts = items.map((item) => (slots.get(item.slotId)?.priceAmount ?? 0) * item.guestCount);
  const amount = itemAmounts.reduce((sum, itemAmount) => sum + itemAmount, 0);
  const now = deps.clock.now().toISOString();
  const trip: Trip = {
    tripId: input.tripId ?? deps.ids.uuid(),
    userId: input.userId,
    items,
    amount,
    itemAmounts,
    currency: [...currencies][0] as string,
    status: 'pending_payment',
    bookingReferences: [],
    createdAt: now,
    updatedAt: now,
  };
  return { ok: true, trip };
}

/** Records the Stripe Checkout session that will pay for a pending trip. */
export async function attachCheckoutSession(
  deps: Pick<Deps, 'store' | 'clock'>,
  tripId: string,
  checkoutSessionId: string,
): Promise<{ ok: true } | BookingFailure> {
  const result = await deps.store.commit({
    at: deps.clock.now().toISOString(),
    tripTransition: { tripId, from: ['pending_payment'], to: 'pending_payment', checkoutSessionId },
  });
  if (result.committed) return { ok: true };
  const current = result.rejection.trip?.current;
  return current
    ? failure('TRIP_NOT_PENDING', `Trip ${tripId} is ${current.status}; a checkout session can only be attached while it awaits payment.`)
    : failure('TRIP_NOT_FOUND', `Trip ${tripId} does not exist.`);
}
