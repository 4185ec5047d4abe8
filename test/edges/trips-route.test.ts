// GET /trips/{tripId} pushed at its edges: who may read and fulfil a trip, races of the return with refunds, the sweeper,
// the webhook and a second return, Stripe failing or silent, polling, {TRIP_ID}, and the local API Gateway's routing.
import { request as httpRequest } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { CHECKOUT_PATH, createCheckoutHandler } from '../../lambdas/checkout/checkout-handler';
import { TRIP_PATH } from '../../lambdas/checkout/trip-handler';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import { confirmedGuests, unheldSeats, type Slot, type Trip } from '../../lambdas/shared/domain/model';
import type { CheckoutSessionLookup } from '../../lambdas/shared/domain/payment-gateway';
import { PROVIDER_CHECK_INTERVAL_MS } from '../../lambdas/shared/domain/show-trip';
import { commitHoldRelease, holdRelease } from '../../lambdas/shared/domain/release-holds';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { startCheckout } from '../../lambdas/shared/domain/start-checkout';
import { METRIC } from '../../lambdas/shared/observability';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { chargeRefunded, signedRequest } from '../../scripts/dev-kit/stripe-events';
import { serveRoutes } from '../../scripts/local/api-gateway-adapter';
import { isCheckoutEvent, startStripeFake, type CheckoutEventType, type FakeCheckoutEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { FAST_RETRIES, readSlot, seedSlot, testDocumentClient, testStore, uniqueId, testTableName } from '../support/store';
import { webhookHarness } from '../support/webhook';

const TRANSACT = 'TransactWriteItemsCommand';

let fake: StripeFake;
// The return's store: its client holds and faults the writes the return makes.
const client = testDocumentClient();
const requests = injectFaults(client);
const store = testStore(client);
// Everyone else (checkout, the sweeper, a refund seen first): a client of its own, never held nor faulted.
const other = testStore();

beforeAll(async () => {
  // No webhook target: a payment on the fake's page is only recorded, as if Stripe's delivery were late.
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const silent = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });

/** Now plus `ms`: a return that far after another asked Stripe about the same trip. */
const later = (ms: number): Clock => ({ now: () => new Date(Date.now() + ms) });

function tripHandler(options: { clock?: Clock; sessions?: CheckoutSessionLookup; metrics?: Metrics; logger?: Logger } = {}) {
  return createLocalTripHandler({
    store,
    table: store.tableName,
    stripeClient: () => fake.client(),
    logger: options.logger ?? silent(),
    metrics: options.metrics ?? new Metrics({ namespace: 'test', serviceName: 'test' }),
    ...(options.clock && { clock: options.clock }),
    ...(options.sessions && { sessions: options.sessions }),
  });
}

const checkoutHandler = createCheckoutHandler({
  store: other,
  checkout: new StripeCheckoutSessions(async () => fake.client()),
  clock: systemClock,
  ids: randomIds,
  holdMinutes: 30,
  logger: silent(),
});

interface TripBody {
  tripId?: string;
  status?: string;
  statusReason?: string | null;
  paid?: number | null;
  refunded?: number | null;
  bookings?: { reference: string; guestCount: number; status: string }[];
  error?: string;
  field?: string;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: TripBody;
}

/** Who the caller is, as API Gateway hands it over: a query (IAM callers), a JWT's claims, or both. */
interface Caller {
  readonly query?: string;
  readonly claims?: Record<string, string>;
}

const asUser = (userId: string): Caller => ({ query: new URLSearchParams({ userId }).toString() });

/** The route with its metrics and error log watched. */
function observedTripHandler() {
  const metrics = new Metrics({ namespace: 'test', serviceName: 'test' });
  const counted = vi.spyOn(metrics, 'addMetric');
  const logger = silent();
  const logged = vi.spyOn(logger, 'error');
  return { handler: tripHandler({ metrics, logger }), counted, logged };
}

async function getTrip(tripId: string, caller: Caller, handler = tripHandler()): Promise<Answer> {
  const event = apiGatewayEvent({
    method: 'GET',
    path: `/trips/${encodeURIComponent(tripId)}`,
    routeKey: `GET ${TRIP_PATH}`,
    pathParameters: { tripId },
    ...(caller.query !== undefined && { rawQueryString: caller.query }),
  });
  const withToken =
    caller.claims === undefined ? event : { ...event, requestContext: { ...event.requestContext, authorizer: { jwt: { claims: caller.claims, scopes: [] } } } };
  const response = await handler(withToken);
  return { status: response.statusCode ?? 0, headers: response.headers ?? {}, body: JSON.parse(response.body ?? '{}') as TripBody };
}

interface HeldTrip {
  readonly tripId: string;
  readonly userId: string;
  readonly checkoutUrl: string;
  readonly sessionId: string;
  readonly amount: number;
}

async function checkout(slot: Slot, guests: number, urls: { successUrl?: string; cancelUrl?: string } = {}): Promise<HeldTrip> {
  const userId = uniqueId('user');
  const response = await checkoutHandler(
    apiGatewayEvent({
      path: CHECKOUT_PATH,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        userId,
        items: [{ slotId: slot.slotId, guestCount: guests }],
        successUrl: urls.successUrl ?? 'https://example.com/trips/{TRIP_ID}',
        cancelUrl: urls.cancelUrl ?? 'https://example.com/cart',
      }),
    }),
  );
  expect(response.statusCode).toBe(201);
  const body = JSON.parse(response.body ?? '{}') as { tripId: string; checkoutUrl: string; amount: number };
  const trip = await other.getTrip(body.tripId);
  return { ...body, userId, sessionId: trip?.checkoutSessionId as string };
}

