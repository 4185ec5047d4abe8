// Checkout and holds at their edges: raced and reused keys, Stripe failing after the hold, the longest hold, held trips refunded, capacity cuts and adjustments beside holds, subjects of identity providers, a retry across an upgrade.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCheckoutHandler, CHECKOUT_PATH } from '../../lambdas/checkout/checkout-handler';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import { unheldSeats, type Slot } from '../../lambdas/shared/domain/model';
import { checkConsistency, setSlotBlocked, setSlotCapacity } from '../../lambdas/shared/domain/operations';
import { CheckoutRefusedError, PaymentGatewayUnavailableError, type CheckoutSessions } from '../../lambdas/shared/domain/payment-gateway';
import { adjustAvailability } from '../../lambdas/shared/domain/operations';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { LOCAL_INDEXES, deps, readSlot, seedSlot, storeOnOwnTable, tableOf, testDocumentClient, testStore, uniqueId, type TestStore } from '../support/store';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { servedStripeFake } from '../support/webhook-server';
import { holdFirstCommit } from '../support/held-store';

let fake: StripeFake;
let stop: () => Promise<void>;
const store = testStore();

beforeAll(async () => {
  ({ fake, stop } = await servedStripeFake(store));
});
afterAll(() => stop());

interface HandlerOptions {
  readonly store?: TestStore;
  readonly sessions?: CheckoutSessions;
  readonly clock?: Clock;
  readonly holdMinutes?: number;
}

function handler(options: HandlerOptions = {}) {
  return createCheckoutHandler({
    store: options.store ?? store,
    checkout: options.sessions ?? new StripeCheckoutSessions(async () => fake.client()),
    clock: options.clock ?? systemClock,
    ids: randomIds,
    holdMinutes: options.holdMinutes ?? 30,
    logger: new Logger({ serviceName: 'test', logLevel: process.env.CHECKOUT_LOG === '1' ? 'DEBUG' : 'SILENT' }),
  });
}

describe('a checkout Stripe refuses for good', () => {
  it('answers 502 CHECKOUT_REFUSED without Stripe’s words, holds nothing, and logs Stripe’s words for the operator', async () => {
    const slot = await seedSlot(store, { capacity: 4, priceAmount: 0 });
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    const warned = vi.spyOn(logger, 'warn');
    const refusing = createCheckoutHandler({
      store,
      checkout: new StripeCheckoutSessions(async () => fake.client()),
      clock: systemClock,
      ids: randomIds,
      holdMinutes: 30,
      logger,
    });

    const response = await refusing(
      apiGatewayEvent({ path: CHECKOUT_PATH, body: JSON.stringify(request([[slot, 1]])), headers: { 'content-type': 'application/json' } }),
    );

    expect(response.statusCode).toBe(502);
    const body = JSON.parse(response.body ?? '{}') as { error: string; message: string };
    expect(body.error).toBe('CHECKOUT_REFUSED');
    expect(body.message).not.toContain('greater than zero');
    expect(await counts(slot)).toEqual({ available: 4, unheld: 4 });
    expect(warned).toHaveBeenCalledWith('Refused a checkout', {
      errorCode: 'CHECKOUT_REFUSED',
      detail: expect.stringContaining("The Checkout Session's total amount due must be greater than zero in payment mode."),
    });
  });
});

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> & { tripId?: string; checkoutUrl?: string; error?: string; amount?: number };
}

async function checkout(body: unknown, options: HandlerOptions & { key?: string } = {}): Promise<Answer> {
  const event = apiGatewayEvent({
    path: CHECKOUT_PATH,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(options.key !== undefined && { 'idempotency-key': options.key }) },
  });
  const response = await handler(options)(event);
  return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? '{}') as Answer['body'] };
}

const urls = { successUrl: 'https://example.com/done', cancelUrl: 'https://example.com/cancelled' };
const request = (slots: readonly [Slot, number][], userId = uniqueId('user')) => ({
  userId,
  items: slots.map(([slot, guestCount]) => ({ slotId: slot.slotId, guestCount })),
  ...urls,
});

async function counts(slot: Slot, from: TestStore = store): Promise<{ available: number; unheld: number }> {
  const now = (await readSlot(from, slot.slotId)) as Slot;
  return { available: now.availableCount, unheld: unheldSeats(now) };
}

async function expectHoldsAddUp(slots: readonly Slot[]): Promise<void> {
  const report = await checkConsistency(store, LOCAL_INDEXES);
  expect(report.drifted.filter((drift) => slots.some((slot) => slot.slotId === drift.slotId))).toEqual([]);
}

