// POST /checkout through the real handler, DynamoDB Local and the Stripe stand-in's sessions and payment page: seats held before anyone pays.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckoutHandler, CHECKOUT_PATH } from '../../lambdas/checkout/checkout-handler';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import { SESSION_SLACK_MS, unheldSeats, type Slot } from '../../lambdas/shared/domain/model';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { MAX_RETURN_URL_LENGTH, TRIP_ID_PLACEHOLDER } from '../../lambdas/shared/domain/start-checkout';
import { MAX_GUESTS_PER_ITEM } from '../../lambdas/shared/domain/trip-input';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { FAST_RETRIES, LOCAL_INDEXES, readSlot, seedSlot, testDocumentClient, testStore, uniqueId } from '../support/store';
import { webhookHarness } from '../support/webhook';
import { servedStripeFake } from '../support/webhook-server';

let fake: StripeFake;
let stop: () => Promise<void>;
const store = testStore();

beforeAll(async () => {
  ({ fake, stop } = await servedStripeFake(store));
});
afterAll(() => stop());

function checkoutHandler(clock: Clock = systemClock) {
  return createCheckoutHandler({
    store,
    checkout: new StripeCheckoutSessions(async () => fake.client(), undefined, store.tableName),
    clock,
    ids: randomIds,
    holdMinutes: 30,
    logger: new Logger({ serviceName: 'test', logLevel: process.env.CHECKOUT_LOG === '1' ? 'DEBUG' : 'SILENT' }),
  });
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> & {
    tripId?: string;
    checkoutUrl?: string;
    error?: string;
    slots?: { slotId: string; requested: number; available?: number }[];
  };
}

async function checkout(body: unknown, options: { key?: string; sub?: string; clock?: Clock } = {}): Promise<Answer> {
  const event = apiGatewayEvent({
    path: CHECKOUT_PATH,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(options.key !== undefined && { 'idempotency-key': options.key }) },
  });
  const withUser =
    options.sub === undefined
      ? event
      : { ...event, requestContext: { ...event.requestContext, authorizer: { jwt: { claims: { sub: options.sub }, scopes: [] } } } };
  const response = await checkoutHandler(options.clock)(withUser);
  return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? '{}') as Answer['body'] };
}

const urls = { successUrl: 'https://example.com/done?session={CHECKOUT_SESSION_ID}', cancelUrl: 'https://example.com/cancelled' };
const request = (slots: readonly [Slot, number][], userId = uniqueId('user')) => ({
  userId,
  items: slots.map(([slot, guestCount]) => ({ slotId: slot.slotId, guestCount })),
  ...urls,
});

async function counts(slot: Slot): Promise<{ available: number; unheld: number }> {
  const now = (await readSlot(store, slot.slotId)) as Slot;
  return { available: now.availableCount, unheld: unheldSeats(now) };
}

/** Presses a button of the stand-in's payment page as a browser does, and follows nothing: the answer is the redirect. */
async function press(checkoutUrl: string, action: 'pay' | 'pay-later' | 'expire' | 'settle' | 'fail'): Promise<Response> {
  return fetch(`${checkoutUrl}/${action}`, { method: 'POST', redirect: 'manual' });
}

async function expectHoldsAddUp(slots: readonly Slot[]): Promise<void> {
  const report = await checkConsistency(store, LOCAL_INDEXES);
  expect(report.drifted.filter((drift) => slots.some((slot) => slot.slotId === drift.slotId))).toEqual([]);
}

