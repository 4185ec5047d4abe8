// The Stripe fake's Checkout Sessions, driven as our code and a customer's browser drive Stripe: a stripe-node client creates them, plain HTTP clicks through the hosted page, and a webhook receiver verifies every signed event.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STRIPE_API_VERSION, STRIPE_ID_PATTERNS } from '../../lambdas/shared/stripe/stripe-contract';
import { headerOfAnswer } from '../../lambdas/shared/stripe/stripe-gateway';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { refusalOf } from '../support/stripe-refusal';

const SECRET = 'whsec_checkout_fake_test';
/** The fake's clock stands still at this instant unless a test moves it. */
const NOW_S = Math.floor(Date.UTC(2026, 2, 14, 9, 30) / 1000);
const MINUTE_S = 60;
const HOUR_S = 60 * MINUTE_S;
const SUCCESS_URL = 'https://pulau.test/trips/trip-42/paid?session_id={CHECKOUT_SESSION_ID}';
const CANCEL_URL = 'https://pulau.test/trips/trip-42/cancelled';

/** A webhook endpoint: keeps what it is sent, answers 400 to a bad signature and `answer` otherwise. */
interface Receiver {
  readonly url: string;
  /** Events whose signature stripe-node verified, in order received. */
  readonly events: Stripe.Event[];
  readonly rejected: string[];
  answer: { status: number; body: string };
  close(): Promise<void>;
}