/** Pays on the hosted page the answer named: the fake delivers the payment's events to the webhook over this table. */
async function pay(checkoutUrl: string): Promise<string> {
  const sessionId = decodeURIComponent(checkoutUrl.split('/c/pay/')[1] as string);
  expect((await fetch(`${checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
  return fake.session(sessionId)?.paymentIntent as string;
}

/** Stripe's sessions, but the first `failures` calls throw `error` (Stripe not reached, or refusing). */
function failingSessions(error: () => Error, failures = 1): CheckoutSessions & { calls: number } {
  const real = new StripeCheckoutSessions(async () => fake.client());
  const sessions = {
    calls: 0,
    async createSession(request: Parameters<CheckoutSessions['createSession']>[0]) {
      sessions.calls++;
      if (sessions.calls <= failures) throw error();
      return real.createSession(request);
    },
  };
  return sessions;
}

describe('the same Idempotency-Key', () => {
  it('answers both requests of a raced key with the same trip, even when the trip takes the slot’s last seats', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const raced = testStore(client);
    const slot = await seedSlot(raced, { capacity: 2 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');

    // The first request has read that no trip has this key and is about to store it; the retry overtakes it.
    const held = faults.hold('TransactWriteItemsCommand');
    const first = checkout(body, { key, store: raced });
    await held.reached;
    const second = await checkout(body, { key, store: raced });
    held.release();
    const answer = await first;

    expect(second.status).toBe(201);
    expect(answer).toMatchObject({ status: expect.any(Number), body: { tripId: second.body.tripId, checkoutUrl: second.body.checkoutUrl } });
    expect([200, 201]).toContain(answer.status);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 0 });
  });

  it('refuses a key reused with other items instead of answering 200 with the first trip', async () => {
    const a = await seedSlot(store, { capacity: 4, priceAmount: 1_000 });
    const b = await seedSlot(store, { capacity: 4, priceAmount: 9_000 });
    const userId = uniqueId('user');
    const key = uniqueId('key');
    const first = await checkout(request([[a, 1]], userId), { key });
    expect(first.status).toBe(201);

    const other = await checkout(request([[b, 3]], userId), { key });

    expect([400, 409, 422]).toContain(other.status);
    expect(other.body.tripId).toBeUndefined();
    expect(await counts(b)).toEqual({ available: 4, unheld: 4 });
  });
});

describe('a key’s request is its items and its URLs, and a trip whose checkout ended is not reopened', () => {
  /** Stripe's sessions; after each one is made, and before its request records it, `meanwhile` runs to its end. */
  function meanwhileBeforeRecording(meanwhile: () => Promise<void>): CheckoutSessions {
    const real = new StripeCheckoutSessions(async () => fake.client());
    return {
      async createSession(request) {
        const session = await real.createSession(request);
        await meanwhile();
        return session;
      },
    };
  }

  it('refuses a retry with another success URL while the first request is making its page (422), and that page books the trip', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const first = request([[slot, 2]]);
    const key = uniqueId('key');
    let second: Answer | undefined;
    const sessions = meanwhileBeforeRecording(async () => {
      second = await checkout({ ...first, successUrl: 'https://example.com/done?attempt=2' }, { key });
    });

    const answer = await checkout(first, { key, sessions });
    const paymentId = await pay(answer.body.checkoutUrl as string);

    expect(answer.status).toBe(201);
    expect(second).toMatchObject({ status: 422, body: { error: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(await store.getTrip(answer.body.tripId as string)).toMatchObject({ status: 'booked', paymentId });
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await counts(slot)).toEqual({ available: 0, unheld: 0 });
  });

  it('answers one page to a request and another under its key with other URLs, for a trip that kept no URLs (checked out before they were kept)', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const first = request([[slot, 2]]);
    const key = uniqueId('key');
    let second: Answer | undefined;
    const sessions = meanwhileBeforeRecording(async () => {
      // As a trip checked out before its URLs were kept: only Stripe can tell the second request from the first.
      const tripId = (await store.listActiveHolds()).find((hold) => hold.seats.some((seat) => seat.slotId === slot.slotId))?.tripId as string;
      await testDocumentClient().send(
        new UpdateCommand({ TableName: tableOf(store), Key: { pk: `TRIP#${tripId}`, sk: 'TRIP' }, UpdateExpression: 'REMOVE returnUrlsDigest' }),
      );
      second = await checkout({ ...first, successUrl: 'https://example.com/done?attempt=2' }, { key });
    });

    const answer = await checkout(first, { key, sessions });
    const paymentId = await pay(answer.body.checkoutUrl as string);

    // Such a trip cannot tell the two apart, and its session's key names the URLs it was asked with: the page recorded
    // first is the trip's, answered to both, and the other session, never shown to anyone, is never its page.
    expect(second).toMatchObject({ status: 200, body: { tripId: answer.body.tripId, checkoutUrl: answer.body.checkoutUrl } });
    expect(answer.status).toBe(200);
    const trip = await store.getTrip(answer.body.tripId as string);
    expect(trip).toMatchObject({ status: 'booked', paymentId, checkoutUrl: answer.body.checkoutUrl });
    expect(fake.sessions().filter((session) => session.metadata.pulau_trip_id === trip?.tripId)).toHaveLength(2);
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await counts(slot)).toEqual({ available: 0, unheld: 0 });
  });

  it('refuses a retry with a corrected URL after Stripe refused the first one (422): the refused trip opens no page', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const sessionsBefore = fake.sessions().length;
    // A URL our validation takes and Stripe refuses (its own rules on URLs): 502, the seats given back.
    const refusing = failingSessions(() => new CheckoutRefusedError('url_invalid', 'Not a valid URL'));
    const refused = await checkout({ ...body, successUrl: 'https://example.com/done-elsewhere' }, { key, sessions: refusing });

    const retried = await checkout(body, { key });

    expect(refused).toMatchObject({ status: 502, body: { error: 'CHECKOUT_REFUSED' } });
    expect(retried).toMatchObject({ status: 422, body: { error: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(fake.sessions().length).toBe(sessionsBefore);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });

  it('answers the same request retried after Stripe refused it 409 TRIP_NOT_PENDING, without asking Stripe again, though Stripe would now accept it', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    // Refused once (a currency not yet enabled on the account, say), then accepted: Stripe keeps nothing under a key it refused.
    const sessions = failingSessions(() => new CheckoutRefusedError('currency_not_supported', 'The currency is not enabled on this account.'));

    const refused = await checkout(body, { key, sessions });
    const retried = await checkout(body, { key, sessions });

    expect(refused).toMatchObject({ status: 502, body: { error: 'CHECKOUT_REFUSED' } });
    expect(retried).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING', message: expect.stringContaining('new Idempotency-Key') } });
    expect(retried.body.checkoutUrl).toBeUndefined();
    expect(sessions.calls).toBe(1);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });

  it('does not answer a page made for a trip another request under the key ended meanwhile (409), so nobody pays to be refunded', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    let second: Answer | undefined;
    // The same request sent again, which Stripe refuses (as it may have refused the first a moment earlier): the trip ends.
    const refusing = failingSessions(() => new CheckoutRefusedError('currency_not_supported', 'The currency is not enabled on this account.'));
    const sessions = meanwhileBeforeRecording(async () => {
      second = await checkout(body, { key, sessions: refusing });
    });

    const answer = await checkout(body, { key, sessions });

    expect(second).toMatchObject({ status: 502, body: { error: 'CHECKOUT_REFUSED' } });
    expect(answer).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING' } });
    expect(answer.body.checkoutUrl).toBeUndefined();
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });

  it('answers the page another request under the key recorded while Stripe refused this one: the trip still waits, and its page books it', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    let other: Answer | undefined;
    // Stripe refuses this request; before it ends the trip, the same request sent again is accepted, records its page, answers.
    const refusedWhileOtherRecords: CheckoutSessions = {
      async createSession() {
        other = await checkout(body, { key });
        throw new CheckoutRefusedError('currency_not_supported', 'The currency is not enabled on this account.');
      },
    };

    const refused = await checkout(body, { key, sessions: refusedWhileOtherRecords });
    const paymentId = await pay(other?.body.checkoutUrl as string);

    expect(refused).toMatchObject({ status: 200, body: { checkoutUrl: other?.body.checkoutUrl } });
    expect(await store.getTrip(other?.body.tripId as string)).toMatchObject({ status: 'booked', paymentId });
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await counts(slot)).toEqual({ available: 0, unheld: 0 });
  });

  it('answers one page to two requests under the key that asked Stripe under different session keys (two versions side by side), and it books', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const before = new StripeCheckoutSessions(async () => fake.client());
    const after = new StripeCheckoutSessions(async () => fake.client(), undefined, tableOf(store));
    let retry: Answer | undefined;
    const slowToRecord: CheckoutSessions = {
      async createSession(request) {
        const session = await before.createSession(request);
        retry = await checkout(body, { key, sessions: after });
        return session;
      },
    };

    const first = await checkout(body, { key, sessions: slowToRecord });
    const paymentId = await pay(first.body.checkoutUrl as string);

    expect(first.body.checkoutUrl).toBe(retry?.body.checkoutUrl);
    expect(await store.getTrip(first.body.tripId as string)).toMatchObject({ status: 'booked', paymentId });
    expect(fake.refundsOf(paymentId)).toEqual([]);
  });

  it('answers a retry of a key whose trip expired unpaid 409, not the page recorded on it', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const first = await checkout(body, { key });
    expect((await fetch(`${first.body.checkoutUrl}/expire`, { method: 'POST', redirect: 'manual' })).status).toBe(303);
    expect((await store.getTrip(first.body.tripId as string))?.status).toBe('expired');

    const retried = await checkout(body, { key });

    expect(retried).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING', message: expect.stringContaining('expired') } });
    expect(retried.body.checkoutUrl).toBeUndefined();
  });

  it('answers a retry after the sweeper released the hold of a checkout Stripe never answered 409, without asking Stripe, and ends the trip', async () => {
    const own = await storeOnOwnTable();
    const slot = await seedSlot(own, { capacity: 2 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const anHourAgo: Clock = { now: () => new Date(Date.now() - 3_600_000) };
    const down = failingSessions(() => new PaymentGatewayUnavailableError('Stripe did not answer'), 3);
    expect((await checkout(body, { key, store: own, sessions: down, clock: anHourAgo })).status).toBe(503);
    expect((await releaseExpiredHolds({ store: own, clock: systemClock, ids: randomIds })).released).toHaveLength(1);

    const retried = await checkout(body, { key, store: own, sessions: down });
    const again = await checkout(body, { key, store: own, sessions: down });

    expect(retried).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING' } });
    expect(again).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING', message: expect.stringContaining('hold ran out') } });
    expect(down.calls).toBe(1);
    expect(await counts(slot, own)).toEqual({ available: 2, unheld: 2 });
  });

  it('opens its own page in each of two deployments on one Stripe account sent the same user and key (two developers trying the README’s example)', async () => {
    const deployments = [await storeOnOwnTable(), await storeOnOwnTable()];
    const key = uniqueId('key');
    const answers: Answer[] = [];
    for (const own of deployments) {
      const slot = await seedSlot(own, { capacity: 2 });
      const sessions = new StripeCheckoutSessions(async () => fake.client(), undefined, tableOf(own));
      answers.push(await checkout(request([[slot, 2]], 'user-123'), { key, store: own, sessions }));
    }

    expect(answers.map((answer) => answer.status)).toEqual([201, 201]);
    expect(answers[0]?.body.tripId).toBe(answers[1]?.body.tripId);
    expect(answers[0]?.body.checkoutUrl).not.toBe(answers[1]?.body.checkoutUrl);
  });
});

