// The reconciliation sweep at its edges, through its real handler, DynamoDB Local and the Stripe fake's list of events: where
// an event can be skipped or held back, what a delivery answered without a record makes it count, runs that overlap or die,
// and the operator's command. Tests that fail show holes; the others prove suspected ones closed.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TRIP_PATH } from '../../lambdas/checkout/trip-handler';
import type { Slot } from '../../lambdas/shared/domain/model';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import type { StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { checkoutSession, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type FakeDelivery, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { overwriteSlot, readSlot, testStore, uniqueId } from '../support/store';
import { type ReconcilerOptions, testReconciler } from '../support/reconciler';
import { webhookHarness } from '../support/webhook';

const DAY_MS = 86_400_000;

let fake: StripeFake;
/** The fake's clock, in milliseconds, where a test needs events created at given seconds; the real time otherwise. */
let fakeNow: number | undefined;
beforeEach(async () => {
  fakeNow = undefined;
  // A fake of its own per test: a first sweep lists every event the fake holds.
  fake = await startStripeFake({ now: () => fakeNow ?? Date.now() });
});
afterEach(() => fake.close());

/** A reconciler as the Lambda builds it, at this test's fake. */
const reconciler = (store: DynamoDbBookingStore, options: ReconcilerOptions = {}) => testReconciler(fake, store, options);

/** A trip checked out on a slot of its own, at this test's fake. */
const checkedOut = (store: DynamoDbBookingStore) => checkedOutTrip(store, fake);

/** An operator blocks the trip's slot before its payment arrives: the payment is then refunded in full. */
async function blockSlotOf(store: DynamoDbBookingStore, slotId: string): Promise<void> {
  await overwriteSlot({ ...((await readSlot(store, slotId)) as Slot), isBlocked: true });
}

/** An event Stripe made that the fake does not make itself (refund and charge events): listed as Stripe would list it. */
function listAtStripe(event: { id: string; type: string; created: number }): void {
  fake.events.push(event as unknown as FakeEvent);
}

/**
 * Stripe's POST of `event` to the webhook, made now and recorded where Stripe records it (what `delivery_success` filters
 * on), as the fake records the deliveries it makes itself.
 */
async function deliver(store: DynamoDbBookingStore, event: { id: string; type: string }, mode: StripeMode = 'test') {
  const answer = await webhookHarness(fake, { store, mode }).send(signedRequest(event));
  fake.deliveries.push({ eventId: event.id, type: event.type, status: answer.status, body: JSON.stringify(answer.body) } as FakeDelivery);
  return answer;
}

describe('an event the webhook delivered normally, answered without a processed-event record of its own', () => {
  it("is not a missed delivery when the trip was booked on the traveller's return before the webhook arrived", async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    // No webhook yet: the payment's event waits at Stripe while the traveller is back first.
    const event = await trip.pay();
    const userId = (await trip.trip())?.userId as string;
    const returned = await createLocalTripHandler({
      store,
      stripeClient: () => fake.client(),
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
    })(
      apiGatewayEvent({
        method: 'GET',
        path: `/trips/${trip.tripId}`,
        routeKey: `GET ${TRIP_PATH}`,
        pathParameters: { tripId: trip.tripId },
        rawQueryString: new URLSearchParams({ userId }).toString(),
      }),
    );
    const delivered = await deliver(store, event);
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(JSON.parse(returned.body ?? '{}')).toMatchObject({ status: 'booked' });
    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    // The webhook took the event (200): Stripe lists it as delivered. Counting it alarms on a webhook that loses nothing.
    expect(summary).toMatchObject({ missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
  });

  it('is not a missed delivery: refund.created and charge.refunded of a refund the webhook itself made', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    const paid = await trip.pay();
    const refunding = await deliver(store, paid);
    const [refund] = fake.refundsOf(trip.paymentIntent());
    // What Stripe sends next about the refund it just made, both taken by the webhook with 200.
    const created = stripeEvent('refund.created', refundObject(refund as NonNullable<typeof refund>));
    const charge = fake.payment(trip.paymentIntent());
    const refunded = stripeEvent('charge.refunded', {
      id: charge?.charge,
      object: 'charge',
      payment_intent: trip.paymentIntent(),
      amount: trip.amount,
      amount_refunded: trip.amount,
      refunded: true,
      currency: 'eur',
      metadata: { [TRIP_MARK]: trip.tripId },
    });
    listAtStripe(created);
    listAtStripe(refunded);
    const answers = [await deliver(store, created), await deliver(store, refunded)];
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(refunding).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    // Both answered from the record the refund left: nothing to do, and nothing written about either event.
    expect(answers).toEqual([
      { status: 200, body: expect.objectContaining({ outcome: 'duplicate' }) },
      { status: 200, body: expect.objectContaining({ outcome: 'duplicate' }) },
    ]);
    expect(summary).toMatchObject({ listed: 3, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
  });

  it("is never recorded or counted when it is another product's refund.created", async () => {
    const store = testStore();
    const paymentIntent = `pi_${uniqueId('other').replace(/-/g, '').slice(0, 24)}`;
    fake.registerPayment(paymentIntent, 2_000);
    // Another product of the account refunds its own payment: no refund key of ours on it.
    await fake.client().refunds.create({ payment_intent: paymentIntent });
    const [refund] = fake.refundsOf(paymentIntent);
    const theirs = stripeEvent('refund.created', refundObject(refund as NonNullable<typeof refund>));
    listAtStripe(theirs);
    const delivered = await deliver(store, theirs);
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'no_change' } });
    expect(summary).toMatchObject({ listed: 1, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
    expect(await store.getProcessedEvent(theirs.id)).toBeUndefined();
  });
});

describe('poison events do not hold the cursor', () => {
  it('moves past a refund Stripe refuses for good: the payment needs a person, the run succeeds, and the next skips it', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    fake.dropNextDeliveries(1);
    await trip.pay();
    fake.refuseNext('charge_disputed', { message: 'This charge is disputed.' });
    const sweep = reconciler(store, { cursor });

    const first = await sweep.run();
    const second = await sweep.run();

    expect(first).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(sweep.metric('PaymentsNeedingAttention')).toBe(1);
    expect(second).toMatchObject({ alreadyProcessed: 1, processed: 0 });
    expect((await store.getEventCursor(cursor))?.retryEventIds).toBeUndefined();
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'needs_attention' });
  });

  it('moves past an event of ours it cannot act on: kept for a person once, counted once', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await checkedOut(store);
    const stored = await trip.trip();
    const unusable = stripeEvent('checkout.session.completed', {
      ...checkoutSession(stored as NonNullable<typeof stored>),
      payment_status: 'paid_in_kind',
    });
    listAtStripe(unusable);
    const sweep = reconciler(store, { cursor });

    const first = await sweep.run();
    const second = await sweep.run();

    expect(first).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(second).toMatchObject({ alreadyProcessed: 1, processed: 0 });
    expect(sweep.metric('UnusableEvents')).toBe(1);
    expect(await store.getUnusableEvent(unusable.id)).toBeDefined();
    expect((await trip.trip())?.status).toBe('pending_payment');
  });
});

