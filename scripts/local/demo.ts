// `npm run demo`: against the running local stack, through its front door: a trip checked out and paid, then two buyers racing for a last seat.
import { randomUUID } from 'node:crypto';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { canConnect } from '../dev-kit/dynamodb-local';
import { addSlot, checkConsistency, type NewSlot } from '../../lambdas/shared/domain/operations';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { CHECKOUT_PATH } from '../../lambdas/checkout/checkout-handler';
import { TRIP_PATH } from '../../lambdas/checkout/trip-handler';
import { money } from '../ops/printing';
import { DEMO_SLOTS } from './demo-data';
import { localSettings, readRunningStack } from './local-settings';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The variables given, else what a running `npm start` recorded, else the defaults: the same stack `npm start` printed.
const running = readRunningStack();
const settings = localSettings(process.env, running);
const checkoutUrl = `http://127.0.0.1:${settings.port}${CHECKOUT_PATH}`;
const store = new DynamoDbBookingStore({
  client: createDocumentClient({ endpoint: `http://127.0.0.1:${settings.dynamoPort}` }),
  tableName: settings.tableName,
});
/** Back from the payment page, the traveller lands on their trip: checkout fills in `{TRIP_ID}`. */
function urlsFor(userId: string): { successUrl: string; cancelUrl: string } {
  const back = `http://127.0.0.1:${settings.port}${TRIP_PATH.replace('{tripId}', '{TRIP_ID}')}?userId=${encodeURIComponent(userId)}`;
  return { successUrl: back, cancelUrl: back };
}

interface CheckoutAnswer {
  readonly status: number;
  readonly body: { tripId?: string; checkoutUrl?: string; amount?: number; currency?: string; expiresAt?: string; error?: string; slots?: unknown };
}

/** What a traveller's app does: POST /checkout with the items; the stack prices them and holds the seats. */
async function checkout(userId: string, items: { slotId: string; guestCount: number }[]): Promise<CheckoutAnswer> {
  const response = await fetch(checkoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ userId, items, ...urlsFor(userId) }),
  });
  return { status: response.status, body: (await response.json()) as CheckoutAnswer['body'] };
}

/** What the traveller does on the payment page: press "Pay" (the stand-in sends Stripe's signed event to the webhook). */
async function pay(pageUrl: string): Promise<{ line: string; location: string }> {
  const response = await fetch(`${pageUrl}/pay`, { method: 'POST', redirect: 'manual' });
  const location = response.headers.get('location') ?? '';
  return { line: `${response.status} → ${location}`, location };
}

interface TripAnswer {
  readonly status: string;
  readonly paid: number | null;
  readonly currency: string;
  readonly bookings: readonly { reference: string; experienceId: string; date: string; time: string; guestCount: number; amount: number | null }[];
}

/** Where the browser then goes: GET /trips/{tripId}, the page that shows the traveller their trip. */
async function land(location: string): Promise<{ status: number; trip: TripAnswer }> {
  const response = await fetch(location);
  return { status: response.status, trip: (await response.json()) as TripAnswer };
}

async function seats(slotIds: string[]): Promise<string> {
  const slots = await store.getSlots(slotIds);
  return slotIds
    .map((id) => {
      const slot = slots.get(id);
      if (!slot) return `${id}: ?`;
      // Free is what a buyer can still take: neither booked nor held by a checkout waiting for its payment.
      const free = slot.unheldCount ?? slot.availableCount;
      return `${id}: ${free}/${slot.capacity} free, ${slot.availableCount - free} held, ${slot.capacity - slot.availableCount} booked`;
    })
    .join('; ');
}

