// A call to Stripe never outlives the Lambda invocation that makes it: fitted into the time left, or not made at all, and
// what it was for (a refund, a payment page, a lookup) resumes on the next delivery or request, never done twice.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHECKOUT_PATH } from '../../lambdas/checkout/checkout-contract';
import { unheldSeats } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import { InvocationDeadline } from '../../lambdas/shared/invocation-deadline';
import { ANSWER_RESERVE_MS } from '../../lambdas/shared/stripe/stripe-call-time';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import { StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { apiGatewayEvent, tripRequest } from '../../scripts/dev-kit/api-gateway-events';
import { paymentIntentId, SIGNING_SECRET, signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { coldStart, invocationWith } from '../support/lambda-entry';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../../scripts/dev-kit/secrets-manager-stand-in';
import { SECRET_READ } from '../../lambdas/shared/secrets-manager';
import { misbehavingStripe, slowly, trickle, type MisbehavingStripe } from '../support/misbehaving-stripe';
import { readSlot, seedSlot, testStore, uniqueId } from '../support/store';
import { unbookablePaidTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
const misbehaving: MisbehavingStripe[] = [];
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all([fake.close(), ...misbehaving.splice(0).map((server) => server.close())]);
});

async function serve(respond: Parameters<typeof misbehavingStripe>[0]): Promise<MisbehavingStripe> {
  const server = await misbehavingStripe(respond);
  misbehaving.push(server);
  return server;
}

/** The Lambda functions' own Stripe client, at `url`. */
const clientAt = (url: string) => async () => createStripeClient({ apiKey: 'sk_test_deadline', apiBase: url });

/** How long `run` took to settle, and what it settled with (its error, if it failed). */
async function timed<T>(run: () => Promise<T>): Promise<{ took: number; outcome: T | unknown }> {
  const started = Date.now();
  const outcome = await run().catch((error: unknown) => error);
  return { took: Date.now() - started, outcome };
}

const store = testStore();

/** A slot's seats not booked, and of those the ones no checkout holds. */
async function seatsOf(slotId: string): Promise<{ available: number; unheld: number }> {
  const slot = await readSlot(store, slotId);
  return { available: slot?.availableCount ?? -1, unheld: slot ? unheldSeats(slot) : -1 };
}

/** Stripe's calls from `from` on, as `METHOD /path status` (0: no answer was sent). */
const callsSince = (from: number): string[] => fake.calls.slice(from).map((call) => `${call.method} ${call.path.split('?')[0]} ${call.status}`);

describe('the webhook, with a deadline as a Lambda invocation has one', () => {
  it('a refund Stripe makes but never answers: 500 before the invocation ends, then its redelivery finds it, refunded once', async () => {
    const { trip, paymentId, paid } = await unbookablePaidTrip(store, fake);
    const deadline = new InvocationDeadline();
    const webhook = webhookHarness(fake, { store, deadline });
    const from = fake.calls.length;
    fake.leaveNextRefundsUnanswered(1);

    const started = Date.now();
    const cut = await deadline.during(invocationWith(6_000), () => webhook.send(signedRequest(paid)));
    const took = Date.now() - started;

    expect(cut).toEqual({ status: 500, body: { received: false, error: 'INTERNAL_ERROR' } });
    expect(took).toBeLessThan(6_000);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refund_pending', statusReason: 'SLOT_BLOCKED' });
    expect((await store.getPaymentRecord(paymentId))?.refunds.map((refund) => refund.status)).toEqual(['requested']);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);

    const redelivered = await deadline.during(invocationWith(20_000), () => webhook.send(signedRequest(paid)));

    expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'refunded', reason: 'SLOT_BLOCKED' } });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refunded' });
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    // The refund was made by the request left unanswered; the redelivery looked it up by its key and asked nothing again.
    expect(callsSince(from)).toEqual(['POST /v1/refunds 0', 'GET /v1/refunds 200']);
  });

  it('too little time left to ask Stripe and record its answer: Stripe is not asked, 500, and the redelivery refunds once', async () => {
    const { trip, paymentId, paid } = await unbookablePaidTrip(store, fake);
    const deadline = new InvocationDeadline();
    const webhook = webhookHarness(fake, { store, deadline });
    const from = fake.calls.length;

    const late = await deadline.during(invocationWith(2_000), () => webhook.send(signedRequest(paid)));

    expect(late.status).toBe(500);
    expect(callsSince(from)).toEqual([]);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refund_pending' });
    expect((await store.getPaymentRecord(paymentId))?.refunds.map((refund) => refund.status)).toEqual(['requested']);

    const redelivered = await deadline.during(invocationWith(20_000), () => webhook.send(signedRequest(paid)));

    expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
  });

  it('two deliveries at once in one process each keep to their own invocation: 2 s left asks nothing, 20 s refunds', async () => {
    const short = await unbookablePaidTrip(store, fake);
    const long = await unbookablePaidTrip(store, fake);
    const deadline = new InvocationDeadline();
    const webhook = webhookHarness(fake, { store, deadline });

    const [late, inTime] = await Promise.all([
      deadline.during(invocationWith(2_000), () => webhook.send(signedRequest(short.paid))),
      deadline.during(invocationWith(20_000), () => webhook.send(signedRequest(long.paid))),
    ]);

    expect(late.status).toBe(500);
    expect(inTime).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.refundsOf(short.paymentId)).toEqual([]);
    expect((await store.getPaymentRecord(short.paymentId))?.refunds.map((refund) => refund.status)).toEqual(['requested']);
    expect(fake.totalRefunded(long.paymentId)).toBe(long.trip.amount);
  });

  it("with a Lambda's 20 s, Stripe's own retry fits: a refund answered 500 once is made on its retry, in one delivery", async () => {
    const { trip, paymentId, paid } = await unbookablePaidTrip(store, fake);
    const deadline = new InvocationDeadline();
    const webhook = webhookHarness(fake, { store, deadline });
    const from = fake.calls.length;
    fake.failNext(1);

    const delivered = await deadline.during(invocationWith(20_000), () => webhook.send(signedRequest(paid)));

    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(callsSince(from)).toEqual(['POST /v1/refunds 500', 'POST /v1/refunds 200']);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
  });
});

