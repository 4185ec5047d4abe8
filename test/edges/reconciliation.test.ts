// The reconciliation sweep at its edges, through its real handler, DynamoDB Local and the Stripe fake's list of events: where
// an event can be skipped or held back, what a delivery answered without a record makes it count, runs that overlap or die,
// and the operator's command. Tests that fail show holes; the others prove suspected ones closed.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { TRIP_PATH } from '../../lambdas/checkout/trip-handler';
import type { Context } from 'aws-lambda';
import { randomIds, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { Slot } from '../../lambdas/shared/domain/model';
import type { PaymentEventSource, PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { OVERLAP_SECONDS, SETTLE_SECONDS, WINDOW_SECONDS } from '../../lambdas/shared/domain/reconcile-events';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import type { StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { createStripeReconciler, ReconciliationStoppedError, STRIPE_CURSOR } from '../../lambdas/stripe-reconciler/reconciler';
import { apiGatewayEvent } from '../../scripts/dev-kit/api-gateway-events';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { checkoutSession, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type FakeDelivery, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { runOps } from '../../scripts/ops/cli';
import { checkedOutTrip } from '../support/checked-out';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { overwriteSlot, readSlot, storeOnOwnTable, testStore, uniqueId } from '../support/store';
import { webhookHarness } from '../support/webhook';

const MINUTE_MS = 60_000;
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

/** The time a sweep runs at: `minutes` after now, so events made now are past the settle delay. */
const minutesLater = (minutes: number): Clock => {
  const at = new Date(Date.now() + minutes * MINUTE_MS);
  return { now: () => at };
};

/** A clock standing at `seconds` since the epoch. */
const atSecond = (seconds: number): Clock => ({ now: () => new Date(seconds * 1000) });

interface ReconcilerOptions {
  readonly clock?: Clock;
  readonly cursor?: string;
  readonly events?: PaymentEventSource;
  readonly gateway?: PaymentGateway;
  readonly mode?: StripeMode;
}

/** A reconciler as the Lambda builds it, on a cursor of the test's own; `metric(name)` sums what it published under that name. */
function reconciler(store: DynamoDbBookingStore, options: ReconcilerOptions = {}) {
  const metrics = new Metrics({ namespace: 'test', serviceName: 'test', singleMetric: false });
  const added = vi.spyOn(metrics, 'addMetric');
  const run = createStripeReconciler({
    store,
    events: options.events ?? new StripeEventSource(async () => fake.client()),
    gateway: options.gateway ?? new StripePaymentGateway(async () => fake.client()),
    clock: options.clock ?? minutesLater(10),
    ids: randomIds,
    mode: async () => options.mode ?? 'test',
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    metrics,
    cursor: options.cursor ?? uniqueId('cursor'),
  });
  return {
    run,
    metric: (name: string): number => added.mock.calls.filter(([metric]) => metric === name).reduce((sum, [, , value]) => sum + Number(value), 0),
  };
}

/** A Lambda context that gives `checks` looks at the remaining time enough of it, and none after (the margin is 20 s). */
function runningOutAfter(checks: number): Pick<Context, 'getRemainingTimeInMillis'> {
  let looked = 0;
  return { getRemainingTimeInMillis: () => (++looked <= checks ? 60_000 : 20_000) };
}

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

describe('an event whose record exists but whose processing did not finish', () => {
  it('is refunded by the sweep when its delivery stored the refund, Stripe failed it (500), and every redelivery was lost', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    const event = await trip.pay();
    fake.failNext(1, 500);
    const delivered = await deliver(store, event);
    const stored = await store.getPaymentRecord(trip.paymentIntent());
    // Stripe's redeliveries of it all fail or never come (the endpoint is down for the rest of the three days).
    const sweep = reconciler(store);

    await sweep.run();
    await sweep.run();

    expect(delivered.status).toBe(500);
    expect(stored).toMatchObject({ status: 'refund_pending', refunds: [expect.objectContaining({ status: 'requested' })] });
    expect(await store.getProcessedEvent(event.id)).toBeDefined();
    // The traveller paid for a trip that could not be booked; the money must go back without a person running a command.
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });

  it('is refunded by the next run when a run is killed by its timeout while Stripe is slow on the refund it stored', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    await trip.pay();
    const real = new StripePaymentGateway(async () => fake.client());
    let asked!: () => void;
    const refundAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    // Stripe's client waits 8 s three times (24 s and its backoff) before it gives up: more than the 20 s the run keeps back.
    const slow: PaymentGateway = {
      refundable: (paymentId) => real.refundable(paymentId),
      findRefund: (paymentId, refundKey) => real.findRefund(paymentId, refundKey),
      refund: () => {
        asked();
        return new Promise(() => undefined);
      },
    };

    // Lambda stops the run here, at its timeout: nothing after the refund's request runs, the cursor is not written.
    void reconciler(store, { cursor, gateway: slow }).run();
    await refundAsked;
    const next = reconciler(store, { cursor });
    await next.run();

    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });
});

describe('two runs of the schedule at once (Lambda may hand the same scheduled invocation over twice)', () => {
  it('never drops the retry of an event the other run stopped at: its refund is asked again', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    await reconciler(store, { cursor, clock: minutesLater(0) }).run();
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    const real = new StripeEventSource(async () => fake.client());
    let arrive!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => {
      arrive = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The second run has read the cursor and is on its way to Stripe's list when the first one stops.
    const gated: PaymentEventSource = {
      async listEvents(query) {
        arrive();
        await released;
        return real.listEvents(query);
      },
    };
    const second = reconciler(store, { cursor, events: gated }).run();
    await reached;
    fake.failNext(1, 500);

    const first = await reconciler(store, { cursor })
      .run()
      .catch((error: unknown) => error);
    const afterFirst = await store.getEventCursor(cursor);
    release();
    const secondSummary = await second;
    await reconciler(store, { cursor }).run();

    expect(first).toBeInstanceOf(ReconciliationStoppedError);
    expect(afterFirst).toMatchObject({ resumeAt: event.created, retryEventIds: [event.id] });
    expect(secondSummary).toMatchObject({ alreadyProcessed: 1 });
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await trip.trip()).toMatchObject({ status: 'refunded' });
  });
});

describe('the cursor and the clock', () => {
  it("keeps the retry of an event of the cursor's second when a run's clock is one second behind the last run's", async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    fake.failNext(1, 500);

    // The first run ends its span at the event's very second, and stops there; the next one runs on a clock a second behind.
    const stopped = await reconciler(store, { cursor, clock: atSecond(event.created + SETTLE_SECONDS) })
      .run()
      .catch((error: unknown) => error);
    const afterStop = await store.getEventCursor(cursor);
    await reconciler(store, { cursor, clock: atSecond(event.created + SETTLE_SECONDS - 1) }).run();
    const afterSkew = await store.getEventCursor(cursor);
    await reconciler(store, { cursor }).run();

    expect(stopped).toBeInstanceOf(ReconciliationStoppedError);
    expect(afterStop).toMatchObject({ resumeAt: event.created, retryEventIds: [event.id] });
    expect(afterSkew).toMatchObject({ resumeAt: event.created, retryEventIds: [event.id] });
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
  });

  it('does not hold back every later lost delivery behind one event whose refund Stripe keeps failing', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const failing = await checkedOut(store);
    const lost = await checkedOut(store);
    await blockSlotOf(store, failing.slot.slotId);
    fake.dropNextDeliveries(2);
    await failing.pay();
    fake.advance(2_000);
    await lost.pay();
    // Stripe answers 500 to every request for that one refund, for as long as the test lasts.
    fake.failNext(1_000, 500);
    const sweep = reconciler(store, { cursor });

    const runs = [];
    for (let run = 0; run < 3; run++) runs.push(await sweep.run().catch((error: unknown) => error));

    expect(runs.every((run) => run instanceof ReconciliationStoppedError)).toBe(true);
    // Another traveller's payment, lost as well, waits behind it for as long as that refund fails.
    expect((await lost.trip())?.status).toBe('booked');
  });

  it('starts after a window whose last second held an event that failed, and books the one of the next second once', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const boundary = Math.floor(Date.now() / 1000);
    // The first window from this cursor ends at boundary - 1; the next starts at boundary.
    await store.moveEventCursor({ source: cursor, resumeAt: boundary - WINDOW_SECONDS + OVERLAP_SECONDS, updatedAt: new Date().toISOString() });
    const last = await checkedOut(store);
    const next = await checkedOut(store);
    await blockSlotOf(store, last.slot.slotId);
    fake.dropNextDeliveries(2);
    fakeNow = (boundary - 1) * 1000;
    const atEnd = await last.pay();
    fakeNow = boundary * 1000;
    const atStart = await next.pay();
    fake.failNext(1, 500);
    const clock = atSecond(boundary + SETTLE_SECONDS + 60);

    const stopped = await reconciler(store, { cursor, clock })
      .run()
      .catch((error: unknown) => error);
    const resumed = await reconciler(store, { cursor, clock }).run();

    expect([atEnd.created, atStart.created]).toEqual([boundary - 1, boundary]);
    expect(stopped).toBeInstanceOf(ReconciliationStoppedError);
    expect(resumed).toMatchObject({ processed: 2 });
    expect(fake.refundsOf(last.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(last.paymentIntent())).toBe(last.amount);
    expect(await next.bookings()).toHaveLength(1);
    expect(await next.available()).toBe(2);
  });

  it('finds an event that shows up in Stripe’s list only after the cursor passed its second', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    const late = await trip.pay();
    const position = fake.events.indexOf(late);
    fake.events.splice(position, 1);

    const before = await reconciler(store, { cursor, clock: minutesLater(10) }).run();
    const passed = await store.getEventCursor(cursor);
    fake.events.splice(position, 0, late);
    const after = await reconciler(store, { cursor, clock: minutesLater(15) }).run();

    expect(before).toMatchObject({ listed: 0 });
    expect(passed?.resumeAt).toBeGreaterThan(late.created);
    expect(after).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(await trip.bookings()).toHaveLength(1);
  });

  it('lists every event of one second across pages of 100, and books the lost one among them once', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    const ours = await trip.pay();
    const stored = await trip.trip();
    // Another product's sessions completed in the same second, 70 listed before ours and 70 after.
    const theirs = Array.from({ length: 140 }, () => ({
      ...stripeEvent('checkout.session.completed', checkoutSession(stored as NonNullable<typeof stored>, { tripId: null })),
      created: ours.created,
    }));
    fake.events.splice(fake.events.indexOf(ours), 0, ...(theirs.slice(0, 70) as unknown as FakeEvent[]));
    fake.events.push(...(theirs.slice(70) as unknown as FakeEvent[]));
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(summary).toMatchObject({ listed: 141, processed: 141, missedDeliveries: 1 });
    expect(await trip.bookings()).toHaveLength(1);
    expect(await store.getProcessedEvent(ours.id)).toMatchObject({ outcome: 'booked' });
  });

  it('stops out of time between two events of one second, and the next run books the second without touching the first', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    await reconciler(store, { cursor, clock: minutesLater(0) }).run();
    const first = await checkedOut(store);
    const second = await checkedOut(store);
    fake.dropNextDeliveries(2);
    fakeNow = Date.now();
    await first.pay();
    await second.pay();

    // Time to list the one window and begin its first event, none for the second.
    const cut = await reconciler(store, { cursor }).run(undefined, runningOutAfter(2));
    const cursorAfterCut = await store.getEventCursor(cursor);
    const rest = await reconciler(store, { cursor }).run();

    expect(cut).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(cursorAfterCut?.resumeAt).toBe(fake.events.at(-1)?.created);
    expect(rest).toMatchObject({ alreadyProcessed: 1, processed: 1, missedDeliveries: 1 });
    expect(await first.bookings()).toHaveLength(1);
    expect(await second.bookings()).toHaveLength(1);
  });

  it('works through a first run’s 30 days in runs that each run out of time, every event processed once', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    await trip.pay();

    const summaries = [];
    for (let run = 0; run < 20; run++) {
      const summary = await reconciler(store, { cursor }).run(undefined, runningOutAfter(15));
      summaries.push(summary);
      if (summary.processed > 0) break;
    }

    // Each run lists 15 windows of 6 hours (less the overlap, about 3.7 days), and the next goes on from where it stopped.
    expect(summaries.length).toBeGreaterThan(5);
    const resumed = summaries.map((summary) => Date.parse(summary.resumeAt ?? ''));
    for (let index = 1; index < resumed.length; index++) expect(resumed[index]).toBeGreaterThan(resumed[index - 1] as number);
    expect(summaries.reduce((sum, summary) => sum + summary.missedDeliveries, 0)).toBe(1);
    expect(await trip.bookings()).toHaveLength(1);
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
    const byHand = await ops(['reconcile', '--since', new Date().toISOString().slice(0, 10)], undefined, {
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
  /** The command against a table of the test's own, with this Stripe key (at the fake). */
  async function reconcileByHand(tableName: string, apiKey: string, ...flags: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runOps(['reconcile', ...flags, '--endpoint', inject('dynamoEndpoint'), '--table', tableName], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: { STRIPE_API_KEY: apiKey, STRIPE_API_BASE: fake.url },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('never acts on test-mode events in the table of a live deployment', async () => {
    const store = await storeOnOwnTable();
    const trip = await checkedOutTrip(store, fake);
    await trip.pay();
    // The live deployment's own sweep has kept its cursor in this table, and leaves a test-mode event alone.
    const live = await reconciler(store, { cursor: STRIPE_CURSOR, mode: 'live' }).run();

    const byHand = await reconcileByHand(store.tableName, 'sk_test_from_a_laptop', '--since', new Date().toISOString().slice(0, 10));

    expect(live).toMatchObject({ processed: 1, missedDeliveries: 0 });
    // Refused, or the event left alone as the deployment leaves it: either way nothing is written for it.
    expect(byHand.err).not.toContain('RECONCILE_STOPPED');
    expect((await trip.trip())?.status).toBe('pending_payment');
    expect(await store.getPaymentRecord(trip.paymentIntent())).toBeUndefined();
  });

  it("never refunds a live payment when run with the live key against a table that is not the live deployment's", async () => {
    // A live traveller's trip, paid and booked in the live deployment's table.
    const liveTable = testStore();
    const liveTrip = await checkedOutTrip(liveTable, fake);
    const made = await liveTrip.pay();
    // As Stripe's live mode makes it (the fake makes test-mode events only).
    const paid = { ...made, livemode: true, data: { object: { ...made.data.object, livemode: true } } };
    fake.events.splice(fake.events.indexOf(made), 1, paid as unknown as FakeEvent);
    const booked = await deliver(liveTable, paid, 'live');
    // A staging (or `npm start`) table, where the command lands when --region and --table are forgotten.
    const staging = await storeOnOwnTable();
    await reconciler(staging, { cursor: STRIPE_CURSOR, mode: 'test' }).run();

    const byHand = await reconcileByHand(staging.tableName, 'sk_live_on_the_wrong_table', '--since', new Date().toISOString().slice(0, 10));

    expect(booked).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect((await liveTrip.trip())?.status).toBe('booked');
    expect(byHand.err).not.toContain('RECONCILE_STOPPED');
    // The payment is unknown there, so it is set aside and refunded in full, for real, while the trip stays booked.
    expect(fake.refundsOf(liveTrip.paymentIntent())).toEqual([]);
    expect(await staging.getPaymentRecord(liveTrip.paymentIntent())).toBeUndefined();
  });

  it('does not call an event the webhook missed while it is younger than the settle delay (its delivery is on its way)', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    // Paid a moment ago; Stripe's POST to the webhook has not arrived yet.
    await trip.pay();

    const byHand = await ops(['reconcile', '--since', new Date().toISOString().slice(0, 10), '--json'], undefined, {
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
