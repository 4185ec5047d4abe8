// A trip on two slots (2 + 1 guests at 45.00), its session recorded, a PaymentIntent the Stripe fake knows, and the webhook that pays it.
import { attachCheckoutSession } from '../../lambdas/shared/domain/create-trip';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import type { Slot, Trip } from '../../lambdas/shared/domain/model';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { deps, readSlot, seedSlot, testDocumentClient, testStore, uniqueId } from './store';
import { checkoutSession, paymentIntentId, signedRequest, stripeEvent, type SessionFacts } from '../../scripts/dev-kit/stripe-events';
import { createPendingTrip } from './trips';
import { webhookHarness } from './webhook';

/** `register: false` leaves the PaymentIntent unknown to the fake (Stripe answers resource_missing for it). */
export async function paymentScenario(fake: StripeFake, options: { register?: boolean } = {}) {
  const client = testDocumentClient();
  const faults = injectFaults(client);
  const store = testStore(client);
  const a = await seedSlot(store, { capacity: 5 });
  const b = await seedSlot(store, { capacity: 5 });
  const created = await createPendingTrip(store, [
    [a, 2],
    [b, 1],
  ]);
  const sessionId = `cs_test_${uniqueId('s').replace(/-/g, '')}`;
  await attachCheckoutSession(deps(store), created.tripId, sessionId);
  const trip: Trip = { ...created, checkoutSessionId: sessionId };
  const paymentIntent = paymentIntentId();
  if (options.register ?? true) fake.registerPayment(paymentIntent, trip.amount);
  const webhook = webhookHarness(fake, { store });
  const gateway = new StripePaymentGateway(async () => fake.client());
  return {
    store,
    faults,
    gateway,
    /** The operator use cases' collaborators. */
    ops: { store, gateway, clock: systemClock, ids: randomIds },
    trip,
    slots: [a, b] as [Slot, Slot],
    paymentIntent,
    webhook,
    session: (facts: SessionFacts = {}) => checkoutSession(trip, { paymentIntent, ...facts }),
    pay: (facts: SessionFacts & Record<string, unknown> = {}) =>
      webhook.send(signedRequest(stripeEvent('checkout.session.completed', { ...checkoutSession(trip, { paymentIntent, ...facts }), ...facts }))),
    send: (type: string, object: Record<string, unknown>) => webhook.send(signedRequest(stripeEvent(type, object))),
    available: async () => Promise.all([a, b].map(async (slot) => (await readSlot(store, slot.slotId))?.availableCount)),
    record: () => store.getPaymentRecord(paymentIntent),
    tripStatus: async () => (await store.getTrip(trip.tripId))?.status,
  };
}