/** A button of the fake's payment page; with no webhook set, the event it causes waits in `fake.events`. */
async function press(trip: HeldTrip, action: 'pay' | 'pay-later' | 'settle' | 'expire'): Promise<void> {
  const answer = await fetch(`${trip.checkoutUrl}/${action}`, { method: 'POST', redirect: 'manual' });
  expect(answer.status).toBe(303);
}

function eventOf(trip: HeldTrip, type: CheckoutEventType): FakeCheckoutEvent {
  const event = fake.events.filter(isCheckoutEvent).findLast((candidate) => candidate.type === type && candidate.data.object.id === trip.sessionId);
  if (!event) expect.fail(`no ${type} for ${trip.sessionId}`);
  return event;
}

const paymentOf = (trip: HeldTrip): string => fake.session(trip.sessionId)?.paymentIntent as string;

const retrievals = (sessionId: string): number =>
  fake.calls.filter((call) => call.method === 'GET' && call.path === `/v1/checkout/sessions/${sessionId}`).length;

/** The seat invariants of a slot, read back (capacity = available + booked; available − held = unheld ≥ 0), and its counters. */
async function seatsOf(slot: Slot): Promise<{ available: number; unheld: number; booked: number; held: number }> {
  const now = (await readSlot(store, slot.slotId)) as Slot;
  const booked = confirmedGuests(await store.listBookingsOfSlot(slot.slotId));
  const held = (await store.listActiveHolds())
    .flatMap((hold) => hold.seats)
    .filter((seat) => seat.slotId === slot.slotId)
    .reduce((sum, seat) => sum + seat.guests, 0);
  expect(now.availableCount + booked, `slot ${slot.slotId}: available + booked = capacity`).toBe(now.capacity);
  expect(unheldSeats(now), `slot ${slot.slotId}: available − held = unheld`).toBe(now.availableCount - held);
  expect(unheldSeats(now)).toBeGreaterThanOrEqual(0);
  return { available: now.availableCount, unheld: unheldSeats(now), booked, held };
}

/** What the hold sweeper does for one expired hold, in its own transaction. */
async function sweep(tripId: string): Promise<void> {
  const hold = await other.getHold(tripId);
  if (!hold) expect.fail(`trip ${tripId} has no hold`);
  const { audit, ...release } = holdRelease({ store: other, clock: systemClock, ids: randomIds }, hold, 'system', 'expired');
  expect((await commitHoldRelease(other, { at: new Date().toISOString(), ...release, audits: [audit] })).committed).toBe(true);
}

/** Another traveller's checkout of the same seats: a hold of its own, from the unheld seats. */
async function anotherCheckout(slot: Slot, guests: number): Promise<void> {
  const started = await startCheckout(
    { store: other, clock: systemClock, ids: randomIds, checkout: new StripeCheckoutSessions(async () => fake.client()), holdMinutes: 30 },
    { userId: uniqueId('user'), items: [{ slotId: slot.slotId, guestCount: guests }], successUrl: 'https://example.com/d', cancelUrl: 'https://example.com/c' },
  );
  expect(started).toMatchObject({ ok: true });
}