describe('a server error Stripe keeps under the session key, at the hold’s one-day cap', () => {
  const heldTripOf = async (slot: Slot): Promise<string> =>
    (await store.listActiveHolds()).find((held) => held.seats.some((seat) => seat.slotId === slot.slotId))?.tripId as string;
  const sessionKeys = (tripId: string) =>
    fake.calls
      .filter((call) => call.method === 'POST' && call.path === '/v1/checkout/sessions' && call.idempotencyKey?.includes(tripId))
      .map((call) => call.idempotencyKey);
  /** A checkout of two seats with a 60-minute hold whose session Stripe answered with a 500 it keeps under the key: 503, held. */
  const checkoutMetAKeptError = async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const options = { key: uniqueId('key'), holdMinutes: 60 };
    fake.failNextKeptUnderKey(1, 'sessions');
    expect((await checkout(body, options)).status).toBe(503);
    return { slot, body, options, tripId: await heldTripOf(slot) };
  };

  it('continues a retry with a 1430-minute hold, which already ends at the cap: the session asked for a second earlier, under another key', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    // One instant for the whole checkout: its hold (1430 + 5 + 5 minutes) ends exactly a day after it was made.
    const at = new Date();
    const options = { key: uniqueId('key'), holdMinutes: 1_430, clock: { now: () => at } };
    fake.failNextKeptUnderKey(1, 'sessions');
    expect(await checkout(body, options)).toMatchObject({ status: 503, body: { error: 'STRIPE_UNAVAILABLE' } });
    const tripId = await heldTripOf(slot);
    const heldUntil = (await store.getTrip(tripId))?.holdExpiresAt as string;

    const retried = await checkout(body, options);

    expect(retried).toMatchObject({ status: 200, body: { tripId, checkoutUrl: expect.stringContaining('/c/pay/cs_') } });
    expect(Date.parse(retried.body.expiresAt as string)).toBe(Date.parse(heldUntil) - 1_000);
    expect(new Set(sessionKeys(tripId)).size).toBe(2);
    expect(await store.getTrip(tripId)).toMatchObject({ status: 'pending_payment', checkoutUrl: retried.body.checkoutUrl });
  });

  it('kept twice in a row with a 1430-minute hold, which ends at the cap: each retry steps back a second to a key not asked yet, and a page comes', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    // The client retries a minute apart.
    const start = Date.now();
    let minute = 0;
    const options = { key: uniqueId('key'), holdMinutes: 1_430, clock: { now: () => new Date(start + minute * 60_000) } };
    fake.failNextKeptUnderKey(2, 'sessions');
    const statuses: number[] = [];
    for (; minute < 4; minute++) statuses.push((await checkout(body, options)).status);
    const tripId = await heldTripOf(slot);

    expect(statuses).toEqual([503, 503, 200, 200]);
    const keys = sessionKeys(tripId);
    // Never back to a key asked under before another (a spent one, whose replayed 500 would answer every retry).
    expect(keys.filter((key, index) => index > 0 && key !== keys[index - 1] && keys.slice(0, index).includes(key))).toEqual([]);
    expect(new Set(keys).size).toBe(3);
  });

  it('two retries at once after a kept error, one renewal held until the other recorded its page: one session made, both answer it', async () => {
    const { body, options, tripId } = await checkoutMetAKeptError();

    const held = holdFirstCommit(store);
    const first = checkout(body, { ...options, store: held.store });
    await held.reached;
    const second = await checkout(body, options);
    held.release();
    const firstAnswer = await first;

    expect(second.status).toBe(200);
    expect(firstAnswer).toMatchObject({ status: 200, body: { checkoutUrl: second.body.checkoutUrl } });
    expect(fake.calls.filter((call) => call.path === '/v1/checkout/sessions' && call.idempotencyKey?.includes(tripId) && call.status === 200)).toHaveLength(1);
    expect((await store.getTrip(tripId))?.checkoutUrl).toBe(second.body.checkoutUrl);
  });

  it('the hold sweeper releasing the hold between the renewal’s read and its write: 409, the seats back once, no page', async () => {
    const { slot, body, options, tripId } = await checkoutMetAKeptError();

    const held = holdFirstCommit(store);
    const retried = checkout(body, { ...options, store: held.store });
    await held.reached;
    const swept = await releaseExpiredHolds({ store, clock: { now: () => new Date(Date.now() + 3 * 3_600_000) }, ids: randomIds });
    held.release();

    expect(swept.released).toContain(tripId);
    expect(await retried).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING' } });
    expect(await readSlot(store, slot.slotId)).toMatchObject({ availableCount: 2, unheldCount: 2 });
    expect((await store.getTrip(tripId))?.checkoutUrl).toBeUndefined();
    expect(fake.calls.filter((call) => call.path === '/v1/checkout/sessions' && call.idempotencyKey?.includes(tripId) && call.status === 200)).toEqual([]);
  });

  it('continues a later retry after kept errors under the first key and the renewed one, with a 1440-minute hold, never past a day', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const options = { key: uniqueId('key'), holdMinutes: 1_440 };
    fake.failNextKeptUnderKey(2, 'sessions');

    const answers = [await checkout(body, options), await checkout(body, options), await checkout(body, options)];
    const tripId = await heldTripOf(slot);
    const trip = await store.getTrip(tripId);
    const paymentId = await pay(answers[2]?.body.checkoutUrl as string);

    expect(answers.map((answer) => answer.status)).toEqual([503, 503, 200]);
    expect(new Set(sessionKeys(tripId)).size).toBe(3);
    expect(Date.parse(trip?.holdExpiresAt as string)).toBeLessThanOrEqual(Date.parse(trip?.createdAt as string) + 24 * 3_600_000);
    expect(await store.getTrip(tripId)).toMatchObject({ status: 'booked', paymentId });
    expect(await readSlot(store, slot.slotId)).toMatchObject({ availableCount: 0 });
  });
});