describe('the sweep racing a live delivery of a payment that must be refunded', () => {
  it('refunds once: the sweep sets it aside and refunds while the delivery is held at its commit, which then answers refunded', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    const event = await trip.pay();
    const held = holdFirstCommit(store);
    const sweep = reconciler(store);

    const delivering = webhookHarness(fake, { store: held.store }).send(signedRequest(event));
    await held.reached;
    const summary = await sweep.run();
    held.release();
    const delivered = await delivering;

    expect(summary).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(sweep.metric('Refunds')).toBe(1);
    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
    expect(await trip.bookings()).toEqual([]);
    expect(await trip.available()).toBe(4);
  });
});

describe('the scheduled sweep racing the operator’s command on one lost payment', () => {
  it('books once: the command books while the sweep is held at its commit, which then answers duplicate and counts nothing', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    await trip.pay();
    const held = holdFirstCommit(store);
    const sweep = reconciler(held.store);

    const sweeping = sweep.run();
    await held.reached;
    const byHand = await ops(['reconcile', '--since', new Date(Date.now() - DAY_MS).toISOString().slice(0, 10)], undefined, {
      STRIPE_API_KEY: 'sk_test_fake',
      STRIPE_API_BASE: fake.url,
    });
    held.release();
    const summary = await sweeping;

    expect(byHand.code).toBe(0);
    expect(summary).toMatchObject({ processed: 1, missedDeliveries: 0 });
    expect(sweep.metric('Confirmations')).toBe(0);
    expect(await trip.bookings()).toHaveLength(1);
    expect(await trip.available()).toBe(2);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'booked', version: 1 });
  });
});

describe('ops reconcile', () => {
  it('does not call an event the webhook missed while it is younger than the settle delay (its delivery is on its way)', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    // Paid a moment ago; Stripe's POST to the webhook has not arrived yet.
    await trip.pay();

    const byHand = await ops(['reconcile', '--since', new Date(Date.now() - DAY_MS).toISOString().slice(0, 10), '--json'], undefined, {
      STRIPE_API_KEY: 'sk_test_fake',
      STRIPE_API_BASE: fake.url,
    });

    expect(byHand.code).toBe(0);
    const report = JSON.parse(byHand.out) as { events: { missedDelivery?: boolean }[] };
    expect(report.events.filter((event) => event.missedDelivery)).toEqual([]);
  });

  it('reads dates as UTC whatever the zone, and ends a span with --until in the future at now', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + DAY_MS).toISOString().slice(0, 10);
    const before = Date.now();
    const zone = process.env.TZ;
    // A zone 14 hours ahead of UTC, where "today" is often already tomorrow.
    process.env.TZ = 'Pacific/Kiritimati';
    const byHand = await ops(['reconcile', '--since', today, '--until', tomorrow, '--json'], undefined, {
      STRIPE_API_KEY: 'sk_test_fake',
      STRIPE_API_BASE: fake.url,
    }).finally(() => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    });

    expect(byHand.code).toBe(0);
    const report = JSON.parse(byHand.out) as { from: string; to: string };
    expect(report.from).toBe(`${today}T00:00:00.000Z`);
    expect(Date.parse(report.to)).toBeLessThan(before + 2_000);
  });
});
