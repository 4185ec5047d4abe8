// POST /webhooks/stripe refuses anything Stripe did not sign, before touching the table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lambdas/stripe-webhook/webhook-handler';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { seedSlot, testStore } from '../support/store';
import { checkoutSession, SIGNING_SECRET, signatureHeader, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

/** A pending trip and the paid event that would book it, so a wrongly accepted request would show in the table. */
async function paidTripEvent() {
  const store = testStore();
  const slot = await seedSlot(store, { capacity: 2 });
  const trip = await createPendingTrip(store, [[slot, 1]]);
  const event = stripeEvent('checkout.session.completed', checkoutSession(trip));
  return { store, slot, trip, event, payload: JSON.stringify(event) };
}

async function expectUntouched(store: ReturnType<typeof testStore>, tripId: string): Promise<void> {
  expect((await store.getTrip(tripId))?.status).toBe('pending_payment');
  expect(await store.listBookingsOfTrip(tripId)).toEqual([]);
}

const now = () => Math.floor(Date.now() / 1000);

describe('webhook signature verification', () => {
  it.each([
    { name: 'no Stripe-Signature header', headers: (_payload: string) => ({}) },
    { name: 'a garbage header', headers: (_payload: string) => ({ 'stripe-signature': 'this is not a signature' }) },
    { name: 'a header without a timestamp', headers: (payload: string) => ({ 'stripe-signature': signatureHeader(payload).replace(/t=\d+,/, '') }) },
    {
      name: 'a signature by another secret',
      headers: (payload: string) => ({ 'stripe-signature': signatureHeader(payload, { secret: 'whsec_someone_else' }) }),
    },
  ])('answers 400 to $name and writes nothing', async ({ headers }) => {
    const { store, trip, payload } = await paidTripEvent();
    const webhook = webhookHarness(fake);

    const response = await webhook.send(apiGatewayEvent({ body: payload, headers: headers(payload) }));

    expect(response).toEqual({ status: 400, body: { received: false, error: 'INVALID_SIGNATURE' } });
    await expectUntouched(store, trip.tripId);
  });

  it('answers 400 to a body changed after signing', async () => {
    const { store, trip, payload } = await paidTripEvent();
    const tampered = payload.replace(`"amount_total":${trip.amount}`, `"amount_total":1`);
    expect(tampered).not.toBe(payload);

    const response = await webhookHarness(fake).send(apiGatewayEvent({ body: tampered, headers: { 'stripe-signature': signatureHeader(payload) } }));

    expect(response.status).toBe(400);
    await expectUntouched(store, trip.tripId);
  });

  it('answers 400 to the same event re-serialised (the raw bytes are what is signed)', async () => {
    const { store, trip, event } = await paidTripEvent();
    const pretty = JSON.stringify(event, null, 2);
    const compact = JSON.stringify(event);

    const response = await webhookHarness(fake).send(apiGatewayEvent({ body: compact, headers: { 'stripe-signature': signatureHeader(pretty) } }));

    expect(response.status).toBe(400);
    await expectUntouched(store, trip.tripId);
  });

  it.each([
    { offset: -299, status: 200 },
    { offset: -301, status: 400 },
    { offset: 299, status: 200 },
    { offset: 301, status: 400 },
  ])('answers $status to an event signed $offset s from now (tolerance 300 s both ways)', async ({ offset, status }) => {
    const { store, trip, event } = await paidTripEvent();

    const response = await webhookHarness(fake).send(signedRequest(event, { timestamp: now() + offset }));

    expect(response.status).toBe(status);
    expect((await store.getTrip(trip.tripId))?.status).toBe(status === 200 ? 'booked' : 'pending_payment');
  });

  it('accepts events signed with either secret while the signing secret is rolled', async () => {
    const webhook = webhookHarness(fake, { secrets: ['whsec_new_secret', SIGNING_SECRET] });
    const byOld = await paidTripEvent();
    const byNew = await paidTripEvent();

    expect((await webhook.send(signedRequest(byOld.event, { secret: SIGNING_SECRET }))).status).toBe(200);
    expect((await webhook.send(signedRequest(byNew.event, { secret: 'whsec_new_secret' }))).status).toBe(200);
    expect((await webhook.send(signedRequest((await paidTripEvent()).event, { secret: 'whsec_retired' }))).status).toBe(400);
  });

  it('verifies and books a body API Gateway delivered base64-encoded', async () => {
    const { store, trip, event } = await paidTripEvent();

    const response = await webhookHarness(fake).send(signedRequest(event, { base64: true }));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect((await store.getTrip(trip.tripId))?.status).toBe('booked');
  });

  it(`answers 413 to a body over ${MAX_BODY_BYTES} bytes without computing its HMAC`, async () => {
    const webhook = webhookHarness(fake);
    const huge = JSON.stringify({ padding: 'x'.repeat(MAX_BODY_BYTES) });

    const plain = await webhook.send(apiGatewayEvent({ body: huge, headers: { 'stripe-signature': signatureHeader(huge) } }));
    const encoded = await webhook.send(
      apiGatewayEvent({ body: Buffer.from(huge).toString('base64'), isBase64Encoded: true, headers: { 'stripe-signature': signatureHeader(huge) } }),
    );

    expect(plain).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } });
    expect(encoded.status).toBe(413);
    expect(webhook.secretReads).toBe(0);
  });

  it.each([
    { name: 'an empty body', body: '' },
    { name: 'a missing body', body: undefined },
  ])('answers 400 to $name', async ({ body }) => {
    const response = await webhookHarness(fake).send(
      apiGatewayEvent({ ...(body !== undefined && { body }), headers: { 'stripe-signature': signatureHeader('{}') } }),
    );
    expect(response.status).toBe(400);
  });

  it('answers 400 INVALID_JSON to a validly signed body that is not JSON', async () => {
    const payload = 'not json {';
    const response = await webhookHarness(fake).send(apiGatewayEvent({ body: payload, headers: { 'stripe-signature': signatureHeader(payload) } }));
    expect(response).toEqual({ status: 400, body: { received: false, error: 'INVALID_JSON' } });
  });

  it('answers 400 INVALID_EVENT to a signed body that is not a Stripe event', async () => {
    const response = await webhookHarness(fake).send(signedRequest({ object: 'event', type: 'checkout.session.completed', data: { object: {} } }));
    expect(response).toMatchObject({ status: 400, body: { error: 'INVALID_EVENT' } });
  });

  it.each(['customer.created', 'payment_intent.succeeded', 'invoice.paid'])('acknowledges %s with 200 and ignores it', async (type) => {
    const response = await webhookHarness(fake).send(signedRequest(stripeEvent(type, { id: 'obj_1', object: 'thing' })));
    expect(response).toEqual({ status: 200, body: { received: true, ignored: type } });
  });
});