describe('Stripe failing after the hold is stored', () => {
  it('continues a request retried after a server error Stripe keeps under the session key: the hold held on, the page asked under a new key, booked once', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    // A 60-minute hold: its session's key would be the same for the next half hour of retries.
    const sixtyMinutes = { holdMinutes: 60 };
    fake.failNextKeptUnderKey(1, 'sessions');
    const outage = await checkout(body, { key, ...sixtyMinutes });
    expect(outage).toMatchObject({ status: 503, body: { error: 'STRIPE_UNAVAILABLE' } });
    const tripId = (await store.listActiveHolds()).find((hold) => hold.seats.some((seat) => seat.slotId === slot.slotId))?.tripId as string;
    const heldUntil = (await store.getTrip(tripId))?.holdExpiresAt as string;
    const created = () => fake.calls.filter((call) => call.method === 'POST' && call.path === '/v1/checkout/sessions' && call.idempotencyKey?.includes(tripId));

    const retried = await checkout(body, { key, ...sixtyMinutes });
    const again = await checkout(body, { key, ...sixtyMinutes });
    const paymentId = await pay(retried.body.checkoutUrl as string);

    expect(retried).toMatchObject({ status: 200, body: { tripId, checkoutUrl: expect.stringContaining('/c/pay/cs_') } });
    expect(again.body.checkoutUrl).toBe(retried.body.checkoutUrl);
    // The kept 500, the same again to the retry, then the new key's session.
    expect(created().map((call) => call.status)).toEqual([500, 500, 200]);
    expect(new Set(created().map((call) => call.idempotencyKey)).size).toBe(2);
    expect(Date.parse(retried.body.expiresAt as string)).toBeGreaterThan(Date.parse(heldUntil));
    expect(await store.getTrip(tripId)).toMatchObject({ status: 'booked', paymentId });
    expect(await readSlot(store, slot.slotId)).toMatchObject({ availableCount: 0 });
  });

  it('continues a request retried with the same key when its session’s expiry is too near for Stripe: the hold is held on, and its page books it', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const sixMinutesAgo: Clock = { now: () => new Date(Date.now() - 6 * 60_000) };
    const outage = await checkout(body, {
      key,
      sessions: failingSessions(() => new PaymentGatewayUnavailableError('Stripe did not answer')),
      clock: sixMinutesAgo,
    });
    expect(outage).toMatchObject({ status: 503, body: { error: 'STRIPE_UNAVAILABLE' } });
    const hold = (await store.listActiveHolds()).find((candidate) => candidate.seats.some((seat) => seat.slotId === slot.slotId));
    const heldUntil = hold?.expiresAt as string;

    const retried = await checkout(body, { key });
    // What the sweeper would find just past the first expiry: not this hold, which moved in its index with its expiry.
    const expiredThen = await store.listExpiredHolds(new Date(Date.parse(heldUntil) + 1_000).toISOString(), 1_000);
    const trip = await store.getTrip(hold?.tripId as string);
    const paymentId = await pay(retried.body.checkoutUrl as string);

    expect(retried).toMatchObject({ status: 200, body: { tripId: hold?.tripId, checkoutUrl: expect.stringContaining('/c/pay/cs_') } });
    expect(Date.parse(retried.body.expiresAt as string)).toBeGreaterThan(Date.parse(heldUntil));
    expect(trip?.holdExpiresAt).toBe(retried.body.expiresAt);
    expect(expiredThen.map((expired) => expired.tripId)).not.toContain(hold?.tripId);
    expect(await store.getTrip(hold?.tripId as string)).toMatchObject({ status: 'booked', paymentId });
    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await counts(slot)).toEqual({ available: 0, unheld: 0 });
  });

  it('holds on once for two such retries at the same moment, which answer one page', async () => {
    const slot = await seedSlot(store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const sixMinutesAgo: Clock = { now: () => new Date(Date.now() - 6 * 60_000) };
    await checkout(body, { key, sessions: failingSessions(() => new PaymentGatewayUnavailableError('Stripe did not answer')), clock: sixMinutesAgo });

    const [a, b] = await Promise.all([checkout(body, { key }), checkout(body, { key })]);

    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.checkoutUrl).toBe(b.body.checkoutUrl);
    expect(a.body.expiresAt).toBe(b.body.expiresAt);
    const trip = await store.getTrip(a.body.tripId as string);
    expect(trip?.checkoutUrl).toBe(a.body.checkoutUrl);
    expect((await store.listAudit('trip', a.body.tripId as string)).filter((entry) => entry.eventType === 'trip.hold_renewed')).toHaveLength(1);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 0 });
  });

  it('continues a request retried with the same key a minute after Stripe was unreachable', async () => {
    const slot = await seedSlot(store, { capacity: 3 });
    const body = request([[slot, 1]]);
    const key = uniqueId('key');
    const sessions = failingSessions(() => new PaymentGatewayUnavailableError('Stripe did not answer'));
    const aMinuteAgo: Clock = { now: () => new Date(Date.now() - 60_000) };

    const outage = await checkout(body, { key, sessions, clock: aMinuteAgo });
    expect(outage).toMatchObject({ status: 503, body: { error: 'STRIPE_UNAVAILABLE' } });

    const retried = await checkout(body, { key, sessions });

    expect(retried).toMatchObject({ status: 200, body: { tripId: expect.any(String), checkoutUrl: expect.stringContaining('/c/pay/cs_') } });
  });

  it('does not keep the last seat held by a trip nobody can pay when Stripe was unreachable and no key was sent', async () => {
    const slot = await seedSlot(store, { capacity: 1 });
    const body = request([[slot, 1]]);
    const sessions = failingSessions(() => new PaymentGatewayUnavailableError('Stripe did not answer'));

    const outage = await checkout(body, { sessions });
    expect(outage.status).toBe(503);
    const retried = await checkout(body, { sessions });

    expect(retried.status).toBe(201);
    expect(await counts(slot)).toEqual({ available: 1, unheld: 0 });
    await expectHoldsAddUp([slot]);
  });

  it('gives the seats back when Stripe refuses the session for good', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const holdsBefore = new Set((await store.listActiveHolds()).map((hold) => hold.tripId));
    const sessions = failingSessions(() => new Error('Stripe refused the session (invalid_request_error)'));

    const refused = await checkout(request([[slot, 2]]), { sessions });

    expect(refused.status).toBe(500);
    const left = (await store.listActiveHolds()).filter((hold) => !holdsBefore.has(hold.tripId) && hold.seats.some((seat) => seat.slotId === slot.slotId));
    expect(left).toEqual([]);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });
});