describe('POST /checkout', () => {
  it('prices the trip from its slots, holds its seats and answers 201 with the payment page', async () => {
    const a = await seedSlot(store, { capacity: 5, priceAmount: 4_500 });
    const b = await seedSlot(store, { capacity: 3, priceAmount: 12_000 });

    const answer = await checkout(
      request([
        [a, 2],
        [b, 1],
      ]),
    );

    expect(answer).toMatchObject({ status: 201, body: { amount: 21_000, currency: 'eur', checkoutUrl: expect.stringContaining('/c/pay/cs_') } });
    const trip = await store.getTrip(answer.body.tripId as string);
    expect(trip).toMatchObject({ status: 'pending_payment', amount: 21_000, holdExpiresAt: answer.body.expiresAt, checkoutUrl: answer.body.checkoutUrl });
    expect(await store.getHold(trip!.tripId)).toMatchObject({
      status: 'held',
      seats: expect.arrayContaining([
        { slotId: a.slotId, guests: 2 },
        { slotId: b.slotId, guests: 1 },
      ]),
    });
    expect(await counts(a)).toEqual({ available: 5, unheld: 3 });
    expect(await counts(b)).toEqual({ available: 3, unheld: 2 });
    const session = fake.session(trip!.checkoutSessionId as string);
    expect(session).toMatchObject({
      amountTotal: 21_000,
      currency: 'eur',
      // The deployment's table beside the trip: another stack on the same Stripe account leaves this session alone.
      metadata: { pulau_trip_id: trip!.tripId, pulau_table: store.tableName },
      paymentIntentMetadata: { pulau_trip_id: trip!.tripId, pulau_table: store.tableName },
      clientReferenceId: trip!.tripId,
    });
    // The session ends 5 minutes before the hold (as the README says of expiresAt), so a payment made at its last second
    // still finds the seats held.
    const pageClosesBefore = Date.parse(answer.body.expiresAt as string) - session!.expiresAt * 1000;
    expect(pageClosesBefore).toBeGreaterThanOrEqual(SESSION_SLACK_MS);
    expect(pageClosesBefore).toBeLessThan(SESSION_SLACK_MS + 1_000);
    await expectHoldsAddUp([a, b]);
  });

  it.each([
    { name: 'no items', body: { items: [] }, field: 'items' },
    { name: 'a guest count of 0', body: { items: [{ slotId: 'slot-1', guestCount: 0 }] }, field: 'items.0.guestCount' },
    { name: 'a guest count of 51', body: { items: [{ slotId: 'slot-1', guestCount: 51 }] }, field: 'items.0.guestCount' },
    {
      name: `${MAX_GUESTS_PER_ITEM + 1} guests on one slot split over two items`,
      body: {
        items: [
          { slotId: 'slot-1', guestCount: MAX_GUESTS_PER_ITEM },
          { slotId: 'slot-1', guestCount: 1 },
        ],
      },
      field: 'items',
    },
    { name: 'a price in the request', body: { items: [{ slotId: 'slot-1', guestCount: 1 }], amount: 1 }, field: 'amount' },
    { name: 'a success URL that is not one', body: { items: [{ slotId: 'slot-1', guestCount: 1 }], successUrl: 'javascript:alert(1)' }, field: 'successUrl' },
    {
      name: 'a success URL with no such port',
      body: { items: [{ slotId: 'slot-1', guestCount: 1 }], successUrl: 'https://example.com:99999/paid' },
      field: 'successUrl',
    },
    {
      name: 'a success URL whose host cannot be read',
      body: { items: [{ slotId: 'slot-1', guestCount: 1 }], successUrl: 'https://exa%mple.com/paid' },
      field: 'successUrl',
    },
    {
      name: 'a cancel URL of an unclosed IPv6 host',
      body: { items: [{ slotId: 'slot-1', guestCount: 1 }], cancelUrl: 'http://[::1/cart' },
      field: 'cancelUrl',
    },
    {
      name: `a success URL over ${MAX_RETURN_URL_LENGTH} characters once each ${TRIP_ID_PLACEHOLDER} is filled in`,
      body: { items: [{ slotId: 'slot-1', guestCount: 1 }], successUrl: `https://example.com/${TRIP_ID_PLACEHOLDER.repeat(120)}` },
      field: 'successUrl',
    },
    { name: 'no user', body: { items: [{ slotId: 'slot-1', guestCount: 1 }], userId: undefined }, field: 'userId' },
  ])('answers 400 VALIDATION_FAILED to $name, naming the field, and holds nothing', async ({ body, field }) => {
    const sessions = fake.sessions().length;
    const answer = await checkout({ userId: uniqueId('user'), ...urls, ...body });
    expect(answer).toMatchObject({ status: 400, body: { error: 'VALIDATION_FAILED', field } });
    expect(fake.sessions()).toHaveLength(sessions);
  });

  it.each([
    { name: 'an empty Idempotency-Key', key: '' },
    { name: 'an Idempotency-Key over 255 characters', key: 'k'.repeat(256) },
  ])('answers 400 VALIDATION_FAILED to $name (not a checkout without a key), and holds nothing', async ({ key }) => {
    const slot = await seedSlot(store, { capacity: 2 });
    const sessions = fake.sessions().length;
    const answer = await checkout(request([[slot, 1]]), { key });
    expect(answer).toMatchObject({ status: 400, body: { error: 'VALIDATION_FAILED', field: 'idempotencyKey' } });
    expect(fake.sessions()).toHaveLength(sessions);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });

  it.each([
    { name: 'text/plain (what a web page may send anywhere without asking)', contentType: 'text/plain' },
    { name: 'a form', contentType: 'application/x-www-form-urlencoded' },
    { name: 'multipart', contentType: 'multipart/form-data; boundary=x' },
    { name: 'no content type', contentType: undefined },
  ])('answers 415 UNSUPPORTED_MEDIA_TYPE to a JSON body sent as $name, and holds nothing', async ({ contentType }) => {
    const slot = await seedSlot(store, { capacity: 2 });
    const event = apiGatewayEvent({ path: CHECKOUT_PATH, body: JSON.stringify(request([[slot, 1]])) });
    const headers = { ...event.headers };
    delete headers['content-type'];
    const response = await checkoutHandler()({ ...event, headers: { ...headers, ...(contentType !== undefined && { 'Content-Type': contentType }) } });

    expect(response.statusCode).toBe(415);
    expect(JSON.parse(response.body ?? '{}')).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE' });
    const after = await readSlot(store, slot.slotId);
    expect([after?.availableCount, after && unheldSeats(after)]).toEqual([2, 2]);
  });

  it('takes application/json in any case and with parameters', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const event = apiGatewayEvent({
      path: CHECKOUT_PATH,
      body: JSON.stringify(request([[slot, 1]])),
      headers: { 'content-type': 'Application/JSON; charset=UTF-8' },
    });
    expect((await checkoutHandler()(event)).statusCode).toBe(201);
  });

  it('takes the user from the caller’s token, and refuses a body that names someone else', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const mine = await checkout({ items: [{ slotId: slot.slotId, guestCount: 1 }], ...urls }, { sub: 'user-from-token' });
    const theirs = await checkout(request([[slot, 1]], 'someone-else'), { sub: 'user-from-token' });

    expect(mine.status).toBe(201);
    expect((await store.getTrip(mine.body.tripId as string))?.userId).toBe('user-from-token');
    expect(theirs).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
  });

  it.each([
    { name: 'sold out', seed: { capacity: 2, availableCount: 1 }, code: 'INSUFFICIENT_AVAILABILITY', available: 1 },
    { name: 'blocked', seed: { capacity: 4, isBlocked: true }, code: 'SLOT_BLOCKED', available: 4 },
  ])('answers 409 $code with the counts when a slot is $name, before anyone pays', async ({ seed, code, available }) => {
    const slot = await seedSlot(store, seed);
    const sessions = fake.sessions().length;

    const answer = await checkout(request([[slot, 2]]));

    expect(answer).toMatchObject({ status: 409, body: { error: code, slots: [{ slotId: slot.slotId, requested: 2, available }] } });
    expect(fake.sessions()).toHaveLength(sessions);
  });

  it('answers 409 SLOT_NOT_FOUND for a slot that does not exist', async () => {
    const answer = await checkout({ userId: uniqueId('user'), items: [{ slotId: uniqueId('nowhere'), guestCount: 1 }], ...urls });
    expect(answer).toMatchObject({ status: 409, body: { error: 'SLOT_NOT_FOUND' } });
  });

  it('gives the last seat to exactly one of 10 concurrent checkouts: 1 held, 9 answered 409, nobody charged', async () => {
    const slot = await seedSlot(store, { capacity: 1 });
    const sessions = fake.sessions().length;

    const answers = await Promise.all(Array.from({ length: 10 }, () => checkout(request([[slot, 1]]))));

    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
    const refused = answers.filter((answer) => answer.status === 409);
    expect(refused).toHaveLength(9);
    for (const answer of refused)
      expect(answer.body).toMatchObject({ error: 'INSUFFICIENT_AVAILABILITY', slots: [{ slotId: slot.slotId, requested: 1, available: 0 }] });
    expect(await counts(slot)).toEqual({ available: 1, unheld: 0 });
    expect(fake.sessions().length - sessions).toBe(1);
    await expectHoldsAddUp([slot]);
  });

  it('answers a retried request with the same Idempotency-Key with the same trip and session, holding once', async () => {
    const slot = await seedSlot(store, { capacity: 4 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');

    const answers = await Promise.all(Array.from({ length: 5 }, () => checkout(body, { key })));
    const later = await checkout(body, { key });

    const trips = new Set([...answers, later].map((answer) => answer.body.tripId));
    expect(trips.size).toBe(1);
    expect(new Set([...answers, later].map((answer) => answer.body.checkoutUrl)).size).toBe(1);
    expect(later.status).toBe(200);
    expect(await counts(slot)).toEqual({ available: 4, unheld: 2 });
  });
});

