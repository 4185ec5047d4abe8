// GET /trips/{tripId} through the real handlers, DynamoDB Local and the Stripe stand-in: a traveller's own trip, booked on
// their return when the webhook is behind, exactly once whoever comes first.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKOUT_PATH, createCheckoutHandler } from '../../lambdas/checkout/checkout-handler';
import { TRIP_PATH } from '../../lambdas/checkout/trip-handler';
import type { AtomicWrite, AtomicWriteResult } from '../../lambdas/shared/domain/booking-store';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import { attachCheckoutSession } from '../../lambdas/shared/domain/create-trip';
import { unheldSeats, type Slot } from '../../lambdas/shared/domain/model';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import type { CheckoutSessionLookup } from '../../lambdas/shared/domain/payment-gateway';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { PROVIDER_CHECK_INTERVAL_MS } from '../../lambdas/shared/domain/show-trip';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type FakeEvent, type StripeFake, type TransientFailure } from '../../scripts/local/stripe-fake';
import { LOCAL_INDEXES, readSlot, seedSlot, tableOf, testStore, uniqueId, type TestStore } from '../support/store';
import { webhookHarness } from '../support/webhook';

// No webhook is set: a payment on the stand-in's page is only recorded, as if Stripe's delivery were late. Each test
// delivers it when it wants to.
let fake: StripeFake;
const store = testStore();

beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

const silent = () => new Logger({ serviceName: 'test', logLevel: process.env.TRIPS_LOG === '1' ? 'DEBUG' : 'SILENT' });

const checkoutHandler = createCheckoutHandler({
  store,
  checkout: new StripeCheckoutSessions(async () => fake.client()),
  clock: systemClock,
  ids: randomIds,
  holdMinutes: 30,
  logger: silent(),
});

function tripHandler(options: { store?: TestStore; sessions?: CheckoutSessionLookup; clock?: Clock } = {}) {
  return createLocalTripHandler({
    store: options.store ?? store,
    table: tableOf(options.store ?? store),
    stripeClient: () => fake.client(),
    logger: silent(),
    metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
    ...(options.sessions && { sessions: options.sessions }),
    ...(options.clock && { clock: options.clock }),
  });
}

interface TripBody {
  tripId?: string;
  status?: string;
  statusReason?: string | null;
  amount?: number;
  paid?: number | null;
  refunded?: number | null;
  holdExpiresAt?: string | null;
  bookings?: { reference: string; slotId: string; amount: number | null; guestCount: number; status: string }[];
  error?: string;
  field?: string;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: TripBody;
}

/** GET /trips/{tripId} as API Gateway hands it over: `userId` in the query (IAM callers), or a JWT's subject. */
async function getTrip(tripId: string, as: { userId?: string; sub?: string } = {}, handler = tripHandler()): Promise<Answer> {
  const event = apiGatewayEvent({
    method: 'GET',
    path: `/trips/${encodeURIComponent(tripId)}`,
    routeKey: `GET ${TRIP_PATH}`,
    pathParameters: { tripId },
    ...(as.userId !== undefined && { rawQueryString: new URLSearchParams({ userId: as.userId }).toString() }),
  });
  const withToken =
    as.sub === undefined ? event : { ...event, requestContext: { ...event.requestContext, authorizer: { jwt: { claims: { sub: as.sub }, scopes: [] } } } };
  const response = await handler(withToken);
  return { status: response.statusCode ?? 0, headers: response.headers ?? {}, body: JSON.parse(response.body ?? '{}') as TripBody };
}

interface HeldTrip {
  readonly tripId: string;
  readonly userId: string;
  readonly checkoutUrl: string;
  readonly expiresAt: string;
  readonly sessionId: string;
}