describe('hold lengths', () => {
  it('opens a checkout with the longest hold the configuration accepts (1440 minutes)', async () => {
    const slot = await seedSlot(store, { capacity: 2 });

    const answer = await checkout(request([[slot, 1]]), { holdMinutes: 1440 });

    expect(answer.status).toBe(201);
  });
});

describe('holds of trips that can no longer book', () => {
  it('releases the hold of a paid trip refunded because its slot was blocked', async () => {
    const slot = await seedSlot(store, { capacity: 3 });
    const answer = await checkout(request([[slot, 2]]));
    expect(answer.status).toBe(201);
    const tripId = answer.body.tripId as string;
    expect((await setSlotBlocked(deps(store), slot.slotId, true, 'ops')).ok).toBe(true);

    await fetch(`${answer.body.checkoutUrl}/pay`, { method: 'POST', redirect: 'manual' });
    const trip = await store.getTrip(tripId);
    expect(trip).toMatchObject({ status: 'refunded', statusReason: 'SLOT_BLOCKED' });
    expect(fake.totalRefunded(trip!.paymentId as string)).toBe(trip!.amount);
    await setSlotBlocked(deps(store), slot.slotId, false, 'ops');

    expect((await store.getHold(tripId))?.status).toBe('released');
    expect(await counts(slot)).toEqual({ available: 3, unheld: 3 });
    expect((await checkout(request([[slot, 3]]))).status).toBe(201);
  });
});

