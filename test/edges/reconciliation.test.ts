// The reconciliation sweep at its edges, through its real handler, DynamoDB Local and the Stripe fake's list of events:
// suspected holes proved closed (windows, pages and seconds, late events, running out of time, poison events, races with
// a delivery and with the operator's command, the command's dates).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Context } from 'aws-lambda';
import { randomIds, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { Slot } from '../../lambdas/shared/domain/model';
import type { PaymentEventSource, PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { OVERLAP_SECONDS, SETTLE_SECONDS, WINDOW_SECONDS } from '../../lambdas/shared/domain/reconcile-events';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import type { StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { createStripeReconciler, ReconciliationStoppedError } from '../../lambdas/stripe-reconciler/reconciler';
import { checkoutSession, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { overwriteSlot, readSlot, testStore, uniqueId } from '../support/store';
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

describe('the cursor and the clock', () => {
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
