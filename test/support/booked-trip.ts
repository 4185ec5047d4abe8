// A trip of one booking per entry of `guests` (each on a slot of its own), paid with a PaymentIntent the Stripe fake knows and booked through the real webhook.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import type { PaymentRecord, Slot } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { checkoutSession, paymentIntentId, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { gatewayLosingRefundAnswers } from './gateways';
import { readSlot, seedSlot, testDocumentClient, testStore, testTableName } from './store';
import { createPendingTrip } from './trips';
import { webhookHarness } from './webhook';

export const BOOKED_TRIP_PRICE = 4_500;
export const BOOKED_TRIP_CAPACITY = 5;

export interface BookedTripOptions {
  /** Taken off at checkout (a coupon): the bookings' shares are scaled to what was paid. */
  readonly discount?: number;
  /** As a trip stored before prices were kept per item: its bookings get no share of their own. */
  readonly withoutItemPrices?: boolean;
}

/** Its payment record is `booked` with `amountPaid`; references and shares are in the order of `guests`. */
export async function bookedTripAt(fake: StripeFake, guests: readonly number[], options: BookedTripOptions = {}) {
  const discount = options.discount ?? 0;
  const store = testStore();
  const slots: Slot[] = [];
  for (const _ of guests) slots.push(await seedSlot(store, { capacity: BOOKED_TRIP_CAPACITY, priceAmount: BOOKED_TRIP_PRICE }));
  const created = await createPendingTrip(
    store,
    slots.map((slot, index) => [slot, guests[index] as number] as [Slot, number]),
  );
  if (options.withoutItemPrices) {
    await testDocumentClient().send(new UpdateCommand({ TableName: testTableName(), Key: keys.trip(created.tripId), UpdateExpression: 'REMOVE itemAmounts' }));
  }
  const pi = paymentIntentId();
  const paid = created.amount - discount;
  fake.registerPayment(pi, paid);
  const webhook = webhookHarness(fake, { store });
  const session = {
    ...checkoutSession(created, { paymentIntent: pi, amount: paid }),
    ...(discount > 0 && { amount_subtotal: created.amount, total_details: { amount_discount: discount } }),
  };
  const booked = await webhook.send(signedRequest(stripeEvent('checkout.session.completed', session)));
  expect(booked.body.outcome).toBe('booked');
  const bookings = await store.listBookingsOfTrip(created.tripId);
  const references = slots.map((slot) => bookings.find((booking) => booking.slotId === slot.slotId)?.reference as string);
  const shares = slots.map((slot) => bookings.find((booking) => booking.slotId === slot.slotId)?.amount as number);
  return {
    store,
    webhook,
    trip: created,
    pi,
    slots,
    references,
    shares,
    gateway: new StripePaymentGateway(async () => fake.client()),
    paid,
    available: () => Promise.all(slots.map(async (slot) => (await readSlot(store, slot.slotId))?.availableCount)),
    tripStatus: async () => (await store.getTrip(created.tripId))?.status,
    record: async () => (await store.getPaymentRecord(pi)) as PaymentRecord,
    bookingStatus: async (reference: string) => (await store.getBookings([reference]))[0]?.status,
    shareKey: (reference: string) => `refund-${pi}-${reference}`,
  };
}

/**
 * Cancels `reference` of a booked trip with its refund, which Stripe takes (pending) while its answer is lost on the way
 * back: the share stays `requested` on the record, and the refund is the fake's first of the payment.
 */
export async function cancelledWithAnswerLost(fake: StripeFake, t: Awaited<ReturnType<typeof bookedTripAt>>, reference: string): Promise<void> {
  fake.nextRefundStatus('pending');
  await expect(
    cancelBooking(
      { store: t.store, gateway: gatewayLosingRefundAnswers(fake), clock: systemClock, ids: randomIds },
      { reference, reason: 'guide ill', actorId: 'ana', refund: true },
    ),
  ).rejects.toThrow(PaymentGatewayUnavailableError);
}