async function startReceiver(secret: string): Promise<Receiver> {
  const verifier = new Stripe('sk_test_receiver');
  const receiver: Omit<Receiver, 'url' | 'close'> = { events: [], rejected: [], answer: { status: 200, body: '{"received":true}' } };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const payload = Buffer.concat(chunks).toString('utf8');
      try {
        receiver.events.push(verifier.webhooks.constructEvent(payload, request.headers['stripe-signature'] ?? '', secret));
      } catch (error) {
        receiver.rejected.push(String(error));
        response.writeHead(400).end('bad signature');
        return;
      }
      response.writeHead(receiver.answer.status, { 'content-type': 'application/json' }).end(receiver.answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

let receiver: Receiver;
let fake: StripeFake;
let stripe: Stripe;
beforeEach(async () => {
  receiver = await startReceiver(SECRET);
  fake = await startStripeFake({ now: () => NOW_S * 1000, webhook: { url: receiver.url, secret: SECRET } });
  stripe = fake.client();
});
afterEach(async () => {
  await fake.close();
  await receiver.close();
});

/** What our checkout sends: two line items worth €100.00 in all, our trip mark on the session and on its PaymentIntent. */
/** Changes to the valid parameters below; a field set to `undefined` is left out of the request, to test its absence. */
type ParamChanges = { [K in keyof Stripe.Checkout.SessionCreateParams]?: Stripe.Checkout.SessionCreateParams[K] | undefined };

function checkoutParams(overrides: ParamChanges = {}): Stripe.Checkout.SessionCreateParams {
  const mark = { pulau_trip_id: 'trip-42', userId: 'user-7' };
  return {
    mode: 'payment',
    client_reference_id: 'trip-42',
    metadata: mark,
    payment_intent_data: { metadata: mark },
    line_items: [
      { quantity: 2, price_data: { currency: 'eur', unit_amount: 4_500, product_data: { name: 'Snorkelling at <Menjangan> & "lunch"' } } },
      { quantity: 1, price_data: { currency: 'eur', unit_amount: 1_000, product_data: { name: 'Harbour transfer' } } },
    ],
    expires_at: NOW_S + 2 * HOUR_S,
    success_url: SUCCESS_URL,
    cancel_url: CANCEL_URL,
    ...overrides,
  } as Stripe.Checkout.SessionCreateParams;
}

/** A button of the hosted page, pressed as a browser does, without following the redirect. */
function press(session: Stripe.Checkout.Session, action: string): Promise<Response> {
  return fetch(`${fake.url}/c/pay/${session.id}/${action}`, { method: 'POST', redirect: 'manual' });
}

async function pageOf(session: Stripe.Checkout.Session): Promise<string> {
  const response = await fetch(`${fake.url}/c/pay/${session.id}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  return response.text();
}

function successUrlOf(session: Stripe.Checkout.Session): string {
  return SUCCESS_URL.replace('{CHECKOUT_SESSION_ID}', session.id);
}

function sessionIn(event: Stripe.Event | undefined): Stripe.Checkout.Session {
  return event?.data.object as Stripe.Checkout.Session;
}

describe('creating a Checkout Session', () => {
  it('answers an open, unpaid session with the totals, our metadata and the hosted page url', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams(), { idempotencyKey: 'checkout-trip-42' });

    expect(session).toMatchObject({
      object: 'checkout.session',
      url: `${fake.url}/c/pay/${session.id}`,
      status: 'open',
      payment_status: 'unpaid',
      mode: 'payment',
      amount_subtotal: 10_000,
      amount_total: 10_000,
      currency: 'eur',
      metadata: { pulau_trip_id: 'trip-42', userId: 'user-7' },
      client_reference_id: 'trip-42',
      payment_intent: null,
      expires_at: NOW_S + 2 * HOUR_S,
      created: NOW_S,
      success_url: SUCCESS_URL,
      cancel_url: CANCEL_URL,
      livemode: false,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    });
    expect(session.id).toMatch(/^cs_test_fake_\d+[A-Za-z0-9_]*$/);
    expect(session.id).toMatch(STRIPE_ID_PATTERNS.checkoutSession);
    expect(fake.sessions()).toEqual([expect.objectContaining({ id: session.id, paymentIntentMetadata: { pulau_trip_id: 'trip-42', userId: 'user-7' } })]);
    expect(fake.session(session.id)).toMatchObject({ status: 'open', amountTotal: 10_000, idempotencyKey: 'checkout-trip-42' });
    expect(fake.events).toEqual([]);
  });

  it('accepts expires_at exactly 30 minutes and exactly 24 hours ahead, and expires a session after 24 hours when none is given', async () => {
    const shortest = await stripe.checkout.sessions.create(checkoutParams({ expires_at: NOW_S + 30 * MINUTE_S }));
    const longest = await stripe.checkout.sessions.create(checkoutParams({ expires_at: NOW_S + 24 * HOUR_S }));
    const unspecified = await stripe.checkout.sessions.create(checkoutParams({ expires_at: undefined }));

    expect(shortest.expires_at).toBe(NOW_S + 30 * MINUTE_S);
    expect(longest.expires_at).toBe(NOW_S + 24 * HOUR_S);
    expect(unspecified.expires_at).toBe(NOW_S + 24 * HOUR_S);
  });

  it.each<[string, ParamChanges, string, string]>([
    [
      'expires_at under 30 minutes ahead',
      { expires_at: NOW_S + 30 * MINUTE_S - 1 },
      'expires_at',
      'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
    ],
    [
      'expires_at over 24 hours ahead',
      { expires_at: NOW_S + 24 * HOUR_S + 1 },
      'expires_at',
      'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
    ],
    ['a missing success_url', { success_url: undefined }, 'success_url', 'Missing required param: success_url.'],
    ['no line items', { line_items: undefined }, 'line_items', 'Missing required param: line_items.'],
    [
      'a mode other than payment',
      { mode: 'subscription' },
      'mode',
      'The Stripe fake creates Checkout Sessions in payment mode only, not in subscription mode.',
    ],
    [
      'a line item without a name',
      { line_items: [{ quantity: 1, price_data: { currency: 'eur', unit_amount: 100, product_data: {} as { name: string } } }] },
      'line_items[0][price_data][product_data][name]',
      'Missing required param: line_items[0][price_data][product_data][name].',
    ],
  ])('refuses %s with a 400 naming the param, and creates nothing', async (_name, overrides, param, message) => {
    const error = await refusalOf(stripe.checkout.sessions.create(checkoutParams(overrides)));

    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', param, message });
    expect(fake.sessions()).toEqual([]);
  });

  it('replays the same session to a retry with the same key and parameters, and refuses the key with other parameters', async () => {
    const first = await stripe.checkout.sessions.create(checkoutParams(), { idempotencyKey: 'checkout-retry' });

    const retry = await stripe.checkout.sessions.create(checkoutParams(), { idempotencyKey: 'checkout-retry' });
    const conflict = await refusalOf(stripe.checkout.sessions.create(checkoutParams({ client_reference_id: 'trip-43' }), { idempotencyKey: 'checkout-retry' }));

    expect(retry.id).toBe(first.id);
    expect(headerOfAnswer(retry.lastResponse, 'idempotent-replayed')).toBe('true');
    expect(conflict).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(conflict.message).toContain("Try using a key other than 'checkout-retry'");
    expect(fake.sessions()).toHaveLength(1);
  });

  it('retrieves a session by id, and answers resource_missing (404) for an unknown one', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());

    const retrieved = await stripe.checkout.sessions.retrieve(session.id);
    const missing = await refusalOf(stripe.checkout.sessions.retrieve('cs_test_unknown'));

    expect(retrieved).toMatchObject({ id: session.id, status: 'open', amount_total: 10_000, url: session.url });
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing', message: "No such checkout.session: 'cs_test_unknown'" });
  });
});

describe('the hosted payment page', () => {
  it('shows the escaped line items, the total and three buttons while the session is open', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());

    const response = await fetch(session.url ?? '');
    const html = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    for (const action of ['pay', 'pay-later', 'expire']) {
      expect(html).toContain(`<form method="post" action="/c/pay/${session.id}/${action}">`);
    }
    expect(html).toContain('>Pay</button>');
    expect(html).toContain('>Pay later</button>');
    expect(html).toContain('>Let it expire</button>');
    expect(html).toContain('Snorkelling at &#60;Menjangan&#62; &#38; &#34;lunch&#34;');
    expect(html).not.toContain('<Menjangan>');
    expect(html).toContain('Harbour transfer');
    expect(html).toContain('€100.00');
    expect(html).not.toContain('<script');
  });

  it('answers 404 for an unknown session', async () => {
    const response = await fetch(`${fake.url}/c/pay/cs_test_unknown`);

    expect(response.status).toBe(404);
  });

  it('redirects to a success_url of other than ASCII as a browser sends it (percent-encoded, the host punycode), and stays up', async () => {
    const successUrl = 'https://shöp.example/trips/zoë/日本?q=ü&session={CHECKOUT_SESSION_ID}';
    const session = await stripe.checkout.sessions.create(checkoutParams({ success_url: successUrl }));

    const response = await press(session, 'pay');
    const after = await stripe.checkout.sessions.retrieve(session.id);

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`https://xn--shp-tna.example/trips/zo%C3%AB/%E6%97%A5%E6%9C%AC?q=%C3%BC&session=${session.id}`);
    expect(after.status).toBe('complete');
  });

  it('still redirects, and has sent the payment’s event, when filling in the session id makes success_url one no parser reads', async () => {
    // A punycode label is read by its length: with the session's id in it, this host no longer decodes.
    const session = await stripe.checkout.sessions.create(checkoutParams({ success_url: 'https://xn--{CHECKOUT_SESSION_ID}-bbc.example/' }));

    const response = await press(session, 'pay');

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`https://xn--${session.id}-bbc.example/`);
    expect(receiver.events.map((event) => event.type)).toEqual(['checkout.session.completed']);
  });

  it('pays: sends a verified checkout.session.completed (paid, our metadata, a refundable PaymentIntent) before redirecting to success_url', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());

    const response = await press(session, 'pay');

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(successUrlOf(session));
    expect(receiver.rejected).toEqual([]);
    expect(receiver.events.map((event) => event.type)).toEqual(['checkout.session.completed']);
    const event = receiver.events[0];
    expect(event).toMatchObject({ object: 'event', api_version: STRIPE_API_VERSION, livemode: false, pending_webhooks: 1, created: NOW_S });
    expect(event?.id).toMatch(/^evt_fake_\d+[A-Za-z0-9_]*$/);
    const paid = sessionIn(event);
    expect(paid).toMatchObject({
      id: session.id,
      status: 'complete',
      payment_status: 'paid',
      amount_total: 10_000,
      currency: 'eur',
      metadata: { pulau_trip_id: 'trip-42', userId: 'user-7' },
      client_reference_id: 'trip-42',
      url: null,
    });
    const pi = String(paid.payment_intent);
    expect(pi).toMatch(STRIPE_ID_PATTERNS.paymentIntent);
    expect(fake.payment(pi)).toMatchObject({ amount: 10_000, currency: 'eur' });
    expect(await stripe.paymentIntents.retrieve(pi)).toMatchObject({ status: 'succeeded', metadata: { pulau_trip_id: 'trip-42', userId: 'user-7' } });
    expect(await stripe.refunds.create({ payment_intent: pi, amount: 2_500 })).toMatchObject({ status: 'succeeded', amount: 2_500 });
    expect(fake.deliveries[0]).toEqual({ eventId: event?.id, type: 'checkout.session.completed', status: 200, body: '{"received":true}' });
  });

  it("refunds its payment through the API: sends refund.created and charge.refunded, the charge carrying the PaymentIntent's metadata and the total so far, before the API answers", async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());
    await press(session, 'pay');
    const pi = String(sessionIn(receiver.events[0]).payment_intent);

    const first = await stripe.refunds.create({ payment_intent: pi, amount: 2_500, metadata: { pulau_refund_key: 'key-1' } }, { idempotencyKey: 'refund-1' });
    const again = await stripe.refunds.create({ payment_intent: pi, amount: 2_500, metadata: { pulau_refund_key: 'key-1' } }, { idempotencyKey: 'refund-1' });
    const second = await stripe.refunds.create({ payment_intent: pi });

    // A replay under the same key executes nothing, so it sends nothing either.
    expect(again.id).toBe(first.id);
    expect(receiver.rejected).toEqual([]);
    expect(receiver.events.map((event) => event.type)).toEqual([
      'checkout.session.completed',
      'refund.created',
      'charge.refunded',
      'refund.created',
      'charge.refunded',
    ]);
    const [, created, charged, , chargedInFull] = receiver.events;
    expect(created).toMatchObject({
      request: { id: first.lastResponse.requestId, idempotency_key: 'refund-1' },
      data: { object: { id: first.id, object: 'refund', amount: 2_500, payment_intent: pi, status: 'succeeded', metadata: { pulau_refund_key: 'key-1' } } },
    });
    const charge = fake.payment(pi)?.charge;
    expect(charged?.data.object).toMatchObject({
      id: charge,
      object: 'charge',
      payment_intent: pi,
      amount: 10_000,
      amount_refunded: 2_500,
      refunded: false,
      currency: 'eur',
      metadata: { pulau_trip_id: 'trip-42', userId: 'user-7' },
    });
    expect(chargedInFull?.data.object).toMatchObject({ id: charge, amount_refunded: 10_000, refunded: true });
    expect(second.amount).toBe(7_500);
    expect(fake.events.map((event) => event.id)).toEqual(receiver.events.map((event) => event.id));
  });

  it('says a paid session is complete, and pays nothing twice', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());
    await press(session, 'pay');

    const html = await pageOf(session);
    const again = await press(session, 'pay');

    expect(html).toContain('complete and paid');
    expect(html).not.toContain('<form');
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('no longer open: it is complete');
    expect(fake.events).toHaveLength(1);
    expect(await stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ status: 'complete', payment_status: 'paid' });
  });

  it('pays later: completes unpaid with a processing PaymentIntent, then the payment arrives (async_payment_succeeded)', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());

    const later = await press(session, 'pay-later');
    const completed = sessionIn(receiver.events[0]);
    const pi = String(completed.payment_intent);
    const waiting = await pageOf(session);
    const processing = await stripe.paymentIntents.retrieve(pi);
    const settled = await press(session, 'settle');

    expect(later.status).toBe(303);
    expect(later.headers.get('location')).toBe(successUrlOf(session));
    expect(completed).toMatchObject({ status: 'complete', payment_status: 'unpaid', amount_total: 10_000 });
    expect(pi).toMatch(STRIPE_ID_PATTERNS.paymentIntent);
    expect(processing).toMatchObject({ status: 'processing', amount: 10_000, amount_received: 0 });
    expect(waiting).toContain(`action="/c/pay/${session.id}/settle"><button type="submit">The payment arrives</button>`);
    expect(waiting).toContain(`action="/c/pay/${session.id}/fail"><button type="submit">The payment fails</button>`);
    expect(waiting).not.toContain('>Pay</button>');

    expect(settled.status).toBe(303);
    expect(settled.headers.get('location')).toBe(successUrlOf(session));
    expect(receiver.events.map((event) => event.type)).toEqual(['checkout.session.completed', 'checkout.session.async_payment_succeeded']);
    expect(sessionIn(receiver.events[1])).toMatchObject({
      status: 'complete',
      payment_status: 'paid',
      payment_intent: pi,
      metadata: { pulau_trip_id: 'trip-42' },
    });
    expect(fake.payment(pi)).toMatchObject({ amount: 10_000, currency: 'eur' });
    expect(fake.session(session.id)).toMatchObject({ paymentStatus: 'paid', asyncPayment: 'succeeded' });
  });

  it('pays later: the payment fails (async_payment_failed), redirects to cancel_url and leaves nothing to refund', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());
    await press(session, 'pay-later');

    const failed = await press(session, 'fail');
    const pi = String(sessionIn(receiver.events[0]).payment_intent);
    const settleAfterwards = await press(session, 'settle');

    expect(failed.status).toBe(303);
    expect(failed.headers.get('location')).toBe(CANCEL_URL);
    expect(receiver.events.map((event) => event.type)).toEqual(['checkout.session.completed', 'checkout.session.async_payment_failed']);
    expect(sessionIn(receiver.events[1])).toMatchObject({ status: 'complete', payment_status: 'unpaid', payment_intent: pi });
    expect(fake.payment(pi)).toBeUndefined();
    expect(await stripe.paymentIntents.retrieve(pi)).toMatchObject({ status: 'requires_payment_method' });
    expect(await pageOf(session)).toContain('its payment failed');
    expect(settleAfterwards.status).toBe(400);
  });

  it('lets the session expire: sends checkout.session.expired, redirects to cancel_url, and the API then refuses to expire it again', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());

    const response = await press(session, 'expire');
    const again = await refusalOf(stripe.checkout.sessions.expire(session.id));
    const payAfterwards = await press(session, 'pay');

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(CANCEL_URL);
    expect(receiver.events.map((event) => event.type)).toEqual(['checkout.session.expired']);
    expect(sessionIn(receiver.events[0])).toMatchObject({ id: session.id, status: 'expired', payment_status: 'unpaid', payment_intent: null, url: null });
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError' });
    expect(again.message).toContain('This Checkout Session has a status of "expired"');
    expect(await pageOf(session)).toContain('has expired');
    expect(payAfterwards.status).toBe(400);
    expect(fake.events).toHaveLength(1);
  });
});

