// The Stripe contract at its edges: envelopes of odd shape, amounts beyond Stripe's, foreign objects of odd shape, unusable events counted once and resolved, the mode alarm.
import { randomUUID } from 'node:crypto';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Trip } from '../../lambdas/shared/domain/model';
import { BookingStack } from '../../lib/booking-stack';
import { parseStackSettings } from '../../lib/settings';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { linesWritten } from '../support/lines-written';
import { ops } from '../support/ops';
import { readSlot, seedSlot, testStore } from '../support/store';
import { chargeRefunded, checkoutSession, paymentIntentId, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
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
  const webhook = webhookHarness(fake, { store });
  return { store, slot, trip, paymentIntent, webhook, metricNames: metricSpy(webhook) };
}

function metricSpy(webhook: ReturnType<typeof webhookHarness>): () => string[] {
  const added = vi.spyOn(webhook.metrics, 'addMetric');
  return () => added.mock.calls.map(([name]) => name);
}

async function expectUntouched(store: ReturnType<typeof testStore>, trip: Trip, paymentIntent: string, slotId: string): Promise<void> {
  expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
  expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
  expect((await readSlot(store, slotId))?.availableCount).toBe(4);
  expect(await store.getPaymentRecord(paymentIntent)).toBeUndefined();
  expect(fake.refundsOf(paymentIntent)).toEqual([]);
}

describe('a validly signed event of a handled type is never answered 4xx', () => {
  // Past the event's identity, an envelope of odd shape is an unusable event (200), never a 400 that Stripe redelivers for 3 days.
  it.each([
    { name: 'livemode as a string', envelope: { livemode: 'false' } },
    { name: 'livemode null', envelope: { livemode: null } },
    { name: 'api_version as a number', envelope: { api_version: 20261028 } },
    { name: 'data.object null', envelope: { data: { object: null } } },
  ])('keeps a marked checkout.session.completed with $name as an unusable event, answered 200', async ({ envelope }) => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();
    const event = { ...stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent })), ...envelope };

    const response = await webhook.send(signedRequest(event));

    expect(response).toMatchObject({ status: 200, body: { received: true, outcome: 'needs_attention', reason: 'unusable_event' } });
    expect(await store.getUnusableEvent(event.id)).toMatchObject({ status: 'needs_attention', eventType: 'checkout.session.completed' });
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
  });
});

describe('a validly signed event is never answered 5xx for its content', () => {
  // An amount beyond any Stripe charges is unusable; it must never reach the table (it would not fit a number there) and answer 500.
  it('keeps a marked paid session whose amount_total is above 2^53 as unusable, instead of 500', async () => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();

    const response = await webhook.send(
      signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent, amount: 2 ** 53 + 2 }))),
    );

    expect(response).toMatchObject({ status: 200, body: { received: true, outcome: 'needs_attention', reason: 'unusable_event' } });
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
  });

  it('keeps a marked charge.refunded of 10^20 as unusable, instead of 500', async () => {
    const { store, slot, trip, paymentIntent, webhook } = await pendingTrip();

    const response = await webhook.send(signedRequest(chargeRefunded(paymentIntent, 1e20, { tripId: trip.tripId })));

    expect(response).toMatchObject({ status: 200, body: { received: true, outcome: 'needs_attention', reason: 'unusable_event' } });
    await expectUntouched(store, trip, paymentIntent, slot.slotId);
  });

  it('keeps a refund.created of 2^60 on a payment we booked as unusable, instead of 500, and leaves the record as it was', async () => {
    const { store, trip, paymentIntent, webhook } = await pendingTrip();
    expect((await webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent }))))).body.outcome).toBe(
      'booked',
    );
    const before = await store.getPaymentRecord(paymentIntent);

    const response = await webhook.send(
      signedRequest(
        stripeEvent('refund.created', {
          id: `re_${randomUUID().replace(/-/g, '')}`,
          object: 'refund',
          payment_intent: paymentIntent,
          amount: 2 ** 60,
          status: 'succeeded',
          metadata: {},
        }),
      ),
    );

    expect(response).toMatchObject({ status: 200, body: { received: true, outcome: 'needs_attention', reason: 'unusable_event' } });
    expect(await store.getPaymentRecord(paymentIntent)).toEqual(before);
    expect((await store.getTrip(trip.tripId))?.status).toBe('booked');
  });
});