describe('the held seats until the payment arrives', () => {
  async function heldTrip(capacity = 2, guests = 2) {
    const slot = await seedSlot(store, { capacity });
    const answer = await checkout(request([[slot, guests]]));
    expect(answer.status).toBe(201);
    return { slot, tripId: answer.body.tripId as string, checkoutUrl: answer.body.checkoutUrl as string };
  }

  it('books a held trip paid on the payment page, taking the held seats, and redirects to the success URL', async () => {
    const { slot, tripId, checkoutUrl } = await heldTrip();

    const paid = await press(checkoutUrl, 'pay');

    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toMatch(/^https:\/\/example\.com\/done\?session=cs_/);
    expect((await store.getTrip(tripId))?.status).toBe('booked');
    expect(await counts(slot)).toEqual({ available: 0, unheld: 0 });
    expect((await store.getHold(tripId))?.status).toBe('consumed');
    await expectHoldsAddUp([slot]);
  });

  it('gives the seats back exactly once when the session expires, however often the event is delivered', async () => {
    const { slot, tripId, checkoutUrl } = await heldTrip();

    const expired = await press(checkoutUrl, 'expire');
    const [event] = fake.deliveries.filter((delivery) => delivery.type === 'checkout.session.expired' && JSON.stringify(delivery.body).includes(tripId));

    expect(expired.headers.get('location')).toBe(urls.cancelUrl);
    expect(event?.status).toBe(200);
    expect((await store.getTrip(tripId))?.status).toBe('expired');
    expect((await store.getHold(tripId))?.status).toBe('released');
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
    await expectHoldsAddUp([slot]);
  });

  it('gives the seats back exactly once when the sweeper and the expiry event race', async () => {
    const { slot, tripId } = await heldTrip();
    const trip = await store.getTrip(tripId);
    const afterExpiry: Clock = { now: () => new Date(Date.parse(trip!.holdExpiresAt as string) + 1_000) };
    const webhook = webhookHarness(fake, { store });
    const { stripeEvent, signedRequest } = await import('../../scripts/dev-kit/stripe-events');
    const stored = fake.session(trip!.checkoutSessionId as string)!;
    const session = {
      id: stored.id,
      object: 'checkout.session',
      status: 'expired',
      payment_status: 'unpaid',
      payment_intent: null,
      metadata: stored.metadata,
      client_reference_id: stored.clientReferenceId,
      amount_total: stored.amountTotal,
      currency: stored.currency,
    };

    await Promise.all([
      releaseExpiredHolds({ store, clock: afterExpiry, ids: randomIds }),
      webhook.send(signedRequest(stripeEvent('checkout.session.expired', session))),
    ]);

    expect((await store.getHold(tripId))?.status).toBe('released');
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
    expect((await store.listAudit('trip', tripId)).filter((entry) => entry.eventType === 'trip.hold_released')).toHaveLength(1);
    await expectHoldsAddUp([slot]);
  });

  it('books a payment that arrives after its hold was released when the seats are still there', async () => {
    const { slot, tripId, checkoutUrl } = await heldTrip(3, 2);
    const trip = await store.getTrip(tripId);
    await releaseExpiredHolds({ store, clock: { now: () => new Date(Date.parse(trip!.holdExpiresAt as string) + 1_000) }, ids: randomIds });
    expect(await counts(slot)).toEqual({ available: 3, unheld: 3 });

    await press(checkoutUrl, 'pay');

    expect((await store.getTrip(tripId))?.status).toBe('booked');
    expect(await counts(slot)).toEqual({ available: 1, unheld: 1 });
    await expectHoldsAddUp([slot]);
  });

  it('refunds a payment that arrives after its hold was released and its seats were held by someone else', async () => {
    const { slot, tripId, checkoutUrl } = await heldTrip(2, 2);
    const trip = await store.getTrip(tripId);
    await releaseExpiredHolds({ store, clock: { now: () => new Date(Date.parse(trip!.holdExpiresAt as string) + 1_000) }, ids: randomIds });
    expect((await checkout(request([[slot, 2]]))).status).toBe(201);

    await press(checkoutUrl, 'pay');

    const paid = await store.getTrip(tripId);
    expect(paid).toMatchObject({ status: 'refunded', statusReason: 'INSUFFICIENT_AVAILABILITY' });
    expect(fake.totalRefunded(paid!.paymentId as string)).toBe(paid!.amount);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 0 });
    await expectHoldsAddUp([slot]);
    // Stripe told the webhook of the refund while the delivery that asked for it still waited for its answer (each
    // delivery is listed once answered): the refund's events came between that delivery's read of the payment's record
    // and its write, and the record holds the one refund once.
    const aboutThisTrip = fake.deliveries.filter((delivery) => (JSON.parse(delivery.body) as { tripId?: string }).tripId === tripId);
    expect(aboutThisTrip.map(({ type, status, body }) => [type, status, (JSON.parse(body) as { outcome: string }).outcome])).toEqual([
      ['refund.created', 200, 'refund_updated'],
      ['charge.refunded', 200, 'duplicate'],
      ['checkout.session.completed', 200, 'refunded'],
    ]);
    expect(await store.getPaymentRecord(paid!.paymentId as string)).toMatchObject({
      status: 'refunded',
      amountRefunded: paid!.amount,
      refunds: [expect.objectContaining({ status: 'succeeded', amount: paid!.amount })],
    });
  });
});