describe('the Stripe adapters, with a deadline', () => {
  const refundOf = (paymentId: string) => ({ paymentId, amount: 9_000, refundKey: `refund-${paymentId}` });
  const EVENT_QUERY = { types: ['checkout.session.completed'], createdFrom: 1_600_000_000, createdTo: 1_700_000_000 };
  /** Page `n` of `pages` of Stripe's list of events, one event each, newest first. */
  const eventPages = (pages: number) => (n: number) => ({
    object: 'list',
    url: '/v1/events',
    has_more: n < pages,
    data: [
      { id: `evt_page_${n}`, object: 'event', type: 'checkout.session.completed', created: 1_700_000_000 - n, pending_webhooks: n - 1, data: { object: {} } },
    ],
  });

  it('cut an answer that trickles in when its attempt’s time is up, not when the line falls silent', async () => {
    const refund = { id: 're_trickled', object: 'refund', status: 'succeeded', amount: 9_000, created: 1_700_000_000, metadata: {} };
    const stripe = await serve(trickle(refund, 10_000));
    const deadline = new InvocationDeadline();
    const gateway = new StripePaymentGateway(clientAt(stripe.url), deadline);

    const { took, outcome } = await timed(() => deadline.during(invocationWith(6_000), () => gateway.refund(refundOf('pi_trickled1'))));

    expect(outcome).toBeInstanceOf(PaymentGatewayUnavailableError);
    expect(took).toBeLessThan(6_000 - ANSWER_RESERVE_MS);
    expect(stripe.requests).toEqual(['POST /v1/refunds']);
  });

  it('fit each page of Stripe’s events into the time left as it is asked: 12 pages of 1 s each stop, in time, in a 6 s invocation', async () => {
    const stripe = await serve(slowly(1_000, eventPages(12)));
    const deadline = new InvocationDeadline();
    const events = new StripeEventSource(clientAt(stripe.url), deadline);

    const { took, outcome } = await timed(() => deadline.during(invocationWith(6_000), () => events.listEvents(EVENT_QUERY)));

    expect(outcome).toBeInstanceOf(PaymentGatewayUnavailableError);
    expect(took).toBeLessThan(6_000 - ANSWER_RESERVE_MS);
    expect(stripe.requests.length).toBeLessThan(12);
  });

  it('list every page of Stripe’s events, oldest first, when there is time', async () => {
    const stripe = await serve(slowly(10, eventPages(3)));
    const deadline = new InvocationDeadline();
    const events = new StripeEventSource(clientAt(stripe.url), deadline);

    const listed = await deadline.during(invocationWith(20_000), () => events.listEvents(EVENT_QUERY));

    if ('listedDownTo' in listed) expect.fail('listed in part only');
    expect(listed.map((event) => [event.id, event.created, event.pendingDeliveries])).toEqual([
      ['evt_page_3', 1_699_999_997, 2],
      ['evt_page_2', 1_699_999_998, 1],
      ['evt_page_1', 1_699_999_999, 0],
    ]);
    expect(stripe.requests).toEqual(['GET /v1/events', 'GET /v1/events', 'GET /v1/events']);
  });

  it('count the time a cold start takes to get its client (the secret, the SDK) before fitting the call into what is left', async () => {
    const stripe = await serve(() => {
      // Never answers.
    });
    const deadline = new InvocationDeadline();
    const slowToGet = async () => {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return clientAt(stripe.url)();
    };
    const gateway = new StripePaymentGateway(slowToGet, deadline);

    const { took, outcome } = await timed(() => deadline.during(invocationWith(6_000), () => gateway.refund(refundOf('pi_coldstart1'))));

    expect(outcome).toBeInstanceOf(PaymentGatewayUnavailableError);
    expect(took).toBeLessThan(6_000 - ANSWER_RESERVE_MS);
    expect(stripe.requests).toEqual([]);
  });

  it('read Stripe’s answers through that client: a refund replayed under its key, and Stripe’s clock from its Date header', async () => {
    const paymentId = paymentIntentId();
    fake.registerPayment(paymentId, 9_000);
    const threeHours = 3 * 60 * 60 * 1000;
    fake.advance(threeHours);
    const gateway = new StripePaymentGateway(clientAt(fake.url), new InvocationDeadline());
    const from = Math.floor((Date.now() + threeHours) / 1000);

    const first = await gateway.refund(refundOf(paymentId));
    const again = await gateway.refund(refundOf(paymentId));
    const found = await gateway.findRefund(paymentId, `refund-${paymentId}`);
    const to = Math.floor((Date.now() + threeHours) / 1000);

    expect(first).toMatchObject({ kind: 'created', status: 'succeeded' });
    expect(first).not.toHaveProperty('replayed');
    expect(again).toMatchObject({ kind: 'created', replayed: true, refundId: (first as { refundId: string }).refundId });
    for (const answer of [first, again, found]) {
      expect((answer as { answeredAt: number }).answeredAt).toBeGreaterThanOrEqual(from);
      expect((answer as { answeredAt: number }).answeredAt).toBeLessThanOrEqual(to);
    }
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });
});

