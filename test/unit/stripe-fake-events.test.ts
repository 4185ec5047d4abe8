// The Stripe fake's list of events (GET /v1/events), read through a real stripe-node client as the reconciliation sweep reads
// Stripe's: order, pages, filters, Stripe's refusals of bad parameters, its 30 days, and events that were never delivered.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { refusalOf } from '../support/stripe-refusal';

/** The fake's clock stands still at this instant unless a test moves it. */
const NOW_S = Math.floor(Date.UTC(2026, 10, 20, 9, 30) / 1000);
const DAY_MS = 24 * 60 * 60 * 1000;

let fake: StripeFake;
let stripe: Stripe;
beforeEach(async () => {
  fake = await startStripeFake({ now: () => NOW_S * 1000 });
  stripe = fake.client();
});
afterEach(() => fake.close());

function sessionParams(): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'payment',
    metadata: { pulau_trip_id: 'trip-1' },
    line_items: [{ quantity: 1, price_data: { currency: 'eur', unit_amount: 2_000, product_data: { name: 'Sunrise trek' } } }],
    success_url: 'https://pulau.test/paid',
  };
}

/** One `checkout.session.expired` event (the session expired through the API), then the clock one second on. */
async function expiredEvent(): Promise<string> {
  const session = await stripe.checkout.sessions.create(sessionParams());
  await stripe.checkout.sessions.expire(session.id);
  fake.advance(1_000);
  return fake.events.at(-1)?.id as string;
}

/** One `checkout.session.completed` event (paid on the hosted page), then the clock one second on. */
async function completedEvent(): Promise<string> {
  const session = await stripe.checkout.sessions.create(sessionParams());
  await fetch(`${fake.url}/c/pay/${session.id}/pay`, { method: 'POST', redirect: 'manual' });
  fake.advance(1_000);
  return fake.events.at(-1)?.id as string;
}

async function idsOf(list: Stripe.ApiListPromise<Stripe.Event>): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of list) ids.push(event.id);
  return ids;
}

const listCalls = (): number => fake.calls.filter((call) => call.method === 'GET' && call.path === '/v1/events').length;