describe('POST /checkout while DynamoDB leaves every key of a BatchGetItem unprocessed', () => {
  it('answers 503 TRANSACTION_FAILED with Retry-After (the table gave no definite answer), not 500, and holds nothing', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const busy = testStore(client);
    const slot = await seedSlot(busy, { capacity: 3, priceAmount: 4_500 });
    const handler = createCheckoutHandler({
      store: busy,
      checkout: new StripeCheckoutSessions(async () => fake.client(), undefined, busy.tableName),
      clock: systemClock,
      ids: randomIds,
      holdMinutes: 30,
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    });
    faults.queue('BatchGetItemCommand', ...Array.from({ length: FAST_RETRIES.maxAttempts }, () => 'unprocessed' as const));

    const response = await handler(
      apiGatewayEvent({
        path: CHECKOUT_PATH,
        body: JSON.stringify(request([[slot, 1]])),
        headers: { 'content-type': 'application/json', 'idempotency-key': uniqueId('key') },
      }),
    );

    expect(faults.injected).toBe(FAST_RETRIES.maxAttempts);
    expect({ status: response.statusCode, retryAfter: response.headers?.['retry-after'], body: JSON.parse(response.body ?? '{}') }).toMatchObject({
      status: 503,
      retryAfter: '2',
      body: { error: 'TRANSACTION_FAILED' },
    });
    expect(await counts(slot)).toEqual({ available: 3, unheld: 3 });
  });
});