/** A paid trip whose seats another checkout holds now: its hold was swept, then the seats were taken. */
async function paidButSoldOut(): Promise<{ slot: Slot; trip: HeldTrip }> {
  const slot = await seedSlot(other, { capacity: 2 });
  const trip = await checkout(slot, 2);
  await sweep(trip.tripId);
  await anotherCheckout(slot, 2);
  await press(trip, 'pay');
  return { slot, trip };
}

/** Changes a stored item past every guard (a field lost, a count that is no longer a number), as no use case does. */
async function rewrite(key: { pk: string; sk: string }, update: string, values?: Record<string, unknown>): Promise<void> {
  await testDocumentClient().send(
    new UpdateCommand({ TableName: testTableName(), Key: key, UpdateExpression: update, ...(values && { ExpressionAttributeValues: values }) }),
  );
}

describe('who may read and fulfil a trip', () => {
  it('refuses a JWT caller whose token carries no subject instead of taking the user from the query', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const victim = await checkout(slot, 1);
    await press(victim, 'pay');

    // A token the authorizer accepted (issuer, audience, expiry) that names no `sub`, as machine tokens of some issuers do.
    const answer = await getTrip(victim.tripId, {
      claims: { iss: 'https://issuer.example', aud: 'pulau', client_id: 'some-machine' },
      query: new URLSearchParams({ userId: victim.userId }).toString(),
    });

    expect(answer.status).toBe(403);
    expect(answer.body.tripId).toBeUndefined();
    expect(retrievals(victim.sessionId)).toBe(0);
    expect((await store.getTrip(victim.tripId))?.status).toBe('pending_payment');
  });

  it('answers another user’s trip that no longer reads exactly like a missing one (404), not 500', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const victim = await checkout(slot, 1);
    // Its creation time lost: every read of it raises StoredDataError.
    await rewrite(keys.trip(victim.tripId), 'REMOVE createdAt');
    const someoneElse = asUser(uniqueId('someone-else'));
    const missing = await getTrip(uniqueId('trip'), someoneElse);

    const theirs = await getTrip(victim.tripId, someoneElse);

    expect(theirs).toEqual(missing);
  });

  it('answers its owner the same 404 for their trip that no longer reads, counts it in UnreadableTrips and logs which trip', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const owner = await checkout(slot, 1);
    await press(owner, 'pay');
    await rewrite(keys.trip(owner.tripId), 'REMOVE createdAt');
    const { handler, counted, logged } = observedTripHandler();
    const missing = await getTrip(uniqueId('trip'), asUser(owner.userId));

    const theirs = await getTrip(owner.tripId, asUser(owner.userId), handler);

    expect(theirs).toEqual(missing);
    expect(counted.mock.calls.filter(([name]) => name === METRIC.unreadableTrips)).toHaveLength(1);
    expect(logged).toHaveBeenCalledWith(
      expect.stringMatching(/no longer reads/),
      expect.objectContaining({ tripId: owner.tripId, problem: expect.stringMatching(/createdAt/) }),
    );
    // Paid, but nothing is done with a trip that cannot be read: Stripe is not asked.
    expect(retrievals(owner.sessionId)).toBe(0);
  });

  it.each([
    { entity: 'payment', spoil: (trip: Trip) => rewrite(keys.paymentRecord(trip.paymentId as string), 'SET amountPaid = :bad', { ':bad': 'ninety' }) },
    { entity: 'booking', spoil: (trip: Trip) => rewrite(keys.booking(trip.bookingReferences[0] as string), 'REMOVE createdAt') },
  ])('answers its owner the same 404 for their booked trip whose $entity no longer reads, counted and logged, never a 500', async ({ entity, spoil }) => {
    const slot = await seedSlot(other, { capacity: 3 });
    const owner = await checkout(slot, 1);
    await press(owner, 'pay');
    expect((await getTrip(owner.tripId, asUser(owner.userId))).body.status).toBe('booked');
    await spoil((await store.getTrip(owner.tripId)) as Trip);
    const { handler, counted, logged } = observedTripHandler();
    const missing = await getTrip(uniqueId('trip'), asUser(owner.userId));

    const theirs = await getTrip(owner.tripId, asUser(owner.userId), handler);

    expect(theirs).toEqual(missing);
    expect(counted.mock.calls.filter(([name]) => name === METRIC.unreadableTrips)).toHaveLength(1);
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/no longer reads/), expect.objectContaining({ tripId: owner.tripId, entity }));
  });

  it('answers 503 (Retry-After), not 500, when DynamoDB leaves the bookings unprocessed in every round, and the trip once it answers', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const owner = await checkout(slot, 1);
    await press(owner, 'pay');
    expect((await getTrip(owner.tripId, asUser(owner.userId))).body.status).toBe('booked');
    // Left out twice, then answered: asked again after a wait, and shown.
    requests.queue('BatchGetItemCommand', 'unprocessed', 'unprocessed');
    expect(await getTrip(owner.tripId, asUser(owner.userId))).toMatchObject({
      status: 200,
      body: { bookings: [expect.objectContaining({ status: 'confirmed' })] },
    });
    requests.queue('BatchGetItemCommand', ...Array.from({ length: FAST_RETRIES.maxAttempts }, () => 'unprocessed' as const));

    const busy = await getTrip(owner.tripId, asUser(owner.userId));
    const after = await getTrip(owner.tripId, asUser(owner.userId));

    expect(busy).toMatchObject({ status: 503, headers: { 'retry-after': '2', 'cache-control': 'no-store' }, body: { error: 'STORE_UNAVAILABLE' } });
    expect(after).toMatchObject({ status: 200, body: { status: 'booked', bookings: [expect.objectContaining({ status: 'confirmed' })] } });
  });

  it.each<{ name: string; tripId: (id: string) => string; caller: (userId: string) => Caller; status: number; field?: string }>([
    { name: 'a path parameter that decoded %2F.. (trip/..)', tripId: (id) => `${id}/..`, caller: asUser, status: 400, field: 'tripId' },
    { name: 'a path parameter carrying the key delimiter', tripId: (id) => `${id}#TRIP`, caller: asUser, status: 400, field: 'tripId' },
    { name: 'the trip id in capitals', tripId: (id) => id.toUpperCase(), caller: asUser, status: 404 },
    { name: 'the trip id with a space in front', tripId: (id) => ` ${id}`, caller: asUser, status: 400, field: 'tripId' },
    { name: 'the user in capitals', tripId: (id) => id, caller: (userId) => asUser(userId.toUpperCase()), status: 404 },
    { name: 'the user with a trailing space', tripId: (id) => id, caller: (userId) => asUser(`${userId} `), status: 400, field: 'userId' },
    {
      name: 'the user named twice (joined with a comma)',
      tripId: (id) => id,
      caller: (userId) => ({ query: `userId=${userId}&userId=${userId}` }),
      status: 400,
      field: 'userId',
    },
    { name: 'an empty user', tripId: (id) => id, caller: () => ({ query: 'userId=' }), status: 400, field: 'userId' },
    { name: 'a token whose subject is the user in capitals', tripId: (id) => id, caller: (userId) => ({ claims: { sub: userId.toUpperCase() } }), status: 404 },
    {
      name: 'a token of another user naming the owner in the query',
      tripId: (id) => id,
      caller: (userId) => ({ claims: { sub: uniqueId('other') }, query: new URLSearchParams({ userId }).toString() }),
      status: 403,
    },
  ])('answers $status to $name, asks Stripe nothing and leaves the paid trip as it is', async ({ tripId, caller, status, field }) => {
    const slot = await seedSlot(other, { capacity: 3 });
    const trip = await checkout(slot, 1);
    await press(trip, 'pay');
    const before = await store.getTrip(trip.tripId);
    const missing = await getTrip(uniqueId('trip'), asUser(trip.userId));

    const answer = await getTrip(tripId(trip.tripId), caller(trip.userId));

    expect(answer.status).toBe(status);
    if (field !== undefined) expect(answer.body).toMatchObject({ error: 'VALIDATION_FAILED', field });
    // Another spelling of the trip or its user is answered word for word as a trip that does not exist.
    if (status === 404) expect(answer).toEqual(missing);
    expect(retrievals(trip.sessionId)).toBe(0);
    expect(await store.getTrip(trip.tripId)).toEqual(before);
  });
});

