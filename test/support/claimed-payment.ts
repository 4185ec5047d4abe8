// A payment create-booking claimed for another trip: trip B checked out and paid (pi_B), its event not delivered yet,
// then create-booking given pi_B for trip A, another user's trip on slots of its own priced per guest as B's is.
import { Logger } from '@aws-lambda-powertools/logger';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import type { Slot } from '../../lambdas/shared/domain/model';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { CHECKED_OUT_PRICE, checkedOutTrip } from './checked-out';
import { deps, seedSlot } from './store';
import { createPendingTrip } from './trips';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';

/**
 * Trip B of 2 guests paid (`paid` is its event, undelivered), and create-booking's answer for trip A, which has one item
 * of `guests[i]` guests on a slot of its own (of `capacity` seats) per entry. The caller checks that answer.
 */
export async function paymentClaimedForAnotherTrip(
  store: DynamoDbBookingStore,
  fake: StripeFake,
  options: { readonly guests?: readonly number[]; readonly capacity?: number } = {},
) {
  const guests = options.guests ?? [1];
  const paying = await checkedOutTrip(store, fake, 2);
  const paid = await paying.pay();
  const paymentId = paying.paymentIntent();
  const slots: Slot[] = [];
  for (const _ of guests) slots.push(await seedSlot(store, { capacity: options.capacity ?? 5, priceAmount: CHECKED_OUT_PRICE }));
  const other = await createPendingTrip(
    store,
    slots.map((slot, index): [Slot, number] => [slot, guests[index] as number]),
  );
  const invoke = createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) });
  const booked = await invoke({ paymentId, tripId: other.tripId, userId: other.userId, tripItems: other.items.map((item) => ({ ...item })) });
  return { paying, paid, paymentId, other, slots, booked };
}