describe('operators on a slot with held seats', () => {
  it('refuses a capacity cut below the held seats at once, as a refusal and not a retryable failure', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const ops = testStore(client);
    const slot = await seedSlot(ops, { capacity: 4 });
    expect((await checkout(request([[slot, 3]]), { store: ops })).status).toBe(201);
    const writes = faults.calls.get('TransactWriteItemsCommand') ?? 0;

    const cut = await setSlotCapacity(deps(ops), slot.slotId, 2, 'ops');

    expect(cut).toMatchObject({ ok: false, retryable: false });
    expect((cut as { errorCode?: string }).errorCode).not.toBe('TRANSACTION_FAILED');
    expect((faults.calls.get('TransactWriteItemsCommand') ?? 0) - writes).toBeLessThanOrEqual(1);
    expect(await counts(slot, ops)).toEqual({ available: 4, unheld: 1 });
  });

  it('reports the seats that are actually free when an adjustment is refused because they are held', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    expect((await checkout(request([[slot, 2]]))).status).toBe(201);

    const taken = await adjustAvailability(deps(store), { slotId: slot.slotId, delta: -1, reason: 'broken seat' });

    expect(taken).toMatchObject({ ok: false, errorCode: 'INSUFFICIENT_AVAILABILITY', slots: [{ slotId: slot.slotId, requested: 1, available: 0 }] });
  });
});