describe('expiry through the API and by time', () => {
  it('expires an open session through the API, the event delivered before the API answers', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams());

    const expired = await stripe.checkout.sessions.expire(session.id, {}, { idempotencyKey: 'expire-1' });

    expect(expired).toMatchObject({ id: session.id, status: 'expired', url: null });
    expect(receiver.events.map((event) => event.type)).toEqual(['checkout.session.expired']);
    expect(receiver.events[0]?.request).toEqual({ id: expired.lastResponse.requestId, idempotency_key: 'expire-1' });
  });

  it('expires a session whose expires_at has passed on the fake clock when it is next looked at', async () => {
    const session = await stripe.checkout.sessions.create(checkoutParams({ expires_at: NOW_S + 30 * MINUTE_S }));

    fake.advance(30 * MINUTE_S * 1000);
    const html = await pageOf(session);

    expect(html).toContain('has expired');
    expect(receiver.events.map((event) => event.type)).toEqual(['checkout.session.expired']);
    expect(receiver.events[0]?.request).toEqual({ id: null, idempotency_key: null });
    expect(await stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ status: 'expired' });
  });
});

describe('webhook delivery', () => {
  it('only records events while no webhook is set, then delivers to the one setWebhook names', async () => {
    const unwired = await startStripeFake({ now: () => NOW_S * 1000 });
    try {
      const client = unwired.client();
      const first = await client.checkout.sessions.create(checkoutParams());
      const second = await client.checkout.sessions.create(checkoutParams());

      await fetch(`${unwired.url}/c/pay/${first.id}/pay`, { method: 'POST', redirect: 'manual' });
      unwired.setWebhook(receiver.url, SECRET);
      await fetch(`${unwired.url}/c/pay/${second.id}/expire`, { method: 'POST', redirect: 'manual' });

      expect(unwired.events.map((event) => [event.type, event.data.object.id])).toEqual([
        ['checkout.session.completed', first.id],
        ['checkout.session.expired', second.id],
      ]);
      expect(receiver.events.map((event) => event.id)).toEqual([unwired.events[1]?.id]);
      expect(unwired.deliveries).toEqual([{ eventId: unwired.events[1]?.id, type: 'checkout.session.expired', status: 200, body: '{"received":true}' }]);
    } finally {
      await unwired.close();
    }
  });

  it("records the webhook's failing answer and still redirects the customer", async () => {
    receiver.answer = { status: 500, body: '{"error":"try again"}' };
    const session = await stripe.checkout.sessions.create(checkoutParams());

    const response = await press(session, 'pay');

    expect(response.status).toBe(303);
    expect(fake.deliveries).toEqual([{ eventId: fake.events[0]?.id, type: 'checkout.session.completed', status: 500, body: '{"error":"try again"}' }]);
  });

  it('records an unreachable webhook as status 0', async () => {
    const closed = await startReceiver(SECRET);
    await closed.close();
    fake.setWebhook(closed.url, SECRET);
    const session = await stripe.checkout.sessions.create(checkoutParams());

    await press(session, 'expire');

    expect(fake.deliveries).toEqual([expect.objectContaining({ type: 'checkout.session.expired', status: 0 })]);
  });
});