describe('the return racing what else moves the payment, forced at the SDK boundary', () => {
  it('books nothing and refunds nothing when a full refund is recorded between the return’s read and its write', async () => {
    const slot = await seedSlot(other, { capacity: 4 });
    const trip = await checkout(slot, 2);
    await press(trip, 'pay');
    const paymentId = paymentOf(trip);
    const held = requests.hold(TRANSACT);

    const returning = getTrip(trip.tripId, asUser(trip.userId));
    await held.reached;
    const refundFirst = await webhookHarness(fake, { store: other }).send(signedRequest(chargeRefunded(paymentId, trip.amount, { tripId: trip.tripId })));
    held.release();
    const returned = await returning;

    expect(refundFirst.body).toMatchObject({ outcome: 'refund_recorded' });
    expect(returned).toMatchObject({ status: 200, body: { status: 'refunded', statusReason: 'refunded_before_confirmation', bookings: [] } });
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await seatsOf(slot)).toEqual({ available: 4, unheld: 4, booked: 0, held: 0 });
    // The webhook's late delivery of the same payment books nothing either.
    const late = await webhookHarness(fake, { store: other }).send(signedRequest(eventOf(trip, 'checkout.session.completed')));
    expect(late.body).toMatchObject({ outcome: 'already_refunded' });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
    expect(fake.refundsOf(paymentId)).toEqual([]);
  });

  it('books once, from the unheld seats, when the sweeper releases the hold between the return’s read and its write', async () => {
    const slot = await seedSlot(other, { capacity: 4 });
    const trip = await checkout(slot, 2);
    await press(trip, 'pay');
    const held = requests.hold(TRANSACT);

    const returning = getTrip(trip.tripId, asUser(trip.userId));
    await held.reached;
    await sweep(trip.tripId);
    held.release();
    const returned = await returning;

    expect(returned).toMatchObject({ status: 200, body: { status: 'booked' } });
    expect(await store.getHold(trip.tripId)).toMatchObject({ status: 'released' });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 2, held: 0 });
    const late = await webhookHarness(fake, { store: other }).send(signedRequest(eventOf(trip, 'checkout.session.completed')));
    expect(late.body).toMatchObject({ outcome: 'duplicate', references: returned.body.bookings?.map((booking) => booking.reference) });
  });

  it('refunds once when another checkout holds the seats the sweeper released between the return’s two attempts', async () => {
    const slot = await seedSlot(other, { capacity: 2 });
    const trip = await checkout(slot, 2);
    await press(trip, 'pay');
    await sweep(trip.tripId);
    const heldAttempt = requests.hold(TRANSACT);
    const unheldAttempt = requests.hold(TRANSACT);

    const returning = getTrip(trip.tripId, asUser(trip.userId));
    await heldAttempt.reached;
    heldAttempt.release();
    await unheldAttempt.reached;
    await anotherCheckout(slot, 2);
    unheldAttempt.release();
    const returned = await returning;

    expect(returned).toMatchObject({ status: 200, body: { status: 'refunded', statusReason: 'INSUFFICIENT_AVAILABILITY', bookings: [] } });
    expect(fake.refundsOf(paymentOf(trip)).map((refund) => refund.amount)).toEqual([trip.amount]);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 0, booked: 0, held: 2 });
  });

  it.each([
    // Within the interval a reload answers the stored trip without asking Stripe (so it never meets the first at a write);
    // past it, while the first return is still held before its write, it asks and races the first.
    {
      name: 'a second return (the page reloaded once the interval had passed)',
      second: (trip: HeldTrip) =>
        getTrip(trip.tripId, asUser(trip.userId), tripHandler({ clock: later(PROVIDER_CHECK_INTERVAL_MS) })).then((answer) => answer.status),
    },
    {
      name: 'the webhook',
      second: (trip: HeldTrip) =>
        webhookHarness(fake, { store })
          .send(signedRequest(eventOf(trip, 'checkout.session.completed')))
          .then((answer) => answer.status),
    },
  ])('refunds a sold-out trip once when the return and $name both reach their first write before either commits', async ({ second }) => {
    const { slot, trip } = await paidButSoldOut();
    const first = requests.hold(TRANSACT);
    const theirs = requests.hold(TRANSACT);

    const returning = getTrip(trip.tripId, asUser(trip.userId));
    await first.reached;
    const secondParty = second(trip);
    await theirs.reached;
    first.release();
    theirs.release();
    const [returned, secondStatus] = await Promise.all([returning, secondParty]);

    expect(returned.status).toBe(200);
    expect(secondStatus).toBe(200);
    expect(fake.refundsOf(paymentOf(trip)).map((refund) => refund.amount)).toEqual([trip.amount]);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refunded', statusReason: 'INSUFFICIENT_AVAILABILITY' });
    expect(await store.getPaymentRecord(paymentOf(trip))).toMatchObject({ status: 'refunded', amountPaid: trip.amount, amountRefunded: trip.amount });
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 0, booked: 0, held: 2 });
  });
});