describe('the caller’s user from a JWT', () => {
  it('checks out for a token whose subject is an Auth0-style id (provider|id), without the body naming a user', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const event = apiGatewayEvent({
      path: CHECKOUT_PATH,
      body: JSON.stringify({ items: [{ slotId: slot.slotId, guestCount: 1 }], ...urls }),
      headers: { 'content-type': 'application/json' },
    });
    const withToken = {
      ...event,
      requestContext: { ...event.requestContext, authorizer: { jwt: { claims: { sub: 'auth0|5f7c8ec7c33c6c004bbafe82' }, scopes: [] } } },
    };

    const response = await handler()(withToken);

    expect(response.statusCode).toBe(201);
  });

  it.each<{ name: string; claims: Record<string, string | number> }>([
    { name: 'no sub (a machine token)', claims: { iss: 'https://issuer.example', aud: 'pulau', client_id: 'some-machine' } },
    { name: 'an empty sub', claims: { sub: '' } },
    { name: 'a sub that is not a string', claims: { sub: 42 } },
  ])('refuses a token with $name (403 FORBIDDEN) instead of taking the user from the body, and holds nothing', async ({ claims }) => {
    const slot = await seedSlot(store, { capacity: 2 });
    const sessions = fake.sessions().length;
    const event = apiGatewayEvent({ path: CHECKOUT_PATH, body: JSON.stringify(request([[slot, 1]])), headers: { 'content-type': 'application/json' } });
    const withToken = { ...event, requestContext: { ...event.requestContext, authorizer: { jwt: { claims, scopes: [] } } } };

    const response = await handler()(withToken);

    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body ?? '{}')).toMatchObject({ error: 'FORBIDDEN', message: expect.stringMatching(/names no user/) });
    expect(fake.sessions()).toHaveLength(sessions);
    expect(await counts(slot)).toEqual({ available: 2, unheld: 2 });
  });
});

