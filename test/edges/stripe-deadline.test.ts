// A call to Stripe never outlives the Lambda invocation that makes it: fitted into the time left, or not made at all, and
// what it was for (a refund, a payment page, a lookup) resumes on the next delivery or request, never done twice.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHECKOUT_PATH, TRIP_PATH } from '../../lambdas/checkout/checkout-contract';
import { InvocationDeadline } from '../../lambdas/shared/invocation-deadline';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { coldStart, invocationWith } from '../support/lambda-entry';
import { readSlot, seedSlot, testStore, uniqueId } from '../support/store';
import { unbookablePaidTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await fake.close();
});

const store = testStore();

/** Stripe's calls from `from` on, as `METHOD /path status` (0: no answer was sent). */
const callsSince = (from: number): string[] => fake.calls.slice(from).map((call) => `${call.method} ${call.path.split('?')[0]} ${call.status}`);

describe('the webhook, with a deadline as a Lambda invocation has one', () => {
  it('a refund Stripe makes but never answers: 500 before the invocation ends, then its redelivery finds it, refunded once', async () => {
    const { trip, paymentId, paid } = await unbookablePaidTrip(store, fake);
    const deadline = new InvocationDeadline();
    const webhook = webhookHarness(fake, { store, deadline });
    const from = fake.calls.length;
    fake.leaveNextRefundsUnanswered(1);

    deadline.begin(invocationWith(6_000));
    const started = Date.now();
    const cut = await webhook.send(signedRequest(paid));
    const took = Date.now() - started;

    expect(cut).toEqual({ status: 500, body: { received: false, error: 'INTERNAL_ERROR' } });
    expect(took).toBeLessThan(6_000);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refund_pending', statusReason: 'SLOT_BLOCKED' });
    expect((await store.getPaymentRecord(paymentId))?.refunds.map((refund) => refund.status)).toEqual(['requested']);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);

    deadline.begin(invocationWith(20_000));
    const redelivered = await webhook.send(signedRequest(paid));

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

    deadline.begin(invocationWith(2_000));
    const late = await webhook.send(signedRequest(paid));

    expect(late.status).toBe(500);
    expect(callsSince(from)).toEqual([]);
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refund_pending' });
    expect((await store.getPaymentRecord(paymentId))?.refunds.map((refund) => refund.status)).toEqual(['requested']);

    deadline.begin(invocationWith(20_000));
    const redelivered = await webhook.send(signedRequest(paid));

    expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
  });

  it("with a Lambda's 20 s, Stripe's own retry fits: a refund answered 500 once is made on its retry, in one delivery", async () => {
    const { trip, paymentId, paid } = await unbookablePaidTrip(store, fake);
    const deadline = new InvocationDeadline();
    const webhook = webhookHarness(fake, { store, deadline });
    const from = fake.calls.length;
    fake.failNext(1);

    deadline.begin(invocationWith(20_000));
    const delivered = await webhook.send(signedRequest(paid));

    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(callsSince(from)).toEqual(['POST /v1/refunds 500', 'POST /v1/refunds 200']);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
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
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(2);

    const inTime = await handler(apiGatewayEvent({ path: CHECKOUT_PATH, headers: { 'content-type': 'application/json' }, body }), invocationWith(20_000));
    expect(inTime.statusCode).toBe(201);
    expect(fake.sessions()).toHaveLength(1);
  });

  it('GET /trips/{tripId}: with 2 s left Stripe is not asked about the paid session, and the trip is answered as stored', async () => {
    const checkedOut = await checkedOutTrip(store, fake);
    await checkedOut.pay();
    const userId = (await store.getTrip(checkedOut.tripId))?.userId;
    const { handler } = await coldStart(() => import('../../lambdas/checkout/handler'), { apiKey: 'sk_test_deadline', stripeApiBase: fake.url });
    const from = fake.calls.length;

    const shown = await handler(
      apiGatewayEvent({
        method: 'GET',
        path: `/trips/${checkedOut.tripId}`,
        routeKey: `GET ${TRIP_PATH}`,
        pathParameters: { tripId: checkedOut.tripId },
        rawQueryString: `userId=${userId}`,
      }),
      invocationWith(2_000),
    );

    expect(shown.statusCode).toBe(200);
    expect(JSON.parse(shown.body ?? '{}')).toMatchObject({ tripId: checkedOut.tripId, status: 'pending_payment', bookings: [] });
    expect(callsSince(from)).toEqual([]);
    expect((await store.getTrip(checkedOut.tripId))?.status).toBe('pending_payment');
  });
});