describe('the Lambda entry points keep to the time their context gives', () => {
  it('the webhook: with 2 s left Stripe is not asked and Stripe is answered 500; with 20 s the redelivery refunds once', async () => {
    const { trip, paymentId, paid } = await unbookablePaidTrip(store, fake);
    const { handler } = await coldStart(() => import('../../lambdas/stripe-webhook/handler'), { apiKey: 'sk_test_deadline', stripeApiBase: fake.url });
    const from = fake.calls.length;

    const late = await handler(signedRequest(paid), invocationWith(2_000));
    expect(late.statusCode).toBe(500);
    expect(callsSince(from)).toEqual([]);

    const redelivered = await handler(signedRequest(paid), invocationWith(20_000));
    expect(redelivered.statusCode).toBe(200);
    expect(JSON.parse(redelivered.body ?? '{}')).toMatchObject({ outcome: 'refunded' });
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });

  it('POST /checkout: with 2 s left no payment page is asked for, 503 STRIPE_UNAVAILABLE, and the seats go back', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const { handler } = await coldStart(() => import('../../lambdas/checkout/handler'), { apiKey: 'sk_test_deadline', stripeApiBase: fake.url });
    const body = JSON.stringify({
      userId: uniqueId('user'),
      items: [{ slotId: slot.slotId, guestCount: 2 }],
      successUrl: 'https://example.com/t/{TRIP_ID}',
      cancelUrl: 'https://example.com/c',
    });
    const from = fake.calls.length;

    const late = await handler(apiGatewayEvent({ path: CHECKOUT_PATH, headers: { 'content-type': 'application/json' }, body }), invocationWith(2_000));

    expect(late.statusCode).toBe(503);
    expect(JSON.parse(late.body ?? '{}')).toMatchObject({ error: 'STRIPE_UNAVAILABLE' });
    expect(callsSince(from)).toEqual([]);
    expect(fake.sessions()).toEqual([]);
    expect(await seatsOf(slot.slotId)).toEqual({ available: 2, unheld: 2 });

    const inTime = await handler(apiGatewayEvent({ path: CHECKOUT_PATH, headers: { 'content-type': 'application/json' }, body }), invocationWith(20_000));
    expect(inTime.statusCode).toBe(201);
    expect(fake.sessions()).toHaveLength(1);
    expect(await seatsOf(slot.slotId)).toEqual({ available: 2, unheld: 0 });
  });

  it('GET /trips/{tripId}: with 2 s left Stripe is not asked about the paid session, and the trip is answered as stored', async () => {
    const checkedOut = await checkedOutTrip(store, fake);
    await checkedOut.pay();
    const stored = await store.getTrip(checkedOut.tripId);
    expect(stored).toBeDefined();
    const { handler } = await coldStart(() => import('../../lambdas/checkout/handler'), { apiKey: 'sk_test_deadline', stripeApiBase: fake.url });
    const from = fake.calls.length;

    const shown = await handler(tripRequest(checkedOut.tripId, stored?.userId ?? ''), invocationWith(2_000));

    expect(shown.statusCode).toBe(200);
    expect(JSON.parse(shown.body ?? '{}')).toMatchObject({ tripId: checkedOut.tripId, status: 'pending_payment', bookings: [] });
    expect(callsSince(from)).toEqual([]);
    expect((await store.getTrip(checkedOut.tripId))?.status).toBe('pending_payment');
  });
});

