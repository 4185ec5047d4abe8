// `npm run demo`: against the running local stack, through its front door: a trip checked out and paid, then two buyers racing for a last seat.
import { randomUUID } from 'node:crypto';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { addSlot } from '../../lambdas/shared/domain/operations';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { CHECKOUT_PATH } from '../../lambdas/checkout/checkout-handler';
import { DEMO_SLOTS } from './demo-data';
import { localSettings } from './local-settings';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const settings = localSettings();
const checkoutUrl = `http://127.0.0.1:${settings.port}${CHECKOUT_PATH}`;
const store = new DynamoDbBookingStore({
  client: createDocumentClient({ endpoint: `http://127.0.0.1:${settings.dynamoPort}` }),
  tableName: settings.tableName,
});
const money = (cents: number, currency: string): string => `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
const urls = { successUrl: 'http://127.0.0.1/done?session={CHECKOUT_SESSION_ID}', cancelUrl: 'http://127.0.0.1/cancelled' };

interface CheckoutAnswer {
  readonly status: number;
  readonly body: { tripId?: string; checkoutUrl?: string; amount?: number; currency?: string; expiresAt?: string; error?: string; slots?: unknown };
}

/** What a traveller's app does: POST /checkout with the items; the stack prices them and holds the seats. */
async function checkout(userId: string, items: { slotId: string; guestCount: number }[]): Promise<CheckoutAnswer> {
  const response = await fetch(checkoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ userId, items, ...urls }),
  });
  return { status: response.status, body: (await response.json()) as CheckoutAnswer['body'] };
}

/** What the traveller does on the payment page: press "Pay" (the stand-in sends Stripe's signed event to the webhook). */
async function pay(pageUrl: string): Promise<string> {
  const response = await fetch(`${pageUrl}/pay`, { method: 'POST', redirect: 'manual' });
  return `${response.status} → ${response.headers.get('location')}`;
}

async function seats(slotIds: string[]): Promise<string> {
  const slots = await store.getSlots(slotIds);
  return slotIds
    .map((id) => {
      const slot = slots.get(id);
      return slot ? `${id}: ${slot.availableCount}/${slot.capacity} free, ${slot.availableCount - (slot.unheldCount ?? slot.availableCount)} held` : `${id}: ?`;
    })
    .join('; ');
}

async function main(): Promise<void> {
  try {
    await fetch(checkoutUrl, { method: 'POST', body: '{}' });
  } catch {
    throw new Error(`Nothing answers at ${checkoutUrl}: start the local stack first with \`npm start\` (in another terminal).`);
  }
  const { riceTerraces, baturSunrise } = DEMO_SLOTS;
  const run = randomUUID().slice(0, 8);

  console.log('1. A traveller checks out two experiences and pays once\n');
  const trip = await checkout(`user-${run}`, [
    { slotId: riceTerraces.slotId, guestCount: 2 },
    { slotId: baturSunrise.slotId, guestCount: 2 },
  ]);
  if (trip.status !== 201) throw new Error(`POST ${CHECKOUT_PATH} answered ${trip.status} ${JSON.stringify(trip.body)}`);
  const slotIds = [riceTerraces.slotId, baturSunrise.slotId];
  console.log(
    `   POST ${CHECKOUT_PATH} → 201 trip ${trip.body.tripId}, ${money(trip.body.amount ?? 0, trip.body.currency ?? 'eur')}, seats held until ${trip.body.expiresAt}`,
  );
  console.log(`   payment page ${trip.body.checkoutUrl}`);
  console.log(`   seats: ${await seats(slotIds)}`);
  console.log(`   "Pay" → ${await pay(trip.body.checkoutUrl as string)}`);
  const booked = await store.getTrip(trip.body.tripId as string);
  console.log(`   trip ${booked?.status}; seats: ${await seats(slotIds)}`);
  for (const booking of await store.getBookings(booked?.bookingReferences ?? [])) {
    console.log(
      `   booking ${booking.reference}  ${booking.experienceId}  ${booking.date} ${booking.time}  ${booking.guestCount} guests  ${money(booking.amount ?? 0, booking.currency ?? 'eur')}`,
    );
  }

  // A slot of this run's own with one seat, so the race is the same every time the demo runs.
  const lastSeat = await addSlot(
    { store, clock: systemClock, ids: randomIds },
    {
      slotId: `slot-demo-last-seat-${run}`,
      experienceId: 'exp-nusa-penida-snorkel',
      date: '2027-06-09',
      time: '08:00',
      capacity: 1,
      priceAmount: 8_000,
      currency: 'eur',
    },
    'demo',
  );
  if (!lastSeat.ok) throw new Error(`Could not add the demo's slot: ${lastSeat.message}`);
  const raced = lastSeat.slot.slotId;

  console.log(`\n2. Two travellers check out the last seat of ${raced} at the same moment\n`);
  const racers = await Promise.all(
    ['ana', 'budi'].map(async (name) => ({ name, answer: await checkout(`user-${name}-${run}`, [{ slotId: raced, guestCount: 1 }]) })),
  );
  for (const { name, answer } of racers) console.log(`   ${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
  const winner = racers.find(({ answer }) => answer.status === 201);
  console.log(`   seats: ${await seats([raced])}`);
  if (winner) {
    console.log(`   ${winner.name} pays: ${await pay(winner.answer.body.checkoutUrl as string)}`);
    console.log(`   trip ${(await store.getTrip(winner.answer.body.tripId as string))?.status}; seats: ${await seats([raced])}`);
  }
  console.log('\nThe race was lost before anyone paid: nobody was charged for a seat that was not there.');
  console.log('Run it again: every run books its own trip and races for a seat of its own.');
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => store.destroy());
