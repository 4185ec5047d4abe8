// A trip checked out through the checkout use case against the Stripe fake (seats held, a Checkout Session at the fake),
// paid on the fake's hosted page: the event Stripe makes of it is then in the fake's list, delivered or not; and one whose
// refund its delivery stored and Stripe failed.
import { expect } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { startCheckout } from '../../lambdas/shared/domain/start-checkout';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { isCheckoutEvent, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import type { Slot } from '../../lambdas/shared/domain/model';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { overwriteSlot, readSlot, seedSlot, uniqueId } from './store';
import { webhookHarness } from './webhook';

export const CHECKED_OUT_PRICE = 4_500;

/** A new user's checkout of `guests` on `slot` through the use case, its seats held and its session at the fake. */
export async function checkoutOn(store: DynamoDbBookingStore, fake: StripeFake, slot: Pick<Slot, 'slotId'>, guests: number, mark = store.tableName) {
  const started = await startCheckout(
    { store, checkout: new StripeCheckoutSessions(async () => fake.client(), undefined, mark), clock: systemClock, ids: randomIds, holdMinutes: 30 },
    {
      userId: uniqueId('user'),
      items: [{ slotId: slot.slotId, guestCount: guests }],
      successUrl: 'https://pulau.test/paid',
      cancelUrl: 'https://pulau.test/cart',
    },
  );
  if (!('tripId' in started)) expect.fail(`checkout failed: ${started.errorCode}`);
  return started;
}

/** `mark`: what its session carries as the deployment's (TABLE_MARK); the table's name by default, as a deployed stack's checkout marks. */
export async function checkedOutTrip(store: DynamoDbBookingStore, fake: StripeFake, guests = 2, mark = store.tableName) {
  const slot = await seedSlot(store, { capacity: 4, priceAmount: CHECKED_OUT_PRICE });
  const started = await checkoutOn(store, fake, slot, guests, mark);
  const sessionId = (await store.getTrip(started.tripId))?.checkoutSessionId as string;
  return {
    slot,
    tripId: started.tripId,
    amount: CHECKED_OUT_PRICE * guests,
    /** Pays on the hosted page; resolves to the event Stripe made of it. */
    pay: async (): Promise<FakeEvent> => {
      await fetch(`${fake.url}/c/pay/${sessionId}/pay`, { method: 'POST', redirect: 'manual' });
      // The session's own event: a webhook the fake delivers to may have refunded meanwhile, and those events come after it.
      const event = fake.events.filter(isCheckoutEvent).findLast((candidate) => candidate.data.object.id === sessionId);
      if (!event) expect.fail('the payment made no event');
      return event;
    },
    paymentIntent: () => fake.session(sessionId)?.paymentIntent as string,
    trip: () => store.getTrip(started.tripId),
    bookings: () => store.listBookingsOfTrip(started.tripId),
    available: async () => (await readSlot(store, slot.slotId))?.availableCount,
  };
}

/**
 * A checked-out trip whose slot an operator blocked before it was paid: its delivery stores a full refund as requested and
 * asks Stripe, which answers 500; the delivery answers 500 and no redelivery ever comes.
 */
export async function refundStoredStripeFailed(store: DynamoDbBookingStore, fake: StripeFake) {
  const trip = await checkedOutTrip(store, fake);
  await overwriteSlot({ ...((await readSlot(store, trip.slot.slotId)) as Slot), isBlocked: true });
  const event = await trip.pay();
  fake.failNext(1, 500);
  const delivered = await webhookHarness(fake, { store }).send(signedRequest(event));
  expect(delivered.status).toBe(500);
  const paymentId = trip.paymentIntent();
  expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'refund_pending', refunds: [{ status: 'requested' }] });
  return { ...trip, paymentId, event, record: () => store.getPaymentRecord(paymentId) };
}