describe('a checkout retried across the upgrade that marks sessions with the table', () => {
  /** The version before: sessions without the table's mark; Stripe makes the session, and its answer is lost on the way. */
  function beforeTheUpgradeAnswerLost(): CheckoutSessions {
    const old = new StripeCheckoutSessions(async () => fake.client());
    return {
      async createSession(request) {
        await old.createSession(request);
        throw new PaymentGatewayUnavailableError('Stripe did not answer in time (answer lost)');
      },
    };
  }

  async function post(sessions: CheckoutSessions, slot: Slot, userId: string, key: string) {
    const response = await handler({ sessions })(
      apiGatewayEvent({
        path: CHECKOUT_PATH,
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ userId, items: [{ slotId: slot.slotId, guestCount: 2 }], successUrl: 'https://e.com/ok', cancelUrl: 'https://e.com/no' }),
      }),
    );
    return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
  }

  const unheld = async (slot: Slot) => unheldSeats((await readSlot(store, slot.slotId)) as Slot);

  it.each([
    ['by the version before (as a control)', () => new StripeCheckoutSessions(async () => fake.client())],
    ['after the upgrade (the table marked, under a key of its own)', () => new StripeCheckoutSessions(async () => fake.client(), undefined, store.tableName)],
  ])('with the same Idempotency-Key, %s, opens the payment page, the seats still held', async (_when, retryWith) => {
    const slot = await seedSlot(store, { capacity: 2 });
    const userId = uniqueId('user');
    const key = uniqueId('key');

    const first = await post(beforeTheUpgradeAnswerLost(), slot, userId, key);
    expect(first.status).toBe(503);
    expect(await unheld(slot)).toBe(0);

    const retried = await post(retryWith(), slot, userId, key);

    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ checkoutUrl: expect.any(String) });
    expect(await unheld(slot)).toBe(0);
    const trip = await store.getTrip(retried.body.tripId as string);
    expect(fake.session(trip?.checkoutSessionId as string)).toMatchObject({ status: 'open' });
  });

  it('with %7BTRIP_ID%7D in its success URL, asked for by the version that sent it as written: the retry, which fills it, opens its page', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const userId = uniqueId('user');
    const key = uniqueId('key');
    const written = 'https://shop.example/trips/%7BTRIP_ID%7D';
    const body = JSON.stringify({ userId, items: [{ slotId: slot.slotId, guestCount: 2 }], successUrl: written, cancelUrl: 'https://e.com/no' });
    const send = async (sessions: CheckoutSessions) => {
      const response = await handler({ sessions })(
        apiGatewayEvent({ path: CHECKOUT_PATH, headers: { 'content-type': 'application/json', 'idempotency-key': key }, body }),
      );
      return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
    };
    const current = new StripeCheckoutSessions(async () => fake.client(), undefined, store.tableName);
    // The version before: the URL sent to Stripe as written; Stripe makes the session, and its answer is lost.
    const sentAsWritten: CheckoutSessions = {
      async createSession(request) {
        await current.createSession({ ...request, successUrl: written });
        throw new PaymentGatewayUnavailableError('Stripe did not answer in time (answer lost)');
      },
    };

    expect((await send(sentAsWritten)).status).toBe(503);
    const retried = await send(current);

    expect(retried.status).toBe(200);
    const trip = await store.getTrip(retried.body.tripId as string);
    expect(fake.session(trip?.checkoutSessionId as string)).toMatchObject({ status: 'open', successUrl: `https://shop.example/trips/${trip?.tripId}` });
    expect(await unheld(slot)).toBe(0);
  });
});