async function checkout(slot: Slot, guests: number, userId = uniqueId('user')): Promise<HeldTrip> {
  const response = await checkoutHandler(
    apiGatewayEvent({
      path: CHECKOUT_PATH,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        userId,
        items: [{ slotId: slot.slotId, guestCount: guests }],
        successUrl: 'https://example.com/trips/{TRIP_ID}?session={CHECKOUT_SESSION_ID}',
        cancelUrl: 'https://example.com/trips/{TRIP_ID}',
      }),
    }),
  );
  const body = JSON.parse(response.body ?? '{}') as { tripId: string; checkoutUrl: string; expiresAt: string };
  expect(response.statusCode).toBe(201);
  const trip = await store.getTrip(body.tripId);
  return { ...body, userId, sessionId: trip?.checkoutSessionId as string };
}

/** Presses a button of the payment page; with no webhook set, the event it causes waits in `fake.events`. */
async function press(trip: HeldTrip, action: 'pay' | 'pay-later'): Promise<Response> {
  return fetch(`${trip.checkoutUrl}/${action}`, { method: 'POST', redirect: 'manual' });
}

/** The `checkout.session.completed` Stripe would have delivered for this session. */
function completedEvent(sessionId: string): FakeEvent {
  const event = fake.events.find((candidate) => candidate.type === 'checkout.session.completed' && candidate.data.object.id === sessionId);
  if (!event) expect.fail(`no checkout.session.completed for ${sessionId}`);
  return event;
}

const retrievals = (sessionId: string): number =>
  fake.calls.filter((call) => call.method === 'GET' && call.path === `/v1/checkout/sessions/${sessionId}`).length;

async function seats(slot: Slot): Promise<{ available: number; unheld: number }> {
  const now = (await readSlot(store, slot.slotId)) as Slot;
  return { available: now.availableCount, unheld: unheldSeats(now) };
}

async function expectSlotsAddUp(slots: readonly Slot[]): Promise<void> {
  const report = await checkConsistency(store, LOCAL_INDEXES);
  expect(report.drifted.filter((drift) => slots.some((slot) => slot.slotId === drift.slotId))).toEqual([]);
}