describe('Stripe failing or silent on the return', () => {
  it('answers the stored trip (200) when Stripe never answers the lookup, after its one try, and books on a later return', async () => {
    const silentStripe = await listenWithoutAnswering();
    const slot = await seedSlot(other, { capacity: 3 });
    const trip = await checkout(slot, 1);
    await press(trip, 'pay');
    const sessions = new StripeCheckoutSessions(async () =>
      createStripeClient({ apiKey: 'sk_test_silent', apiBase: `http://127.0.0.1:${silentStripe.port}`, maxNetworkRetries: 0 }),
    );

    const unanswered = await getTrip(trip.tripId, asUser(trip.userId), tripHandler({ sessions }));
    const withinTheInterval = await getTrip(trip.tripId, asUser(trip.userId));
    // A check that got no answer still counts: a Stripe that is slow (or asks us to slow down) is asked less, not more.
    const pastTheInterval = await getTrip(trip.tripId, asUser(trip.userId), tripHandler({ clock: later(PROVIDER_CHECK_INTERVAL_MS) }));

    expect(unanswered).toMatchObject({ status: 200, body: { status: 'pending_payment', bookings: [] } });
    expect(silentStripe.requests()).toBe(1);
    expect(withinTheInterval).toMatchObject({ status: 200, body: { status: 'pending_payment', bookings: [] } });
    expect(retrievals(trip.sessionId)).toBe(1);
    expect(pastTheInterval).toMatchObject({ status: 200, body: { status: 'booked' } });
  });

  it('answers refund_pending (200) when Stripe fails the refund after the return set the trip aside; the webhook then refunds it once', async () => {
    const { slot, trip } = await paidButSoldOut();
    fake.failNext(1, 500);

    const returned = await getTrip(trip.tripId, asUser(trip.userId));
    const reloaded = await getTrip(trip.tripId, asUser(trip.userId));

    expect(returned).toMatchObject({
      status: 200,
      body: { status: 'refund_pending', statusReason: 'INSUFFICIENT_AVAILABILITY', paid: trip.amount, refunded: 0 },
    });
    // A reload is answered from the table: the trip no longer waits, so Stripe is not asked again and nothing loops.
    expect(reloaded.body).toEqual(returned.body);
    expect(retrievals(trip.sessionId)).toBe(1);
    expect(fake.refundsOf(paymentOf(trip))).toEqual([]);

    const late = await webhookHarness(fake, { store: other }).send(signedRequest(eventOf(trip, 'checkout.session.completed')));

    expect(late.body).toMatchObject({ outcome: 'refunded' });
    expect(fake.refundsOf(paymentOf(trip)).map((refund) => refund.amount)).toEqual([trip.amount]);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refunded' });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 0, booked: 0, held: 2 });
  });
});

