// The webhook under concurrent deliveries and outages of Stripe's API and of DynamoDB: nothing oversold, lost or refunded twice.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { overwriteSlot, readSlot, seedSlot, testStore } from '../support/store';
import { checkoutSession, paymentIntentId, SIGNING_SECRET, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';
import { startDiskDynamo } from '../support/disk-dynamo';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

/** A payment Stripe knows (for up to 1 000.00): what these trips cost is well inside it. */
const paymentIntent = (): string => {
  const id = paymentIntentId();
  fake.registerPayment(id, 100_000);
  return id;
};

describe('concurrent deliveries', () => {
  it('books once when the same event is delivered 10 times at once, answering every delivery with the same references', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 6 });
    const trip = await createPendingTrip(store, [[slot, 2]]);
    const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentIntent() }));
    const webhook = webhookHarness(fake, { store });

    const responses = await Promise.all(Array.from({ length: 10 }, () => webhook.send(signedRequest(event))));

    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(responses.filter((response) => response.body.outcome === 'booked')).toHaveLength(1);
    expect(responses.filter((response) => response.body.outcome === 'duplicate')).toHaveLength(9);
    const references = responses[0]!.body.references;
    for (const response of responses) expect(response.body.references).toEqual(references);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
    expect(await store.listAudit('booking', references![0]!)).toHaveLength(1);
  });

  it('gives the last seat to one of 10 paying buyers and refunds each of the 9 others exactly once', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 1 });
    const buyers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const trip = await createPendingTrip(store, [[slot, 1]]);
        return { trip, paymentIntent: paymentIntent() };
      }),
    );
    const webhook = webhookHarness(fake, { store });

    const responses = await Promise.all(
      buyers.map(({ trip, paymentIntent: pi }) =>
        webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: pi })))),
      ),
    );

    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(responses.filter((response) => response.body.outcome === 'booked')).toHaveLength(1);
    expect(responses.filter((response) => response.body.outcome === 'refunded' && response.body.reason === 'INSUFFICIENT_AVAILABILITY')).toHaveLength(9);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(0);
    expect(await store.listBookingsOfSlot(slot.slotId)).toHaveLength(1);
    for (const [index, { trip, paymentIntent: pi }] of buyers.entries()) {
      const booked = responses[index]!.body.outcome === 'booked';
      expect(fake.refundsOf(pi)).toHaveLength(booked ? 0 : 1);
      expect((await store.getTrip(trip.tripId))?.status).toBe(booked ? 'booked' : 'refunded');
    }
  });
});

describe('Stripe API outage', () => {
  it('answers 500 while Stripe cannot refund, resumes from refund_pending on redelivery, and refunds exactly once with one key', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 1 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    await overwriteSlot({ ...slot, availableCount: 0 });
    const pi = paymentIntent();
    const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: pi }));
    const webhook = webhookHarness(fake, { store });
    const callsBefore = fake.calls.length;
    fake.failNext(2);

    const whileDown = [await webhook.send(signedRequest(event)), await webhook.send(signedRequest(event))];
    expect(whileDown.map((response) => response.status)).toEqual([500, 500]);
    expect(whileDown[0]!.body).toEqual({ received: false, error: 'INTERNAL_ERROR' });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'refund_pending', statusReason: 'INSUFFICIENT_AVAILABILITY' });

    const afterRecovery = await webhook.send(signedRequest(event));

    expect(afterRecovery).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect((await store.getTrip(trip.tripId))?.status).toBe('refunded');
    expect(fake.refundsOf(pi)).toHaveLength(1);
    const calls = fake.calls.slice(callsBefore);
    // A redelivery did not store the refund it resumes: it looks it up by its key before asking for it again.
    expect(calls.map((call) => `${call.method} ${call.path.split('?')[0]} ${call.status}`)).toEqual([
      'POST /v1/refunds 500',
      'GET /v1/refunds 200',
      'POST /v1/refunds 500',
      'GET /v1/refunds 200',
      'POST /v1/refunds 200',
    ]);
    expect(new Set(calls.filter((call) => call.method === 'POST').map((call) => call.idempotencyKey))).toEqual(new Set([`refund-${pi}`]));
  });
});

describe('DynamoDB outage', () => {
  it('answers 500 with nothing written while DynamoDB is down, and books once when the event is redelivered after it is back', async () => {
    const dynamo = await startDiskDynamo('outage');
    try {
      const { store } = dynamo;
      const slot = await seedSlot(store, { capacity: 3 });
      const trip = await createPendingTrip(store, [[slot, 2]]);
      const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentIntent() }));
      const webhook = webhookHarness(fake, { store });

      await dynamo.stop();
      const whileDown = await webhook.send(signedRequest(event));
      expect(whileDown).toEqual({ status: 500, body: { received: false, error: 'INTERNAL_ERROR' } });

      await dynamo.restart();
      expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
      expect((await readSlot(store, slot.slotId))?.availableCount).toBe(3);

      const redelivered = await webhook.send(signedRequest(event));
      const again = await webhook.send(signedRequest(event));

      expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'booked' } });
      expect(again).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: redelivered.body.references } });
      expect((await readSlot(store, slot.slotId))?.availableCount).toBe(1);
      expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
    } finally {
      await dynamo.dispose();
    }
  });
});

describe('logs', () => {
  it('carry the event id, trip id and outcome as JSON, and never a secret, a stack or the body', async () => {
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array): boolean => {
      lines.push(chunk.toString());
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const store = testStore();
      const slot = await seedSlot(store, { capacity: 1 });
      const trip = await createPendingTrip(store, [[slot, 1]]);
      await overwriteSlot({ ...slot, availableCount: 0 });
      const webhook = webhookHarness(fake, { store, logLevel: 'DEBUG' });
      const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: paymentIntent() }));
      fake.failNext(1);

      await webhook.send(signedRequest(event)); // 500: Stripe down
      await webhook.send(signedRequest(event)); // 200: refunded

      const processed = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.message === 'Processed a Stripe event');
      expect(processed).toMatchObject({ stripeEventId: event.id, tripId: trip.tripId, outcome: 'refunded', level: 'INFO' });
      const all = lines.join('\n');
      expect(all).not.toContain(SIGNING_SECRET);
      expect(all).not.toContain('sk_test_fake');
      expect(all).not.toMatch(/\n\s+at /);
      expect(all).not.toContain('"payment_status"');
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});
