// `npm run demo`: against the running local stack, a trip paid and booked, then two buyers racing for the last seat.
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { attachCheckoutSession, createTrip } from '../../lambdas/shared/domain/create-trip';
import type { Trip } from '../../lambdas/shared/domain/model';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { STRIPE_API_VERSION, TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { WEBHOOK_PATH } from '../../lambdas/stripe-webhook/webhook-handler';
import { DEMO_SLOTS } from './demo-data';
import { LOCAL_SIGNING_SECRET, localSettings } from './local-settings';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const settings = localSettings();
const webhookUrl = `http://127.0.0.1:${settings.port}${WEBHOOK_PATH}`;
const store = new DynamoDbBookingStore({
  client: createDocumentClient({ endpoint: `http://127.0.0.1:${settings.dynamoPort}` }),
  tableName: settings.tableName,
});
const deps = { store, clock: systemClock, ids: randomIds };
const money = (cents: number, currency: string): string => `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
const stripeId = (prefix: string): string => `${prefix}_demo${randomUUID().replace(/-/g, '').slice(0, 20)}`;

async function availability(slotIds: string[]): Promise<string> {
  const slots = await store.getSlots(slotIds);
  return slotIds.map((id) => `${id}: ${slots.get(id)?.availableCount ?? '?'}/${slots.get(id)?.capacity ?? '?'}`).join(', ');
}

/** What checkout does before sending the traveller to Stripe: the trip, priced from the slots, with its session. */
async function checkout(userId: string, items: { experienceId: string; slotId: string; guestCount: number }[]): Promise<Trip> {
  const created = await createTrip(deps, { userId, items });
  if (!created.ok) throw new Error(`createTrip: ${created.errorCode} ${created.message}`);
  const sessionId = stripeId('cs_test');
  await attachCheckoutSession(deps, created.trip.tripId, sessionId);
  return { ...created.trip, checkoutSessionId: sessionId };
}

/** Stripe's side: a signed checkout.session.completed for that trip, POSTed to the webhook. */
async function pay(trip: Trip): Promise<{ status: number; body: Record<string, unknown>; paymentIntent: string }> {
  const paymentIntent = stripeId('pi');
  const event = {
    id: stripeId('evt'),
    object: 'event',
    type: 'checkout.session.completed',
    api_version: STRIPE_API_VERSION,
    livemode: false,
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: trip.checkoutSessionId,
        object: 'checkout.session',
        client_reference_id: trip.tripId,
        // Our checkout's mark: the endpoint acts only on sessions that carry it.
        metadata: { [TRIP_MARK]: trip.tripId, userId: trip.userId },
        payment_intent: paymentIntent,
        payment_status: 'paid',
        amount_total: trip.amount,
        currency: trip.currency,
      },
    },
  };
  const payload = JSON.stringify(event, null, 2);
  const response = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: LOCAL_SIGNING_SECRET }) },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, paymentIntent };
}

async function main(): Promise<void> {
  try {
    await fetch(webhookUrl, { method: 'POST', body: '{}' });
  } catch {
    throw new Error(`Nothing answers at ${webhookUrl}: start the local stack first with \`npm start\` (in another terminal).`);
  }
  const { riceTerraces, baturSunrise, nusaSnorkel } = DEMO_SLOTS;

  console.log('1. A traveller books two experiences in one payment\n');
  const trip = await checkout(`user-${randomUUID().slice(0, 8)}`, [
    { experienceId: riceTerraces.experienceId, slotId: riceTerraces.slotId, guestCount: 2 },
    { experienceId: baturSunrise.experienceId, slotId: baturSunrise.slotId, guestCount: 2 },
  ]);
  const slotIds = [riceTerraces.slotId, baturSunrise.slotId];
  console.log(`   trip ${trip.tripId}: 2 items, ${money(trip.amount, trip.currency)}, ${trip.status}`);
  console.log(`   seats before: ${await availability(slotIds)}`);
  const paid = await pay(trip);
  console.log(`   Stripe → POST ${WEBHOOK_PATH} → ${paid.status} ${JSON.stringify(paid.body)}`);
  console.log(`   seats after:  ${await availability(slotIds)}`);
  for (const booking of await store.getBookings((paid.body.references as string[] | undefined) ?? [])) {
    console.log(`   booking ${booking.reference}  ${booking.experienceId}  ${booking.date} ${booking.time}  ${booking.guestCount} guests  ${booking.status}`);
  }

  console.log(`\n2. Two travellers pay at the same moment for the last seat of ${nusaSnorkel.slotId}\n`);
  console.log(`   seats before: ${await availability([nusaSnorkel.slotId])}`);
  const racers = await Promise.all(
    ['ana', 'budi'].map((name) => checkout(`user-${name}-${randomUUID().slice(0, 4)}`, [{ experienceId: nusaSnorkel.experienceId, slotId: nusaSnorkel.slotId, guestCount: 1 }])),
  );
  const results = await Promise.all(racers.map(pay));
  for (const [index, result] of results.entries()) {
    console.log(`   ${racers[index]!.userId}: ${result.status} ${JSON.stringify(result.body)}`);
  }
  console.log(`   seats after:  ${await availability([nusaSnorkel.slotId])}`);
  const loserIndex = results.findIndex((result) => result.body.outcome === 'refunded');
  if (loserIndex < 0) {
    console.log('   (no refund this time: the slot had more than one seat left — run `npm start -- --reset` for a fresh demo)');
    return;
  }
  const loser = racers[loserIndex]!;
  const stored = await store.getTrip(loser.tripId);
  console.log(`\n   The other payment was not lost: trip ${loser.tripId} is ${stored?.status} (${stored?.statusReason}), refund ${stored?.refundId}`);
  console.log('   its audit trail:');
  for (const entry of await store.listAudit('trip', loser.tripId)) {
    console.log(`     ${entry.occurredAt}  ${entry.eventType.padEnd(20)} ${JSON.stringify(entry.metadata)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