describe('the Stripe secret, read from Secrets Manager as in AWS', () => {
  let secretsManager: SecretsManagerStandIn;
  beforeEach(async () => {
    secretsManager = await startSecretsManagerStandIn(JSON.stringify({ apiKey: 'sk_test_from_secret', webhookSigningSecrets: [SIGNING_SECRET] }));
    // Only the secret's key is Stripe's: a call made with the environment's would be refused.
    fake.refuseApiKey('sk_test_from_environment');
  });
  afterEach(async () => {
    await secretsManager.close();
  });
  const settings = () => ({ apiKey: 'sk_test_from_environment', stripeApiBase: fake.url, secretsManager: secretsManager.endpoint });

  it('the webhook: a Secrets Manager that never answers fails the delivery (500), not the invocation; once it answers, the redelivery refunds with its key', async () => {
    const { trip, paymentId, paid } = await unbookablePaidTrip(store, fake);
    const { handler } = await coldStart(() => import('../../lambdas/stripe-webhook/handler'), settings());
    const from = fake.calls.length;

    secretsManager.silent(true);
    const { took, outcome } = await timed(() => handler(signedRequest(paid), invocationWith(5_000)));
    expect(outcome).toMatchObject({ statusCode: 500 });
    expect(took).toBeLessThan(5_000 - ANSWER_RESERVE_MS + 1_000);
    expect(callsSince(from)).toEqual([]);
    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');

    // The read given up ends by its own bounds, giving its connection back; then Secrets Manager answers again.
    await secretsManager.givenUp(SECRET_READ.attempts);
    secretsManager.silent(false);
    const redelivered = await handler(signedRequest(paid), invocationWith(20_000));
    expect(redelivered.statusCode).toBe(200);
    expect(JSON.parse(redelivered.body ?? '{}')).toMatchObject({ outcome: 'refunded' });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);

    // Kept: with no time left to read it, the secret already read still verifies the next delivery (answered as before).
    secretsManager.silent(true);
    const reads = secretsManager.reads();
    const again = await handler(signedRequest(paid), invocationWith(1_000));
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body ?? '{}')).toMatchObject({ outcome: 'refunded' });
    expect(secretsManager.reads()).toBe(reads);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });

  it('POST /checkout: the API key not read in time is Stripe not asked, 503 STRIPE_UNAVAILABLE; the seats stay held for the same Idempotency-Key, which then opens the page', async () => {
    const slot = await seedSlot(store, { capacity: 2 });
    const { handler } = await coldStart(() => import('../../lambdas/checkout/handler'), settings());
    const body = JSON.stringify({
      userId: uniqueId('user'),
      items: [{ slotId: slot.slotId, guestCount: 2 }],
      successUrl: 'https://example.com/t/{TRIP_ID}',
      cancelUrl: 'https://example.com/c',
    });
    const request = (key?: string) =>
      apiGatewayEvent({ path: CHECKOUT_PATH, headers: { 'content-type': 'application/json', ...(key !== undefined && { 'idempotency-key': key }) }, body });

    secretsManager.silent(true);
    const unkeyed = await handler(request(), invocationWith(5_000));
    expect(unkeyed.statusCode).toBe(503);
    expect(JSON.parse(unkeyed.body ?? '{}')).toMatchObject({ error: 'STRIPE_UNAVAILABLE' });
    expect(await seatsOf(slot.slotId)).toEqual({ available: 2, unheld: 2 });

    const keyed = await handler(request('checkout-secret-1'), invocationWith(5_000));
    expect(keyed.statusCode).toBe(503);
    expect(JSON.parse(keyed.body ?? '{}')).toMatchObject({ error: 'STRIPE_UNAVAILABLE', message: expect.stringContaining('same Idempotency-Key') });
    expect(keyed.headers).toMatchObject({ 'retry-after': '5' });
    expect(await seatsOf(slot.slotId)).toEqual({ available: 2, unheld: 0 });
    expect(fake.sessions()).toEqual([]);

    await secretsManager.givenUp(SECRET_READ.attempts);
    secretsManager.silent(false);
    const retried = await handler(request('checkout-secret-1'), invocationWith(20_000));
    // 200: the request continues the trip its first attempt stored.
    expect(retried.statusCode).toBe(200);
    expect(JSON.parse(retried.body ?? '{}')).toMatchObject({ checkoutUrl: expect.any(String) });
    expect(fake.sessions()).toHaveLength(1);
    expect(await seatsOf(slot.slotId)).toEqual({ available: 2, unheld: 0 });
  });
});