describe('GET /v1/events', () => {
  it('lists newest first, 10 a page unless asked, and stripe-node pages through them all with starting_after', async () => {
    const created: string[] = [];
    for (let index = 0; index < 12; index++) created.push(await expiredEvent());

    const firstPage = await stripe.events.list();
    const all = await idsOf(stripe.events.list({ limit: 5 }));

    expect(firstPage).toMatchObject({ object: 'list', has_more: true, url: '/v1/events' });
    expect(firstPage.data.map((event) => event.id)).toEqual(created.slice(2).reverse());
    expect(all).toEqual([...created].reverse());
    expect(listCalls()).toBe(1 + 3);
  });

  it('gives each event as it was delivered: the snapshot of its session, its type, API version, time and mode', async () => {
    const id = await completedEvent();

    const [listed] = (await stripe.events.list()).data;

    expect(listed).toEqual(JSON.parse(JSON.stringify(fake.events[0])));
    expect(listed).toMatchObject({ id, object: 'event', type: 'checkout.session.completed', created: NOW_S, livemode: false });
    expect(await stripe.events.retrieve(id)).toMatchObject({ id, type: 'checkout.session.completed' });
  });

  it('filters by types[] (as stripe-node sends them) and by type, where * stands for a group', async () => {
    const completed = await completedEvent();
    const expired = await expiredEvent();

    expect(await idsOf(stripe.events.list({ types: ['checkout.session.completed'] }))).toEqual([completed]);
    expect(await idsOf(stripe.events.list({ types: ['checkout.session.expired', 'charge.refunded'] }))).toEqual([expired]);
    expect(await idsOf(stripe.events.list({ type: 'checkout.session.*' }))).toEqual([expired, completed]);
    expect(await idsOf(stripe.events.list({ type: 'charge.*' }))).toEqual([]);
  });

  it('filters by creation time: created[gte|gt|lte|lt], whole seconds, and created itself', async () => {
    const ids = [await expiredEvent(), await expiredEvent(), await expiredEvent()];
    const [first, second, third] = [NOW_S, NOW_S + 1, NOW_S + 2];

    expect(await idsOf(stripe.events.list({ created: { gte: second } }))).toEqual([ids[2], ids[1]]);
    expect(await idsOf(stripe.events.list({ created: { gt: second } }))).toEqual([ids[2]]);
    expect(await idsOf(stripe.events.list({ created: { gte: first, lte: second } }))).toEqual([ids[1], ids[0]]);
    expect(await idsOf(stripe.events.list({ created: { lt: third } }))).toEqual([ids[1], ids[0]]);
    expect(await idsOf(stripe.events.list({ created: second }))).toEqual([ids[1]]);
  });

  it('pages towards newer events with ending_before, each page newest first', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) ids.push(await expiredEvent());

    const page = await stripe.events.list({ ending_before: ids[0] as string, limit: 2 });

    expect(page.data.map((event) => event.id)).toEqual([ids[2], ids[1]]);
    expect(page.has_more).toBe(true);
  });

  it('lists the events of the last 30 days only', async () => {
    const old = await expiredEvent();
    fake.advance(29 * DAY_MS);
    const recent = await expiredEvent();
    fake.advance(DAY_MS);

    expect(await idsOf(stripe.events.list())).toEqual([recent]);
    expect(await refusalOf(stripe.events.retrieve(old))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it.each<[string, Record<string, unknown>, { statusCode: number; code?: string; param: string; message: string }]>([
    [
      'a limit above 100',
      { limit: 101 },
      { statusCode: 400, code: 'parameter_invalid_integer', param: 'limit', message: 'This value must be between 1 and 100.' },
    ],
    ['a limit of 0', { limit: 0 }, { statusCode: 400, code: 'parameter_invalid_integer', param: 'limit', message: 'This value must be between 1 and 100.' }],
    [
      'type and types together',
      { type: 'checkout.session.expired', types: ['charge.refunded'] },
      { statusCode: 400, param: 'types', message: expect.stringContaining('not both') },
    ],
    [
      'more than 20 types',
      { types: Array.from({ length: 21 }, (_, index) => `type.${index}`) },
      { statusCode: 400, param: 'types', message: expect.stringContaining('20') },
    ],
    [
      'a created bound that is not a number',
      { created: { gte: 'yesterday' } },
      { statusCode: 400, code: 'parameter_invalid_integer', param: 'created[gte]', message: 'Invalid integer: yesterday' },
    ],
    [
      'an unknown parameter',
      { delivered: true },
      { statusCode: 400, code: 'parameter_unknown', param: 'delivered', message: 'Received unknown parameter: delivered' },
    ],
    [
      'an unknown starting_after',
      { starting_after: 'evt_unknown' },
      { statusCode: 400, code: 'resource_missing', param: 'starting_after', message: "No such event: 'evt_unknown'" },
    ],
    [
      'starting_after with ending_before',
      { starting_after: 'evt_a', ending_before: 'evt_b' },
      { statusCode: 400, param: 'starting_after', message: expect.stringContaining('only specify one') },
    ],
  ])('refuses %s with Stripe’s error body', async (_name, params, error) => {
    await expiredEvent();

    const refusal = await refusalOf(stripe.events.list(params as Stripe.EventListParams));

    expect(refusal.type).toBe('StripeInvalidRequestError');
    expect(refusal).toMatchObject(error);
  });
});

describe('events that are never delivered', () => {
  let received: string[];
  let server: Server;
  beforeEach(async () => {
    received = [];
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.setWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`, 'whsec_events_test');
  });
  afterEach(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );

  it('are recorded and listed but never POSTed after dropNextDeliveries, and later events are delivered again', async () => {
    fake.dropNextDeliveries(1);
    const lost = await completedEvent();
    const delivered = await expiredEvent();

    expect(received).toEqual([delivered]);
    expect(fake.deliveries.map((delivery) => delivery.eventId)).toEqual([delivered]);
    expect(await idsOf(stripe.events.list())).toEqual([delivered, lost]);
    expect(await idsOf(stripe.events.list({ delivery_success: false }))).toEqual([lost]);
    expect(await idsOf(stripe.events.list({ delivery_success: true }))).toEqual([delivered]);
  });
});