describe('GET /trips/{tripId} when the traveller returns before the webhook', () => {
  it('books the paid trip on the return, and the webhook then answers duplicate with the same references: nothing more booked or refunded', async () => {
    const slot = await seedSlot(store, { capacity: 5, priceAmount: 4_500 });
    const trip = await checkout(slot, 2);
    const paid = await press(trip, 'pay');
    expect(paid.headers.get('location')).toBe(`https://example.com/trips/${trip.tripId}?session=${trip.sessionId}`);
    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');

    const returned = await getTrip(trip.tripId, { userId: trip.userId });

    expect(returned.status).toBe(200);
    expect(returned.headers).toMatchObject({ 'cache-control': 'no-store' });
    const references = returned.body.bookings?.map((booking) => booking.reference) ?? [];
    expect(returned.body).toEqual({
      tripId: trip.tripId,
      status: 'booked',
      statusReason: null,
      amount: 9_000,
      currency: 'eur',
      paid: 9_000,
      refunded: 0,
      holdExpiresAt: null,
      items: [{ slotId: slot.slotId, experienceId: slot.experienceId, date: slot.date, time: slot.time, guestCount: 2, amount: 9_000 }],
      bookings: [
        {
          reference: expect.stringMatching(/^PL-/),
          slotId: slot.slotId,
          experienceId: slot.experienceId,
          date: slot.date,
          time: slot.time,
          guestCount: 2,
          amount: 9_000,
          status: 'confirmed',
        },
      ],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(await seats(slot)).toEqual({ available: 3, unheld: 3 });
    expect((await store.getHold(trip.tripId))?.status).toBe('consumed');

    const webhook = webhookHarness(fake, { store });
    const late = await webhook.send(signedRequest(completedEvent(trip.sessionId)));
    const again = await getTrip(trip.tripId, { userId: trip.userId });

    expect(late).toMatchObject({ status: 200, body: { outcome: 'duplicate', tripId: trip.tripId, references } });
    expect((await store.listBookingsOfTrip(trip.tripId)).map((booking) => booking.reference)).toEqual(references);
    expect(await seats(slot)).toEqual({ available: 3, unheld: 3 });
    const paymentId = (await store.getTrip(trip.tripId))?.paymentId as string;
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'booked', amountPaid: 9_000, amountRefunded: 0 });
    // A booked trip is answered from the table: Stripe is asked only while the trip waits for its payment.
    expect(again.body).toEqual(returned.body);
    expect(retrievals(trip.sessionId)).toBe(1);
    await expectSlotsAddUp([slot]);
  });

  it.each([
    { name: 'still open', action: undefined },
    { name: 'complete, its payment still on the way (Pay later)', action: 'pay-later' as const },
  ])('changes nothing while the session is $name', async ({ action }) => {
    const slot = await seedSlot(store, { capacity: 4 });
    const trip = await checkout(slot, 1);
    if (action) await press(trip, action);
    const before = await store.getTrip(trip.tripId);

    const answer = await getTrip(trip.tripId, { userId: trip.userId });

    expect(answer).toMatchObject({
      status: 200,
      body: { status: 'pending_payment', holdExpiresAt: trip.expiresAt, paid: null, refunded: null, bookings: [] },
    });
    expect(retrievals(trip.sessionId)).toBe(1);
    expect(await store.getTrip(trip.tripId)).toEqual(before);
    expect(await seats(slot)).toEqual({ available: 4, unheld: 3 });
    expect(await store.listAudit('trip', trip.tripId)).toHaveLength(1);
  });

  it('answers holdExpiresAt null once the hold has run out and the sweeper gave its seats back, the trip still waiting', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const trip = await checkout(slot, 1);
    const past: Clock = { now: () => new Date(Date.parse(trip.expiresAt) + 1_000) };
    await releaseExpiredHolds({ store, clock: past, ids: randomIds });

    const answer = await getTrip(trip.tripId, { userId: trip.userId }, tripHandler({ clock: past }));

    expect(answer).toMatchObject({ status: 200, body: { status: 'pending_payment', holdExpiresAt: null } });
    expect(await seats(slot)).toEqual({ available: 4, unheld: 4 });
  });

  it('refunds a payment whose seats were sold meanwhile, as the webhook would, and the webhook later refunds nothing more', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const trip = await checkout(slot, 2);
    const held = await store.getTrip(trip.tripId);
    await releaseExpiredHolds({ store, clock: { now: () => new Date(Date.parse(held?.holdExpiresAt as string) + 1_000) }, ids: randomIds });
    await checkout(slot, 2);
    await press(trip, 'pay');

    const returned = await getTrip(trip.tripId, { userId: trip.userId });

    expect(returned).toMatchObject({
      status: 200,
      body: { status: 'refunded', statusReason: 'INSUFFICIENT_AVAILABILITY', amount: 9_000, paid: 9_000, refunded: 9_000, bookings: [] },
    });
    const paymentId = (await store.getTrip(trip.tripId))?.paymentId as string;
    expect(fake.totalRefunded(paymentId)).toBe(9_000);
    const late = await webhookHarness(fake, { store }).send(signedRequest(completedEvent(trip.sessionId)));
    expect(late).toMatchObject({ status: 200, body: { outcome: 'refunded', tripId: trip.tripId } });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    expect(await seats(slot)).toEqual({ available: 2, unheld: 0 });
    await expectSlotsAddUp([slot]);
  });

  it.each<{ name: string; failure: TransientFailure; count: number }>([
    { name: 'answers 500', failure: 500, count: 1 },
    { name: 'asks to slow down (429)', failure: 429, count: 1 },
    // stripe-node retries a reset connection once even with retries off.
    { name: 'cuts the connection', failure: 'reset', count: 2 },
  ])('answers the stored trip (200) when Stripe $name, and books it on a later return', async ({ failure, count }) => {
    const slot = await seedSlot(store, { capacity: 3 });
    const trip = await checkout(slot, 1);
    await press(trip, 'pay');
    fake.failNextSessionRetrievals(count, failure);

    const unavailable = await getTrip(trip.tripId, { userId: trip.userId });
    // Stripe is asked about a trip at most once per interval, answered or not: the later return comes after it.
    const pastTheInterval: Clock = { now: () => new Date(Date.now() + PROVIDER_CHECK_INTERVAL_MS) };
    const later = await getTrip(trip.tripId, { userId: trip.userId }, tripHandler({ clock: pastTheInterval }));

    expect(unavailable).toMatchObject({ status: 200, body: { status: 'pending_payment', bookings: [] } });
    expect(later).toMatchObject({ status: 200, body: { status: 'booked', bookings: [{ guestCount: 1 }] } });
    expect(await seats(slot)).toEqual({ available: 2, unheld: 2 });
  });
});