async function main(): Promise<void> {
  // A bare connection: a request would show up in the stack's log as a refused one.
  if (!(await canConnect(settings.port))) {
    throw new Error(`Nothing answers at ${checkoutUrl}: start the local stack first with \`npm start\` (in another terminal).`);
  }
  // Its payments are made on the stand-in's page: a stack that talks to Stripe (started with a key) has Stripe's pages,
  // which only a person in a browser can pay.
  if (running !== undefined && running.port === settings.port && running.stripeApiBase === undefined) {
    throw new Error(
      'The demo pays on the local Stripe stand-in’s page, and this stack talks to Stripe (started with STRIPE_API_KEY): ' +
        'restart it without STRIPE_API_KEY to run the demo, or open a checkoutUrl that POST /checkout answers in a browser and pay with a test card.',
    );
  }
  const run = randomUUID().slice(0, 8);
  // Slots of this run's own, shaped like the seeded ones: the demo never runs out of seats however often it runs.
  const [riceTerraces, baturSunrise] = await Promise.all([ownSlot(DEMO_SLOTS.riceTerraces, run), ownSlot(DEMO_SLOTS.baturSunrise, run)]);

  console.log('1. A traveller checks out two experiences and pays once\n');
  const trip = await checkout(`user-${run}`, [
    { slotId: riceTerraces, guestCount: 2 },
    { slotId: baturSunrise, guestCount: 2 },
  ]);
  if (trip.status !== 201) throw new Error(`POST ${CHECKOUT_PATH} answered ${trip.status} ${JSON.stringify(trip.body)}`);
  const slotIds = [riceTerraces, baturSunrise];
  console.log(
    `   POST ${CHECKOUT_PATH} → 201 trip ${trip.body.tripId}, ${money(trip.body.amount ?? 0, trip.body.currency ?? 'eur')}, seats held until ${trip.body.expiresAt}`,
  );
  console.log(`   payment page ${trip.body.checkoutUrl}`);
  console.log(`   seats: ${await seats(slotIds)}`);
  const paid = await pay(trip.body.checkoutUrl as string);
  console.log(`   "Pay" → ${paid.line}`);
  const landed = await land(paid.location);
  console.log(
    `   GET ${new URL(paid.location).pathname} → ${landed.status} trip ${landed.trip.status}, ${money(landed.trip.paid ?? 0, landed.trip.currency)} paid; seats: ${await seats(slotIds)}`,
  );
  for (const booking of landed.trip.bookings) {
    console.log(
      `   booking ${booking.reference}  ${booking.experienceId}  ${booking.date} ${booking.time}  ${booking.guestCount} guests  ${money(booking.amount ?? 0, landed.trip.currency)}`,
    );
  }
  const booked = await store.getTrip(trip.body.tripId as string);

  // A slot of this run's own with one seat, so the race is the same every time the demo runs.
  const raced = await ownSlot({ ...DEMO_SLOTS.nusaSnorkel, slotId: 'slot-demo-last-seat', capacity: 1 }, run);

  console.log(`\n2. Two travellers check out the last seat of ${raced} at the same moment\n`);
  const racers = await Promise.all(
    ['ana', 'budi'].map(async (name) => ({ name, answer: await checkout(`user-${name}-${run}`, [{ slotId: raced, guestCount: 1 }]) })),
  );
  for (const { name, answer } of racers) console.log(`   ${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
  const winner = racers.find(({ answer }) => answer.status === 201);
  console.log(`   seats: ${await seats([raced])}`);
  if (winner) {
    console.log(`   ${winner.name} pays: ${(await pay(winner.answer.body.checkoutUrl as string)).line}`);
    console.log(`   trip ${(await store.getTrip(winner.answer.body.tripId as string))?.status}; seats: ${await seats([raced])}`);
  }
  const loser = racers.find(({ answer }) => answer.status !== 201);
  const winnerTrip = winner && (await store.getTrip(winner.answer.body.tripId as string));
  const consistent = (await checkConsistency(store)).drifted.length === 0;
  console.log(`
Summary
  trip ${trip.body.tripId}: ${booked?.status}, ${booked?.bookingReferences.length ?? 0} bookings, ${money(trip.body.amount ?? 0, trip.body.currency ?? 'eur')} paid once
  last seat of ${raced}: ${winner ? `${winner.name} holds it, paid, trip ${winnerTrip?.status}` : 'nobody got it'}; ${loser ? `${loser.name} answered ${loser.answer.status} before paying anything` : 'nobody was refused'}
  npm run ops -- check: ${consistent ? 'every slot adds up' : 'a slot drifted (run it for the details)'}
Run it again: every run books on slots of its own.`);
  if (booked?.status !== 'booked' || winnerTrip?.status !== 'booked' || !loser || !consistent) throw new Error('The demo did not end as it should: see above.');
}

/** A slot like `shape`, with an id of this run's own; answers its id. */
async function ownSlot(shape: NewSlot & { slotId: string }, run: string): Promise<string> {
  const added = await addSlot({ store, clock: systemClock, ids: randomIds }, { ...shape, slotId: `${shape.slotId}-${run}` }, 'demo');
  if (!added.ok) throw new Error(`Could not add the demo's slot: ${added.message}`);
  return added.slot.slotId;
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => store.destroy());