describe('a delayed payment that arrives later', () => {
  it('books on the return after the payment arrived, although an earlier return saw it unpaid; the webhook’s events then change nothing', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const trip = await checkout(slot, 1);
    await press(trip, 'pay-later');
    const webhook = webhookHarness(fake, { store: other });

    const unpaidReturn = await getTrip(trip.tripId, asUser(trip.userId));
    const unpaid = await webhook.send(signedRequest(eventOf(trip, 'checkout.session.completed')));
    await press(trip, 'settle');
    const paidReturn = await getTrip(trip.tripId, asUser(trip.userId));
    const succeeded = await webhook.send(signedRequest(eventOf(trip, 'checkout.session.async_payment_succeeded')));
    const unpaidAgain = await webhook.send(signedRequest({ ...eventOf(trip, 'checkout.session.completed'), id: uniqueId('evt') }));

    expect(unpaidReturn.body).toMatchObject({ status: 'pending_payment' });
    expect(unpaid.body).toMatchObject({ outcome: 'awaiting_payment' });
    expect(paidReturn).toMatchObject({ status: 200, body: { status: 'booked', paid: trip.amount } });
    const references = paidReturn.body.bookings?.map((booking) => booking.reference);
    expect(succeeded.body).toMatchObject({ outcome: 'duplicate', references });
    expect(unpaidAgain.body).toMatchObject({ outcome: 'no_change' });
    expect((await store.listBookingsOfTrip(trip.tripId)).map((booking) => booking.reference)).toEqual(references);
    expect(fake.refundsOf(paymentOf(trip))).toEqual([]);
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 2, booked: 1, held: 0 });
  });
});