describe('an event of another API version', () => {
  it('is acted on, and its warning names the event it is about', async () => {
    const { store, trip, paymentIntent } = await pendingTrip();
    const webhook = webhookHarness(fake, { store, logLevel: 'DEBUG' });
    const event = { ...stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent })), api_version: '2023-10-16' };

    let answer: Awaited<ReturnType<typeof webhook.send>> | undefined;
    const lines = await linesWritten(async () => {
      answer = await webhook.send(signedRequest(event));
    });

    expect(answer).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect(lines.filter((line) => String(line.message).startsWith('An event of another API version'))).toEqual([
      expect.objectContaining({ level: 'WARN', stripeEventId: event.id, eventType: 'checkout.session.completed', apiVersion: '2023-10-16' }),
    ]);
  });
});

describe('ours only: a foreign charge or refund is never kept, counted or alarmed', () => {
  // Another product's charge or refund is left alone whatever its shape: ownership is read before the shape.
  it.each([
    {
      name: 'an unmarked charge.refunded of a payment we hold no record of, without amount_refunded',
      event: (pi: string) => {
        const event = chargeRefunded(pi, 5_000);
        delete (event.data.object as Record<string, unknown>).amount_refunded;
        return event;
      },
    },
    {
      name: 'a refund.updated of a payment we hold no record of, without amount',
      event: (pi: string) =>
        stripeEvent('refund.updated', { id: `re_${randomUUID().replace(/-/g, '')}`, object: 'refund', payment_intent: pi, status: 'succeeded', metadata: {} }),
    },
  ])('acknowledges $name and records nothing', async ({ event }) => {
    const foreignPayment = paymentIntentId();
    const webhook = webhookHarness(fake);
    const metricNames = metricSpy(webhook);
    const delivered = event(foreignPayment);

    const response = await webhook.send(signedRequest(delivered));

    expect(response.status).toBe(200);
    expect(response.body.reason).not.toBe('unusable_event');
    expect(await webhook.store.getUnusableEvent(delivered.id)).toBeUndefined();
    expect(metricNames()).not.toContain('UnusableEvents');
    expect(await webhook.store.getPaymentRecord(foreignPayment)).toBeUndefined();
  });
});

describe('unusable events in front of a person', () => {
  // Every redelivery of an unusable event is answered 200 again, but counted (and alarmed) only once.
  it('counts an unusable event once, not once per delivery', async () => {
    const { trip, paymentIntent, webhook, metricNames } = await pendingTrip();
    const event = stripeEvent('checkout.session.completed', { ...checkoutSession(trip, { paymentIntent }), payment_status: 'requires_review' });

    await webhook.send(signedRequest(event));
    await webhook.send(signedRequest(event));

    expect(metricNames().filter((name) => name === 'UnusableEvents')).toHaveLength(1);
  });

  // Whatever id the webhook kept an unusable event under, a person can resolve it.
  it('lets `attention resolve` close every event the webhook kept, whatever its id', async () => {
    const { store, trip, paymentIntent, webhook } = await pendingTrip();
    const id = `whevt_${randomUUID().replace(/-/g, '')}`;
    const event = stripeEvent('checkout.session.completed', { ...checkoutSession(trip, { paymentIntent }), payment_status: 'requires_review' }, id);
    expect((await webhook.send(signedRequest(event))).body).toMatchObject({ outcome: 'needs_attention', reason: 'unusable_event' });

    const resolved = await ops(['attention', 'resolve', id, '--note', 'looked at it']);

    expect(resolved).toMatchObject({ code: 0 });
    expect((await store.getUnusableEvent(id))?.status).toBe('resolved');
  });

  // A person's note on an unusable event is kept in its audit trail, and can be read there.
  it('shows the audit trail of a resolved unusable event through `audit list --entity event:ID`', async () => {
    const { trip, paymentIntent, webhook } = await pendingTrip();
    const event = stripeEvent('checkout.session.completed', { ...checkoutSession(trip, { paymentIntent }), payment_status: 'requires_review' });
    await webhook.send(signedRequest(event));
    expect((await ops(['attention', 'resolve', event.id, '--note', 'a dashboard test event'])).code).toBe(0);

    const listed = await ops(['audit', 'list', '--entity', `event:${event.id}`]);

    expect(listed.code).toBe(0);
    expect(listed.out).toContain('stripe_event.unusable');
    expect(listed.out).toContain('stripe_event.resolved');
  });
});

describe('only our mode, without losing our payments silently', () => {
  // An event of the other mode is ignored: a live endpoint holding a test key would book nothing, so someone must hear of it.
  it('alarms on the first event of the other mode', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new BookingStack(app, 'Bookings', {
      settings: parseStackSettings({ alarmEmail: 'ops@example.com' }),
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')) as {
      Properties: { MetricName?: string; Threshold?: number };
    }[];

    expect(alarms.filter((alarm) => alarm.Properties.MetricName === 'ModeMismatches')).toEqual([
      expect.objectContaining({ Properties: expect.objectContaining({ Threshold: 1 }) }),
    ]);
  });
});