describe('GET /trips/{tripId} and who may read a trip', () => {
  it('answers another user’s trip exactly like a missing one, 404 TRIP_NOT_FOUND, without asking Stripe', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const trip = await checkout(slot, 1);
    await press(trip, 'pay');

    const theirs = await getTrip(trip.tripId, { userId: uniqueId('someone-else') });
    const missing = await getTrip(uniqueId('trip'), { userId: trip.userId });
    const theirsByToken = await getTrip(trip.tripId, { sub: uniqueId('someone-else') });

    expect(theirs).toEqual(missing);
    expect(theirsByToken).toEqual(missing);
    expect(missing).toMatchObject({ status: 404, body: { error: 'TRIP_NOT_FOUND' } });
    expect(retrievals(trip.sessionId)).toBe(0);
    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
  });

  it('takes the user from the caller’s token, and answers 403 to a token naming someone else in the query', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const trip = await checkout(slot, 1, 'user-from-token');

    const mine = await getTrip(trip.tripId, { sub: 'user-from-token' });
    const mineNamed = await getTrip(trip.tripId, { sub: 'user-from-token', userId: 'user-from-token' });
    const naming = await getTrip(trip.tripId, { sub: 'user-from-token', userId: 'someone-else' });

    expect(mine).toMatchObject({ status: 200, body: { tripId: trip.tripId } });
    expect(mineNamed.status).toBe(200);
    expect(naming).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' }, headers: { 'cache-control': 'no-store' } });
  });

  it.each([
    { name: 'no user (an IAM caller must name one)', tripId: 'trip-1', as: {}, field: 'userId' },
    { name: 'a trip id no trip can have', tripId: 'trip#1', as: { userId: 'user-1' }, field: 'tripId' },
  ])('answers 400 VALIDATION_FAILED to $name', async ({ tripId, as, field }) => {
    expect(await getTrip(tripId, as)).toMatchObject({ status: 400, body: { error: 'VALIDATION_FAILED', field }, headers: { 'cache-control': 'no-store' } });
  });
});

