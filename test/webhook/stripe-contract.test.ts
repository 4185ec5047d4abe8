// The Stripe contract through the real webhook: only fresh signatures, only our payments, only our mode, unusable events kept instead of retried.
import { readFileSync } from 'node:fs';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Trip } from '../../lambdas/shared/domain/model';
import { STRIPE_API_VERSION, TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { readSlot, seedSlot, testStore, uniqueId } from '../support/store';
import { chargeRefunded, checkoutSession, paymentIntentId, SIGNING_SECRET, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

async function pendingTrip() {
  const store = testStore();
  const slot = await seedSlot(store, { capacity: 4 });
  const trip = await createPendingTrip(store, [[slot, 2]]);
  const paymentIntent = paymentIntentId();
  fake.registerPayment(paymentIntent, trip.amount);
  return { store, slot, trip, paymentIntent, webhook: webhookHarness(fake, { store }) };
}

/** Nothing of the event's was written: no booking, no seat, no payment record, no refund. */
async function expectUntouched(store: ReturnType<typeof testStore>, trip: Trip, paymentIntent: string, slotId: string): Promise<void> {
  expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
  expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
  expect((await readSlot(store, slotId))?.availableCount).toBe(4);
  expect(await store.getPaymentRecord(paymentIntent)).toBeUndefined();
  expect(fake.refundsOf(paymentIntent)).toEqual([]);
}

describe('replayed signatures', () => {
  it.each([
    { name: 'an hour', age: 3_600 },
    { name: '40 days', age: 40 * 86_400 },
  ])('answers 400 to a header captured $name ago with a fresh t= put in front, and writes nothing', async ({ age }) => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();
    const payload = JSON.stringify(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent })));
    const then = Math.floor(Date.now() / 1000) - age;
    const captured = Stripe.webhooks.generateTestHeaderString({ payload, secret: SIGNING_SECRET, timestamp: then });

    const response = await webhook.send(apiGatewayEvent({ body: payload, headers: { 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},${captured}` } }));

    expect(response).toEqual({ status: 400, body: { received: false, error: 'INVALID_SIGNATURE' } });
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
  });
});

describe('only our payments', () => {
  it('acknowledges a paid session our checkout did not mark (a Payment Link sale, another product) and never touches or refunds it', async () => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();
    const calls = fake.calls.length;

    const response = await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent, tripId: null }))));

    expect(response).toEqual({ status: 200, body: { received: true, ignored: 'checkout.session.completed' } });
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
    expect(fake.calls.length).toBe(calls);
  });

  it("acknowledges a paid session marked for another deployment's table (a second stack on this Stripe account) and never touches or refunds it", async () => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();
    const calls = fake.calls.length;
    const elsewhere = { paymentIntent, table: 'other-stack-BookingTable' };

    // One naming a trip this table does not know, as the other stack's are, would be set aside and refunded if it were ours.
    const unknownHere = await webhook.send(
      signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { ...elsewhere, tripId: 'trip-elsewhere' }))),
    );
    const sameTripId = await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, elsewhere))));
    const itsCharge = await webhook.send(signedRequest(chargeRefunded(paymentIntent, trip.amount, { tripId: 'trip-elsewhere', table: elsewhere.table })));

    expect(unknownHere).toEqual({ status: 200, body: { received: true, ignored: 'checkout.session.completed' } });
    expect(sameTripId).toEqual({ status: 200, body: { received: true, ignored: 'checkout.session.completed' } });
    expect(itsCharge).toEqual({ status: 200, body: { received: true, ignored: 'charge.refunded' } });
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
    expect(fake.calls.length).toBe(calls);
  });

  it("releases a booking when its charge names the table's former name, as the charges of a table restored from a backup do, since this table holds the payment's record", async () => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();
    await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent }))));
    const formerTable = { tripId: trip.tripId, table: 'pulau-BookingTable-RESTOREDFROM' };

    const partly = await webhook.send(signedRequest(chargeRefunded(paymentIntent, trip.amount, { ...formerTable, refunded: 1_000 })));
    const wholly = await webhook.send(signedRequest(chargeRefunded(paymentIntent, trip.amount, formerTable)));

    expect(partly.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect(wholly.body).toMatchObject({ outcome: 'released', tripId: trip.tripId });
    expect((await store.getTrip(trip.tripId))?.status).toBe('refunded');
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
    expect(await store.getPaymentRecord(paymentIntent)).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
  });

  it('books a paid session marked for its own table', async () => {
    const { store, trip, paymentIntent, webhook } = await pendingTrip();

    const response = await webhook.send(
      signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent, table: store.tableName }))),
    );

    expect(response.body).toMatchObject({ outcome: 'booked' });
    expect((await store.getTrip(trip.tripId))?.status).toBe('booked');
  });

  it('acknowledges a refunded charge without our mark, of a payment we hold no record of, and writes nothing', async () => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();

    const response = await webhook.send(signedRequest(chargeRefunded(paymentIntent, trip.amount)));

    expect(response).toEqual({ status: 200, body: { received: true, ignored: 'charge.refunded' } });
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
  });

  it('still acts on a refund of a payment it booked when the charge carries no mark', async () => {
    const { store, trip, paymentIntent, webhook } = await pendingTrip();
    await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent }))));

    const response = await webhook.send(signedRequest(chargeRefunded(paymentIntent, trip.amount)));

    expect(response.body).toMatchObject({ outcome: 'released' });
    expect((await store.getTrip(trip.tripId))?.status).toBe('refunded');
  });
});

describe('only our mode', () => {
  it.each([
    { deployment: 'live' as const, livemode: false },
    { deployment: 'test' as const, livemode: true },
  ])('ignores an event with livemode $livemode in a $deployment deployment, counts it, and writes nothing', async ({ deployment, livemode }) => {
    const { store, slot, trip, paymentIntent } = await pendingTrip();
    const webhook = webhookHarness(fake, { store, mode: deployment });
    const added = vi.spyOn(webhook.metrics, 'addMetric');
    const event = { ...stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent })), livemode };

    const response = await webhook.send(signedRequest(event));

    expect(response).toEqual({ status: 200, body: { received: true, ignored: 'checkout.session.completed', reason: 'mode_mismatch' } });
    expect(added.mock.calls.map(([name]) => name)).toContain('ModeMismatches');
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
    expect(await store.getUnusableEvent(event.id)).toBeUndefined();
  });
});

describe('events we cannot act on', () => {
  const session = (trip: Trip, paymentIntent: string, extra: Record<string, unknown>) => ({ ...checkoutSession(trip, { paymentIntent }), ...extra });
  const poison: { name: string; event: (trip: Trip, paymentIntent: string) => Record<string, unknown>; problem: RegExp }[] = [
    {
      name: 'a payment_status added in a later API version',
      event: (t, pi) => stripeEvent('checkout.session.completed', session(t, pi, { payment_status: 'requires_review' })),
      problem: /payment_status/,
    },
    {
      name: 'a session without amount_total',
      event: (t, pi) => stripeEvent('checkout.session.completed', session(t, pi, { amount_total: null })),
      problem: /amount_total/,
    },
    {
      name: 'an implausible PaymentIntent id',
      event: (t) => stripeEvent('checkout.session.completed', session(t, 'pi_../../etc#1', {})),
      problem: /payment_intent.*PaymentIntent id/,
    },
    {
      name: 'an implausible session id',
      event: (t, pi) => stripeEvent('checkout.session.completed', session(t, pi, { id: 'sess#1' })),
      problem: /id.*Checkout Session id/,
    },
    {
      name: 'a refunded charge without amounts',
      event: (t, pi) =>
        stripeEvent('charge.refunded', { id: 'ch_1', object: 'charge', payment_intent: pi, currency: 'eur', metadata: { [TRIP_MARK]: t.tripId } }),
      problem: /amount/,
    },
    {
      name: 'a refund with an implausible id',
      event: (_t, pi) =>
        stripeEvent('refund.updated', {
          id: 'refund-1',
          object: 'refund',
          amount: 1,
          payment_intent: pi,
          status: 'succeeded',
          metadata: { refund_key: `refund-${pi}` },
        }),
      problem: /refund id/,
    },
    {
      name: 'an event without livemode',
      event: (t, pi) => {
        const { livemode: _l, ...rest } = stripeEvent('checkout.session.completed', checkoutSession(t, { paymentIntent: pi }));
        return rest;
      },
      problem: /livemode/,
    },
  ];

  it.each(poison)('acknowledges $name with 200, keeps it for a person, books and refunds nothing, and counts it once', async ({ event, problem }) => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();
    const added = vi.spyOn(webhook.metrics, 'addMetric');
    const delivered = event(trip, paymentIntent);

    const first = await webhook.send(signedRequest(delivered));
    const again = await webhook.send(signedRequest(delivered));

    expect(first).toMatchObject({
      status: 200,
      body: { received: true, outcome: 'needs_attention', reason: 'unusable_event', problem: expect.stringMatching(problem) },
    });
    expect(again.status).toBe(200);
    expect(await store.getUnusableEvent(delivered.id as string)).toMatchObject({
      status: 'needs_attention',
      eventType: delivered.type,
      problem: expect.stringMatching(problem),
    });
    expect((await store.listEventsNeedingAttention()).filter((kept) => kept.eventId === delivered.id)).toHaveLength(1);
    expect(added.mock.calls.map(([name]) => name).filter((name) => name === 'UnusableEvents')).toHaveLength(1);
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
  });

  it('keys nothing by an implausible id', async () => {
    const { store, trip, webhook } = await pendingTrip();
    const odd = 'pi_../../etc#1';

    await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: odd }))));

    expect(await store.getPaymentRecord(odd)).toBeUndefined();
  });

  it('acknowledges a thin event and ignores it: the endpoint is subscribed to snapshot events', async () => {
    const thin = {
      id: 'evt_thin_1',
      object: 'v2.core.event',
      type: 'v1.checkout.session.completed',
      created: new Date().toISOString(),
      related_object: { id: 'cs_1', type: 'checkout.session' },
    };

    const response = await webhookHarness(fake).send(signedRequest(thin));

    expect(response).toEqual({ status: 200, body: { received: true, ignored: 'v1.checkout.session.completed' } });
  });
});

describe('one API version', () => {
  it('pins the API version the installed stripe package was written for, in the client it builds', () => {
    const client = createStripeClient({ apiKey: 'sk_test_pin' }) as unknown as { getApiField(name: string): unknown };
    expect(client.getApiField('version')).toBe(STRIPE_API_VERSION);
    expect(STRIPE_API_VERSION).toBe((Stripe as unknown as { API_VERSION?: string }).API_VERSION ?? STRIPE_API_VERSION);
    expect(readFileSync(new URL('../../node_modules/stripe/cjs/apiVersion.js', import.meta.url), 'utf8')).toContain(`'${STRIPE_API_VERSION}'`);
  });

  it('writes the pinned version into the README’s endpoint-creation command', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`api_version=${STRIPE_API_VERSION}`);
  });
});

/** Stripe's published example objects (test/fixtures/stripe/README.md names their source), of the newest and an older API version. */
const FIXTURE_VERSIONS = ['2026-07-29.dahlia', '2023-10-16'];
const fixture = (version: string, name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/stripe/${version}/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

describe.each(FIXTURE_VERSIONS)('real payloads of API version %s', (version) => {
  it('books a paid session: Stripe’s example completed for one of our trips', async () => {
    const { store, trip, paymentIntent, webhook } = await pendingTrip();
    const example = fixture(version, 'checkout.session');
    const paid = {
      ...example,
      id: `cs_test_${uniqueId('f').replace(/-/g, '')}`,
      metadata: { [TRIP_MARK]: trip.tripId, userId: trip.userId },
      client_reference_id: trip.tripId,
      payment_intent: paymentIntent,
      payment_status: 'paid',
      status: 'complete',
      amount_total: trip.amount,
      amount_subtotal: trip.amount,
      // The example's figures are placeholders; a session without a discount says 0.
      ...(example.total_details ? { total_details: { ...(example.total_details as object), amount_discount: 0, amount_shipping: 0, amount_tax: 0 } } : {}),
      currency: trip.currency,
    };

    const response = await webhook.send(signedRequest(stripeEvent('checkout.session.completed', paid)));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'booked', tripId: trip.tripId } });
    expect((await store.getTrip(trip.tripId))?.status).toBe('booked');
  });

  it('keeps Stripe’s example as it is (open, unpaid, no amount yet), once marked as ours, for a person', async () => {
    const { store, trip, webhook } = await pendingTrip();
    const example = { ...fixture(version, 'checkout.session'), metadata: { [TRIP_MARK]: trip.tripId } };
    const event = stripeEvent('checkout.session.completed', example);

    const response = await webhook.send(signedRequest(event));

    expect(response).toMatchObject({
      status: 200,
      body: { outcome: 'needs_attention', reason: 'unusable_event', problem: expect.stringContaining('amount_total') },
    });
    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
  });

  it('ignores Stripe’s example charge, made without a PaymentIntent (the Charges API)', async () => {
    const response = await webhookHarness(fake).send(
      signedRequest(stripeEvent('charge.refunded', { ...fixture(version, 'charge'), amount_refunded: 100, refunded: true })),
    );

    expect(response).toEqual({ status: 200, body: { received: true, ignored: 'charge.refunded' } });
  });

  it('releases a booked trip on Stripe’s example charge, refunded in full, of our payment', async () => {
    const { store, trip, paymentIntent, webhook } = await pendingTrip();
    await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent }))));
    const charge = {
      ...fixture(version, 'charge'),
      payment_intent: paymentIntent,
      amount: trip.amount,
      amount_refunded: trip.amount,
      refunded: true,
      currency: trip.currency,
      metadata: { [TRIP_MARK]: trip.tripId },
    };

    const response = await webhook.send(signedRequest(stripeEvent('charge.refunded', charge)));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'released' } });
    expect((await store.getTrip(trip.tripId))?.status).toBe('refunded');
  });

  it('records Stripe’s example refund, made outside this service, on the payment it refunds', async () => {
    const { store, trip, paymentIntent, webhook } = await pendingTrip();
    await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent }))));
    const refund = { ...fixture(version, 'refund'), payment_intent: paymentIntent } as { id: string; payment_intent: string };

    const response = await webhook.send(signedRequest(stripeEvent('refund.created', refund)));

    expect(response).toMatchObject({ status: 200, body: { outcome: 'refund_updated' } });
    expect((await store.getPaymentRecord(paymentIntent))?.refunds).toMatchObject([
      { stripeRefundId: refund.id, status: 'succeeded', requestedBy: 'stripe', amount: 100 },
    ]);
  });
});