describe('a traveller’s page polling a waiting trip', () => {
  it('asks Stripe once, not once per poll, while the page polls a trip whose session is still open within the same second', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const trip = await checkout(slot, 1);
    const instant = new Date();
    const handler = tripHandler({ clock: { now: () => instant } });

    for (let poll = 0; poll < 10; poll++) expect((await getTrip(trip.tripId, asUser(trip.userId), handler)).status).toBe(200);

    // Every poll of a waiting trip is a request on the account's Stripe rate limit, which checkout and refunds share.
    expect(retrievals(trip.sessionId)).toBe(1);
  });

  it('asks Stripe once when several polls of the same waiting trip arrive together, on as many instances', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const trip = await checkout(slot, 1);
    await press(trip, 'pay');

    const answers = await Promise.all(Array.from({ length: 6 }, () => getTrip(trip.tripId, asUser(trip.userId), tripHandler())));

    expect(retrievals(trip.sessionId)).toBe(1);
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(200));
    // The one that asked booked it; the others answered the trip as they had read it, waiting or booked.
    expect(answers.filter((answer) => answer.body.status === 'booked').length).toBeGreaterThanOrEqual(1);
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
  });

  it('asks Stripe again once the interval has passed since the last ask, not before, and books what was paid meanwhile', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const trip = await checkout(slot, 1);
    const start = Date.now();
    const at = (ms: number) => tripHandler({ clock: { now: () => new Date(start + ms) } });

    const open = await getTrip(trip.tripId, asUser(trip.userId), at(0));
    await press(trip, 'pay');
    const justBefore = await getTrip(trip.tripId, asUser(trip.userId), at(PROVIDER_CHECK_INTERVAL_MS - 1));
    const once = retrievals(trip.sessionId);
    const past = await getTrip(trip.tripId, asUser(trip.userId), at(PROVIDER_CHECK_INTERVAL_MS));

    expect(open.body).toMatchObject({ status: 'pending_payment' });
    expect(justBefore.body).toMatchObject({ status: 'pending_payment' });
    expect(once).toBe(1);
    expect(past).toMatchObject({ status: 200, body: { status: 'booked' } });
    expect(retrievals(trip.sessionId)).toBe(2);
  });
});