describe('GET /trips/{tripId} acts only on the trip’s own session, marked as ours', () => {
  it.each<{ name: string; session: () => Promise<{ sessionId: string; tripId?: string }> }>([
    {
      name: 'another trip’s paid session',
      session: async () => {
        const other = await checkout(await seedSlot(store, { capacity: 2 }), 1);
        await press(other, 'pay');
        return { sessionId: other.sessionId, tripId: other.tripId };
      },
    },
    {
      name: 'a paid session without our mark',
      session: async () => {
        const foreign = await fake.client().checkout.sessions.create({
          mode: 'payment',
          success_url: 'https://example.com/done',
          line_items: [{ quantity: 1, price_data: { currency: 'eur', unit_amount: 4_500, product_data: { name: 'A t-shirt' } } }],
        });
        await fetch(`${foreign.url}/pay`, { method: 'POST', redirect: 'manual' });
        return { sessionId: foreign.id };
      },
    },
    {
      name: 'a session Stripe does not know (resource_missing)',
      session: async () => ({ sessionId: `cs_test_${uniqueId('unknown').replace(/-/g, '')}` }),
    },
  ])('leaves a waiting trip alone when the session recorded on it is $name', async ({ session }) => {
    const slot = await seedSlot(store, { capacity: 2 });
    const trip = await checkout(slot, 1);
    const { sessionId, tripId: otherTripId } = await session();
    const attached = await attachCheckoutSession({ store, clock: systemClock }, trip.tripId, sessionId);
    expect(attached.ok).toBe(true);

    const answer = await getTrip(trip.tripId, { userId: trip.userId });

    expect(answer).toMatchObject({ status: 200, body: { status: 'pending_payment', bookings: [] } });
    expect(retrievals(sessionId)).toBeGreaterThanOrEqual(1);
    expect(await seats(slot)).toEqual({ available: 2, unheld: 1 });
    expect(fake.refunds.filter((refund) => refund.metadata.tripId === trip.tripId)).toEqual([]);
    // The session is acted on by no one's return but its own trip's: the trip it belongs to still waits for its webhook.
    if (otherTripId !== undefined) expect((await store.getTrip(otherTripId))?.status).toBe('pending_payment');
    const paymentIntent = fake.session(sessionId)?.paymentIntent;
    if (paymentIntent) expect(await store.getPaymentRecord(paymentIntent)).toBeUndefined();
  });
});

/**
 * A store whose first two commits wait for each other: both the return and the webhook have read the trip waiting for
 * its payment before either writes, the interleaving that could book twice, forced every time without a sleep.
 */
function storeMeetingAtTheFirstWrite(inner: TestStore): TestStore & { readonly met: Promise<void> } {
  let arrived = 0;
  let meet: () => void = () => undefined;
  const met = new Promise<void>((resolve) => {
    meet = resolve;
  });
  const commit = async (write: AtomicWrite): Promise<AtomicWriteResult> => {
    if (arrived < 2) {
      arrived += 1;
      if (arrived === 2) meet();
      await met;
    }
    return inner.commit(write);
  };
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'commit') return commit;
      if (property === 'met') return met;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as TestStore & { readonly met: Promise<void> };
}

describe('GET /trips/{tripId} and the webhook racing for the same payment', () => {
  it.each([1, 2, 3])('book it once when both read the waiting trip before either writes (run %i)', async () => {
    const slot = await seedSlot(store, { capacity: 3 });
    const trip = await checkout(slot, 2);
    await press(trip, 'pay');
    const gated = storeMeetingAtTheFirstWrite(store);
    const webhook = webhookHarness(fake, { store: gated });

    const [returned, delivered] = await Promise.all([
      getTrip(trip.tripId, { userId: trip.userId }, tripHandler({ store: gated })),
      webhook.send(signedRequest(completedEvent(trip.sessionId))),
    ]);
    await gated.met;

    const references = returned.body.bookings?.map((booking) => booking.reference);
    expect(returned).toMatchObject({ status: 200, body: { status: 'booked' } });
    expect(references).toHaveLength(1);
    expect(delivered).toMatchObject({ status: 200, body: { references } });
    expect(['booked', 'duplicate']).toContain(delivered.body.outcome);
    expect((await store.listBookingsOfTrip(trip.tripId)).map((booking) => booking.reference)).toEqual(references);
    expect(await seats(slot)).toEqual({ available: 1, unheld: 1 });
    expect(fake.refundsOf((await store.getTrip(trip.tripId))?.paymentId as string)).toEqual([]);
    expect(await store.listAudit('booking', references?.[0] as string)).toMatchObject([{ eventType: 'booking.confirmed' }]);
    await expectSlotsAddUp([slot]);
  });
});