describe('a paid trip whose payment a person must look at', () => {
  it('counts the payment in PaymentsNeedingAttention once, however often the traveller’s page asks for the trip', async () => {
    const slot = await seedSlot(other, { capacity: 3 });
    const trip = await checkout(slot, 1);
    await press(trip, 'pay');
    // The slot's count is no longer a number: the confirmation cannot read it, and the payment goes in front of a person.
    await rewrite(keys.slot(slot.slotId), 'SET availableCount = :unreadable', { ':unreadable': 'three' });
    const metrics = new Metrics({ namespace: 'test', serviceName: 'test' });
    const counted = vi.spyOn(metrics, 'addMetric');
    const handler = tripHandler({ metrics });

    const polls = [];
    for (let poll = 0; poll < 3; poll++) polls.push(await getTrip(trip.tripId, asUser(trip.userId), handler));

    expect(polls.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(await store.getPaymentRecord(paymentOf(trip))).toMatchObject({ status: 'needs_attention', reason: 'stored_data_unusable' });
    expect(counted.mock.calls.filter(([name]) => name === METRIC.paymentsNeedingAttention)).toHaveLength(1);
  });
});

describe('{TRIP_ID} in the URLs Stripe sends the traveller back to', () => {
  it('fills every {TRIP_ID} of both URLs with the trip id, leaves {CHECKOUT_SESSION_ID} to Stripe, and the cancel URL lands on a trip the return leaves alone', async () => {
    const slot = await seedSlot(other, { capacity: 2 });
    const trip = await checkout(slot, 1, {
      successUrl: 'https://shop.example/t/{TRIP_ID}/done?again={TRIP_ID}&session={CHECKOUT_SESSION_ID}',
      cancelUrl: 'https://shop.example/t/{TRIP_ID}/cancelled',
    });

    const session = fake.session(trip.sessionId);
    expect(session?.successUrl).toBe(`https://shop.example/t/${trip.tripId}/done?again=${trip.tripId}&session={CHECKOUT_SESSION_ID}`);
    expect(session?.cancelUrl).toBe(`https://shop.example/t/${trip.tripId}/cancelled`);
    await press(trip, 'expire');
    const answer = await getTrip(trip.tripId, asUser(trip.userId));

    expect(answer).toMatchObject({ status: 200, body: { status: 'pending_payment', bookings: [] } });
    expect(await seatsOf(slot)).toEqual({ available: 2, unheld: 1, booked: 0, held: 1 });
  });

  it('fills {TRIP_ID} percent-encoded too (%7BTRIP_ID%7D, in either case), as a shop building its URLs with the URL API sends it', async () => {
    const slot = await seedSlot(other, { capacity: 2 });
    const built = new URL('https://shop.example/trips/{TRIP_ID}');
    built.searchParams.set('from', '{TRIP_ID}');
    expect(built.href).toBe('https://shop.example/trips/%7BTRIP_ID%7D?from=%7BTRIP_ID%7D');

    const trip = await checkout(slot, 1, { successUrl: built.href, cancelUrl: 'https://shop.example/cart/%7btrip_id%7d/%7bTRIP_ID%7d' });

    const session = fake.session(trip.sessionId);
    expect(session?.successUrl).toBe(`https://shop.example/trips/${trip.tripId}?from=${trip.tripId}`);
    // Only the placeholder's own name is filled: `trip_id` in lower case is the shop's own text.
    expect(session?.cancelUrl).toBe(`https://shop.example/cart/%7btrip_id%7d/${trip.tripId}`);
  });
});

describe('the local API Gateway’s templated route', () => {
  it.each([
    // Four segments ('', 'evil.example', 'trips', id): the route has three. A URL parser reads `//evil.example` as a host.
    ['an empty first segment', (id: string) => `//evil.example/trips/${id}`],
    // Two segments ('', 'trips\<id>'): a URL parser turns the backslash into a slash.
    ['a backslash for a slash', (id: string) => `/trips\\${id}`],
  ])('answers 404, as to any other path no route has, to a path with %s', async (_name, path) => {
    const slot = await seedSlot(other, { capacity: 2 });
    const trip = await checkout(slot, 1);
    const base = await serveTrips();

    const answer = await rawGet(base, `${path(trip.tripId)}?userId=${trip.userId}`);

    expect(answer.status).toBe(404);
    expect(answer.body).not.toContain(trip.tripId);
  });

  it.each([
    ['a trailing slash', (id: string) => `/trips/${id}/`, 404],
    ['another case of the path', (id: string) => `/TRIPS/${id}`, 404],
    ['an encoded slash in the parameter', (id: string) => `/trips/${id}%2F..`, 400],
    ['an encoded key delimiter in the parameter', (id: string) => `/trips/${id}%23TRIP`, 400],
  ])('answers %s without reaching the trip', async (_name, path, status) => {
    const slot = await seedSlot(other, { capacity: 2 });
    const trip = await checkout(slot, 1);
    const base = await serveTrips();

    const answer = await rawGet(base, `${path(trip.tripId)}?userId=${trip.userId}`);

    expect(answer.status).toBe(status);
    expect(answer.body).not.toContain(trip.tripId);
  });
});

/** GET /trips/{tripId} behind the local API Gateway adapter, on a port of its own, closed when the test ends. */
async function serveTrips(): Promise<string> {
  const handler = tripHandler();
  const server = serveRoutes({ [`GET ${TRIP_PATH}`]: handler });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A request whose target is sent exactly as written (fetch would normalise it first). */
function rawGet(base: string, target: string): Promise<{ status: number; body: string }> {
  const [host, port] = base.split(':');
  return new Promise((resolve, reject) => {
    const sent = httpRequest({ host, port: Number(port), path: target, method: 'GET', agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    sent.on('error', reject);
    sent.end();
  });
}

/** A server that takes connections and never answers: Stripe hanging. Closed when the test ends. */
async function listenWithoutAnswering(): Promise<{ port: number; requests: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Requests, not connections: a client may open a connection it never sends on.
    socket.once('data', () => {
      count++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, requests: () => count };
}
