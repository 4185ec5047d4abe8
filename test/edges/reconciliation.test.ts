// The reconciliation sweep at its edges, through its real handler, DynamoDB Local and the Stripe fake's list of events: where
// an event can be skipped or held back, what a delivery answered without a record makes it count, refunds Stripe did not
// take, runs that overlap or die, and the operator's command (its mode against the table's).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { StoreUnavailableError } from '../../lambdas/shared/domain/errors';
import type { Slot } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type PaymentEventSource, type PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { OVERDUE_AFTER_MS, RESUME_AFTER_MS } from '../../lambdas/shared/domain/resume-refunds';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { keys } from '../../lambdas/shared/dynamodb/items';
import type { StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { cursorOf, ReconciliationStoppedError, STRIPE_CURSOR } from '../../lambdas/stripe-reconciler/reconciler';
import { tripRequest } from '../../scripts/dev-kit/api-gateway-events';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { chargeRefunded, checkoutSession, paymentIntentId, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type FakeDelivery, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { runOps } from '../../scripts/ops/cli';
import { checkedOutTrip } from '../support/checked-out';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { overwriteSlot, readSlot, storeOnOwnTable, testDocumentClient, testStore, uniqueId, testTableName } from '../support/store';
import { minutesLater, type ReconcilerOptions, testReconciler } from '../support/reconciler';
import { gatewayWithRefund } from '../support/gateways';
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

/** A trip paid for a slot an operator blocked meanwhile (it is to be refunded), whose delivery was lost. */
async function lostPaymentOfBlockedSlot(store: DynamoDbBookingStore) {
  const trip = await checkedOut(store);
  await blockSlotOf(store, trip.slot.slotId);
  fake.dropNextDeliveries(1);
  await trip.pay();
  return trip;
}

/** An event made by hand (one the fake would never make): listed as Stripe would list it. */
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

/**
 * What the version before left: the record without the refunds-due keys, its one cursor (of either mode, under the name
 * the test mode's has now) at the event with it to retry.
 */
async function asTheVersionBeforeLeftIt(cursor: string, paymentId: string, event: FakeEvent, mode?: StripeMode): Promise<void> {
  const client = testDocumentClient();
  await client.send(new UpdateCommand({ TableName: testTableName(), Key: keys.paymentRecord(paymentId), UpdateExpression: 'REMOVE gsi2pk, gsi2sk' }));
  await client.send(
    new PutCommand({
      TableName: testTableName(),
      Item: {
        ...keys.eventCursor(cursor),
        entity: 'event_cursor',
        source: cursor,
        resumeAt: event.created,
        ...(mode !== undefined && { mode }),
        retryEventIds: [event.id],
        updatedAt: new Date().toISOString(),
      },
    }),
  );
}

/**
 * Two travellers paid, both deliveries lost (the endpoint down for Stripe's three days): `failing`'s slot was blocked
 * meanwhile, so its payment must be refunded; `lost`, paid two seconds later, can be booked.
 */
async function twoLostPayments(store: DynamoDbBookingStore) {
  const failing = await checkedOut(store);
  const lost = await checkedOut(store);
  await blockSlotOf(store, failing.slot.slotId);
  fake.dropNextDeliveries(2);
  await failing.pay();
  fake.advance(2_000);
  await lost.pay();
  return { failing, lost };
}

/** Stripe failing every refund (500). */
const stripeFailsRefunds = () => gatewayWithRefund(fake, () => Promise.reject(new PaymentGatewayUnavailableError('Stripe answered 500')));

/** Stripe answers 500 to every refund of `paymentId()`'s payment, for as long as the test lasts. */
const failingFor = (paymentId: () => string) =>
  gatewayWithRefund(fake, (request, real) =>
    request.paymentId === paymentId() ? Promise.reject(new PaymentGatewayUnavailableError('Stripe answered 500')) : real.refund(request),
  );

/** A checked-out trip whose slot was blocked before it was paid: its delivery stored a full refund, and Stripe answered 500. */
async function refundStoredStripeFailedOnce(store: DynamoDbBookingStore) {
  const trip = await checkedOut(store);
  await blockSlotOf(store, trip.slot.slotId);
  fake.failNext(1, 500);
  expect((await deliver(store, await trip.pay())).status).toBe(500);
  return trip;
}

/**
 * `count` payments with a refund due on which Stripe keeps timing out: each ask waits out the client's timeout three times
 * (25 s), and the function's time goes down accordingly. `newRun()` is a fresh run's Lambda context.
 */
async function refundsStripeTimesOutOn(store: DynamoDbBookingStore, count: number) {
  const stuck: string[] = [];
  for (let i = 0; i < count; i++) stuck.push((await refundStoredStripeFailedOnce(store)).paymentIntent());
  let elapsed = 0;
  const gateway = gatewayWithRefund(fake, async (request, real) => {
    if (!stuck.includes(request.paymentId)) return real.refund(request);
    elapsed += 25_000;
    throw new PaymentGatewayUnavailableError('Stripe did not answer the refund (timeout)');
  });
  const newRun = () => {
    elapsed = 0;
    return { getRemainingTimeInMillis: () => 240_000 - elapsed };
  };
  return { stuck, gateway, newRun, elapsed: () => elapsed };
}

/**
 * A lost payment of a blocked slot whose refund a first run stored and Stripe failed, then left as the version before the
 * refunds due left it: the record without their index keys, the cursor at its event with it to retry.
 */
async function leftByTheVersionBefore(cursor: string, mode?: StripeMode, options: { cursorSaysMode?: boolean } = {}) {
  const store = testStore();
  const trip = await lostPaymentOfBlockedSlot(store);
  const event = fake.events.at(-1) as FakeEvent;
  // That version's sweep processed the event (its record written, its refund stored) and Stripe failed the refund.
  const before = uniqueId('version-before');
  await reconciler(store, { cursor: before, gateway: stripeFailsRefunds(), ...(mode !== undefined && { mode, events: eventsIn(mode) }) }).run();
  // The versions that held retries wrote no mode on the cursor; the next ones wrote it.
  await asTheVersionBeforeLeftIt(cursor, trip.paymentIntent(), event, options.cursorSaysMode === false ? undefined : mode);
  return { store, trip, event };
}

/** The fake's list of events as Stripe lists them to a deployment of `mode` (the fake makes test-mode events only). */
function eventsIn(mode: StripeMode): PaymentEventSource {
  const real = new StripeEventSource(async () => fake.client());
  return {
    listEvents: async (query) => {
      const listing = await real.listEvents(query);
      return 'listedDownTo' in listing ? listing : listing.map((event) => ({ ...event, json: { ...(event.json as object), livemode: mode === 'live' } }));
    },
  };
}

/** The traveller back from the payment page: GET /trips/{tripId}, which asks Stripe for the session and processes it. */
async function travellerReturns(store: DynamoDbBookingStore, trip: Awaited<ReturnType<typeof checkedOut>>) {
  const userId = (await trip.trip())?.userId as string;
  const returned = await createLocalTripHandler({
    store,
    table: store.tableName,
    stripeClient: () => fake.client(),
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
  })(tripRequest(trip.tripId, userId));
  return JSON.parse(returned.body ?? '{}') as Record<string, unknown>;
}

describe('an event the webhook delivered normally, answered without a processed-event record of its own', () => {
  it("is not a missed delivery when the trip was booked on the traveller's return before the webhook arrived", async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    // No webhook yet: the payment's event waits at Stripe while the traveller is back first.
    const event = await trip.pay();
    const returned = await travellerReturns(store, trip);
    const delivered = await deliver(store, event);
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(returned).toMatchObject({ status: 'booked' });
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
    // What Stripe sent next about the refund the webhook just made, both taken by the webhook with 200.
    const [created, refunded] = fake.events.filter((event) => event.type === 'refund.created' || event.type === 'charge.refunded');
    const answers = [await deliver(store, created as FakeEvent), await deliver(store, refunded as FakeEvent)];
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(refunding).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect([created?.type, refunded?.type]).toEqual(['refund.created', 'charge.refunded']);
    // Both answered from the record the refund left: nothing to do, and nothing written about either event.
    expect(answers).toEqual([
      { status: 200, body: expect.objectContaining({ outcome: 'duplicate' }) },
      { status: 200, body: expect.objectContaining({ outcome: 'duplicate' }) },
    ]);
    expect(summary).toMatchObject({ listed: 3, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
  });

  it("is never recorded or counted when it is another product's refund.created or charge.refunded", async () => {
    const store = testStore();
    const paymentIntent = `pi_${uniqueId('other').replace(/-/g, '').slice(0, 24)}`;
    fake.registerPayment(paymentIntent, 2_000);
    // Another product of the account refunds its own payment: no refund key of ours on it, no trip mark on its charge.
    await fake.client().refunds.create({ payment_intent: paymentIntent });
    const theirs = fake.events.filter((event) => event.type === 'refund.created' || event.type === 'charge.refunded');
    const delivered = [];
    for (const event of theirs) delivered.push(await deliver(store, event));
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(theirs.map((event) => event.type)).toEqual(['refund.created', 'charge.refunded']);
    expect(delivered).toEqual([
      { status: 200, body: expect.objectContaining({ outcome: 'no_change' }) },
      { status: 200, body: expect.objectContaining({ ignored: 'charge.refunded' }) },
    ]);
    expect(summary).toMatchObject({ listed: 2, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
    for (const event of theirs) expect(await store.getProcessedEvent(event.id)).toBeUndefined();
    expect(await store.getPaymentRecord(paymentIntent)).toBeUndefined();
  });
});

describe('a refund an event stored that Stripe did not take', () => {
  /** Past the delay a stored refund is left to the call that stored it, from a sweep at minutesLater(10). */
  const pastResumeDelay = () => minutesLater(10 + RESUME_AFTER_MS / 60_000 + 1);

  it('is refunded by the next run when its delivery stored it, Stripe failed it (500), and every redelivery was lost', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    await blockSlotOf(store, trip.slot.slotId);
    const event = await trip.pay();
    fake.failNext(1, 500);
    const delivered = await deliver(store, event);
    const stored = await store.getPaymentRecord(trip.paymentIntent());
    // Stripe's redeliveries of it all fail or never come (the endpoint is down for the rest of the three days).
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(delivered.status).toBe(500);
    expect(stored).toMatchObject({ status: 'refund_pending', refunds: [expect.objectContaining({ status: 'requested' })] });
    // The traveller paid for a trip that could not be booked; the money goes back without a person running a command.
    expect(summary).toMatchObject({ alreadyProcessed: 1, refundsResumed: 1, overdueRefunds: 0 });
    expect(sweep.metric('RefundsResumed')).toBe(1);
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
    expect(await trip.trip()).toMatchObject({ status: 'refunded' });
  });

  it('is refunded by the next run when a run is cut short by its timeout while Stripe is slow on the refund it stored', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await lostPaymentOfBlockedSlot(store);
    let asked!: () => void;
    const refundAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    // Stripe does not answer: Lambda stops the run at its timeout, and nothing after the refund's request runs.
    const slow = gatewayWithRefund(fake, () => {
      asked();
      return new Promise(() => undefined);
    });

    void reconciler(store, { cursor, gateway: slow }).run();
    await refundAsked;
    // Stripe's clock moves to the next run's: the refund it resumes, and that refund's events, are made while it runs.
    fake.advance(pastResumeDelay().now().getTime() - Date.now());
    const next = reconciler(store, { cursor, clock: pastResumeDelay() });
    const summary = await next.run();

    // The events of the refund it resumed are too young for it to list (its cursor stops short of the settle delay).
    expect(summary).toMatchObject({ alreadyProcessed: 1, processed: 0, refundsResumed: 1, missedDeliveries: 0 });
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });

  it('is refunded once when two runs of the schedule process its lost event at once and Stripe fails both', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await lostPaymentOfBlockedSlot(store);
    // However the two runs interleave (one may ask again what the other stored), Stripe fails every ask until it is back.
    fake.failNext(1_000, 500);

    // Lambda may hand the same scheduled invocation over twice.
    const both = await Promise.all([reconciler(store, { cursor }).run(), reconciler(store, { cursor }).run()]);
    const stored = await store.getPaymentRecord(trip.paymentIntent());
    fake.failNext(0);
    const later = await reconciler(store, { cursor, clock: pastResumeDelay() }).run();

    // One run stored the refund (and says the delivery was missed); neither fails its invocation, nor holds the cursor.
    expect(both.map((summary) => summary.missedDeliveries).sort()).toEqual([0, 1]);
    expect(stored).toMatchObject({ status: 'refund_pending', refunds: [expect.objectContaining({ status: 'requested' })] });
    expect(later).toMatchObject({ refundsResumed: 1 });
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await trip.trip()).toMatchObject({ status: 'refunded' });
  });

  it('does not hold back a later lost delivery while Stripe keeps failing it, and is overdue after an hour', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const { failing, lost } = await twoLostPayments(store);
    const oneDown = failingFor(failing.paymentIntent);

    const first = reconciler(store, { cursor, gateway: oneDown });
    const firstSummary = await first.run();
    const hourLater = reconciler(store, { cursor, gateway: oneDown, clock: minutesLater(10 + OVERDUE_AFTER_MS / 60_000 + 1) });
    const hourLaterSummary = await hourLater.run();

    expect(firstSummary).toMatchObject({ processed: 1, deferred: 1, missedDeliveries: 2 });
    // Another traveller's payment, lost as well, is booked in the same run.
    expect((await lost.trip())?.status).toBe('booked');
    expect(hourLaterSummary).toMatchObject({ refundsResumed: 0, overdueRefunds: 1 });
    expect(hourLater.metric('OverdueRefunds')).toBe(1);
    expect(await store.getPaymentRecord(failing.paymentIntent())).toMatchObject({ refunds: [expect.objectContaining({ status: 'requested' })] });
    expect(fake.totalRefunded(failing.paymentIntent())).toBe(0);
  });
});

describe('a refund stored before the sweep met its event, that Stripe keeps failing', () => {
  it("holds no later lost payment back when the traveller's return stored it (the event itself has no record)", async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const { failing, lost } = await twoLostPayments(store);
    // The first traveller is back: the return finds the trip unbookable, stores the full refund, and Stripe answers 500.
    fake.failNext(1, 500);
    const shown = await travellerReturns(store, failing);
    const gateway = failingFor(failing.paymentIntent);

    const first = await reconciler(store, { cursor, gateway }).run();
    const hourLater = await reconciler(store, { cursor, gateway, clock: minutesLater(75) }).run();

    expect(shown).toMatchObject({ status: 'refund_pending' });
    expect(first).toMatchObject({ processed: 1, deferred: 1 });
    expect((await lost.trip())?.status).toBe('booked');
    expect(hourLater).toMatchObject({ overdueRefunds: 1 });
    expect(await store.getPaymentRecord(failing.paymentIntent())).toMatchObject({ refunds: [expect.objectContaining({ status: 'requested' })] });
  });

  it('holds no later lost payment back when the return stored it and its trip keeps another payment’s partial refund (Stripe down for it)', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const failing = await checkedOut(store);
    const lost = await checkedOut(store);
    // Another payment of the trip (a second session), refunded in part before any record of it: the trip keeps it, so the
    // processing of the trip's own completion asks Stripe what is back of its payment before it reads the payment's record.
    const partial = chargeRefunded(paymentIntentId(), failing.amount, { refunded: 1_000, tripId: failing.tripId, table: store.tableName });
    expect((await deliver(store, partial)).body).toMatchObject({ outcome: 'partial_refund_recorded' });
    // The trip's session charged in another currency than its price: set aside and refunded, the trip still waiting.
    const sessionId = (await failing.trip())?.checkoutSessionId as string;
    (fake.session(sessionId) as unknown as { currency: string }).currency = 'usd';
    fake.dropNextDeliveries(2);
    await failing.pay();
    fake.advance(2_000);
    await lost.pay();
    // The traveller is back: the return sets the payment aside and stores its refund, which Stripe fails.
    fake.failNext(1, 500);
    await travellerReturns(store, failing);
    expect(await store.getPaymentRecord(failing.paymentIntent())).toMatchObject({
      setAside: true,
      refunds: [expect.objectContaining({ status: 'requested' })],
    });
    const real = new StripePaymentGateway(async () => fake.client());
    const down = (paymentId: string) => paymentId === failing.paymentIntent();
    const fail = () => Promise.reject(new PaymentGatewayUnavailableError('Stripe answered 500'));
    const gateway: PaymentGateway = {
      refundable: (paymentId) => real.refundable(paymentId),
      holdsPayment: (paymentId) => (down(paymentId) ? fail() : real.holdsPayment(paymentId)),
      findRefund: (paymentId, key) => (down(paymentId) ? fail() : real.findRefund(paymentId, key)),
      refundedSoFar: (paymentId) => (down(paymentId) ? fail() : real.refundedSoFar(paymentId)),
      refund: (request) => (down(request.paymentId) ? fail() : real.refund(request)),
    };

    const first = await reconciler(store, { cursor, gateway }).run();

    expect(first).toMatchObject({ deferred: 1 });
    expect((await lost.trip())?.status).toBe('booked');
    expect(await store.getPaymentRecord(failing.paymentIntent())).toMatchObject({ refunds: [expect.objectContaining({ status: 'requested' })] });
    expect(fake.totalRefunded(failing.paymentIntent())).toBe(0);
  });

  it('books a lost payment in every run while Stripe times out on the refunds due (25 s each)', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const timingOut = await refundsStripeTimesOutOn(store, 9);
    const lost = await checkedOut(store);
    fake.dropNextDeliveries(1);
    fake.advance(2_000);
    await lost.pay();

    const summary = await reconciler(store, { cursor, gateway: timingOut.gateway }).run(undefined, timingOut.newRun());

    // Half the run's time for the refunds (some begun, the others next time), the rest for the events.
    expect(summary.processed).toBe(1);
    expect((await lost.trip())?.status).toBe('booked');
    expect(timingOut.elapsed()).toBeLessThanOrEqual(5 * 25_000);
  });

  it('asks for the refunds due in turn while Stripe times out on most: one it would take is made in the second run', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const timingOut = await refundsStripeTimesOutOn(store, 9);
    // Then a tenth payment whose refund Stripe would take.
    const last = await refundStoredStripeFailedOnce(store);
    const runAt = (minutes: number) =>
      reconciler(store, { cursor, gateway: timingOut.gateway, clock: minutesLater(minutes) }).run(undefined, timingOut.newRun());

    const first = await runAt(10);
    const second = await runAt(25);

    // Each run's share of time begins five of them; oldest first, every run would begin the same five stuck ones.
    expect(first).toMatchObject({ refundsResumed: 0 });
    expect(second).toMatchObject({ refundsResumed: 1 });
    expect(fake.refundsOf(last.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(last.paymentIntent())).toBe(last.amount);
    expect(await store.getPaymentRecord(last.paymentIntent())).toMatchObject({ status: 'refunded' });
    for (const paymentId of timingOut.stuck) expect(fake.refundsOf(paymentId)).toEqual([]);
  });

  it("processes once more, as the version before did, an event that version's cursor held for retry", async () => {
    const cursor = uniqueId('cursor');
    const { store, trip } = await leftByTheVersionBefore(cursor);

    const first = await reconciler(store, { cursor, clock: minutesLater(20) }).run();
    const second = await reconciler(store, { cursor, clock: minutesLater(35) }).run();

    expect(first).toMatchObject({ processed: 1, refundsResumed: 0 });
    expect(await store.getEventCursor(cursor)).not.toHaveProperty('retryEventIds');
    expect(second).toMatchObject({ processed: 0 });
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });

  it("carries a live deployment's one cursor of the versions before over to its live cursor: where it was, and the event it held for retry", async () => {
    const cursor = uniqueId('cursor');
    const { store, trip, event } = await leftByTheVersionBefore(cursor, 'live');

    const first = await reconciler(store, { cursor, mode: 'live', events: eventsIn('live'), clock: minutesLater(20) }).run();

    expect(first).toMatchObject({ processed: 1 });
    expect(await store.getEventCursor(cursorOf(cursor, 'live'))).toMatchObject({ mode: 'live' });
    expect((await store.getEventCursor(cursorOf(cursor, 'live')))?.resumeAt).toBeGreaterThanOrEqual(event.created);
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });

  it.each([
    { name: 'its one cursor saying no mode, as the versions that held retries wrote it', cursorSaysMode: false, testSweepFirst: false },
    { name: 'a sweep with a key of the other mode (test) before its first live one', cursorSaysMode: true, testSweepFirst: true },
  ])("refunds a live deployment's retry held on its one cursor: $name", async ({ cursorSaysMode, testSweepFirst }) => {
    const cursor = uniqueId('cursor');
    const { store, trip } = await leftByTheVersionBefore(cursor, 'live', { cursorSaysMode });
    if (testSweepFirst) await reconciler(store, { cursor, mode: 'test', events: eventsIn('live'), clock: minutesLater(10) }).run();

    await reconciler(store, { cursor, mode: 'live', events: eventsIn('live'), clock: minutesLater(20) }).run();

    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });
});

describe('a lost completion whose processing Stripe fails before anything is written', () => {
  const DASHBOARD_REFUND = 1_000;

  /**
   * Paid, the completion's delivery lost; then refunded in part in the Dashboard, whose events are delivered: with no
   * record of the payment yet, the trip keeps the refund, and the completion's processing asks Stripe what is back
   * before its first write.
   */
  async function lostCompletionRefundedInPart(store: DynamoDbBookingStore, options: { blocked?: boolean } = {}) {
    const trip = await checkedOut(store);
    if (options.blocked) await blockSlotOf(store, trip.slot.slotId);
    fake.dropNextDeliveries(1);
    const completion = await trip.pay();
    const paymentId = trip.paymentIntent();
    await fake.client().refunds.create({ payment_intent: paymentId, amount: DASHBOARD_REFUND });
    for (const event of fake.events.filter((listed) => listed.created >= completion.created && listed.id !== completion.id)) await deliver(store, event);
    expect((await trip.trip())?.chargeRefundedEarly).toMatchObject([{ paymentId, amount: DASHBOARD_REFUND }]);
    return { ...trip, completion, paymentId };
  }

  it('stops the run at it while Stripe cannot say what is back, and the next run books it, counted missed once', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await lostCompletionRefundedInPart(store);
    fake.failNextRefundLists(1, 500);

    const first = await reconciler(store, { cursor, clock: minutesLater(20) })
      .run()
      .catch((error: unknown) => error);
    const whileDown = await store.getPaymentRecord(trip.paymentId);
    const next = reconciler(store, { cursor, clock: minutesLater(35) });
    const nextSummary = await next.run();
    const after = await reconciler(store, { cursor, clock: minutesLater(50) }).run();

    expect(first).toBeInstanceOf(ReconciliationStoppedError);
    expect(whileDown).toBeUndefined();
    expect(nextSummary).toMatchObject({ deferred: 0, missedDeliveries: 1 });
    expect(next.metric('MissedDeliveries')).toBe(1);
    expect(after).toMatchObject({ listed: 0 });
    expect((await trip.trip())?.status).toBe('booked');
    expect(await store.getPaymentRecord(trip.paymentId)).toMatchObject({ status: 'booked', chargeRefunded: DASHBOARD_REFUND });
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND]);
  });

  it('of a trip that cannot be booked, the next run refunds what Stripe still holds, once', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await lostCompletionRefundedInPart(store, { blocked: true });
    fake.failNextRefundLists(1, 500);

    const first = await reconciler(store, { cursor, clock: minutesLater(20) })
      .run()
      .catch((error: unknown) => error);
    await reconciler(store, { cursor, clock: minutesLater(35) }).run();
    await reconciler(store, { cursor, clock: minutesLater(50) }).run();

    expect(first).toBeInstanceOf(ReconciliationStoppedError);
    expect(fake.refundsOf(trip.paymentId).map((refund) => refund.amount)).toEqual([DASHBOARD_REFUND, trip.amount - DASHBOARD_REFUND]);
    expect(await store.getPaymentRecord(trip.paymentId)).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
    expect((await trip.trip())?.status).toBe('refunded');
  });

  it('by hand, `ops reconcile` stops at it (RECONCILE_STOPPED, not a refund due) and run again books it', async () => {
    const store = await storeOnOwnTable();
    const trip = await lostCompletionRefundedInPart(store);
    // The command's Stripe client asks three times (two retries of its own).
    fake.failNextRefundLists(3, 500);

    const whileDown = await ops(
      ['reconcile', '--since', new Date(Date.now() - DAY_MS).toISOString().slice(0, 10)],
      undefined,
      { STRIPE_API_KEY: 'sk_test_fake', STRIPE_API_BASE: fake.url },
      store.tableName,
    );
    const again = await ops(
      ['reconcile', '--since', new Date(Date.now() - DAY_MS).toISOString().slice(0, 10)],
      undefined,
      { STRIPE_API_KEY: 'sk_test_fake', STRIPE_API_BASE: fake.url },
      store.tableName,
    );

    expect(whileDown.code).toBe(1);
    expect(whileDown.err).toMatch(new RegExp(`^error: RECONCILE_STOPPED: stopped at ${trip.completion.id} `));
    expect(whileDown.err).not.toContain('REFUNDS_DUE');
    expect(again.code).toBe(0);
    expect((await trip.trip())?.status).toBe('booked');
  });
});

describe('a record of the version before the refunds due (no index keys), with a refund Stripe did not take', () => {
  it('keeps the retry, stopped at, when its reprocessing meets DynamoDB failing (not Stripe): the next run refunds', async () => {
    const cursor = uniqueId('cursor');
    const { store, trip, event } = await leftByTheVersionBefore(cursor);
    // Reading the payment record fails once, past the client's retries, in the first upgraded run.
    let failures = 1;
    const blipping = Object.create(store) as DynamoDbBookingStore;
    blipping.getPaymentRecord = async (paymentId) => {
      if (paymentId === trip.paymentIntent() && failures-- > 0) throw new StoreUnavailableError('GetItem payment record: throttled', { maybeCommitted: false });
      return store.getPaymentRecord(paymentId);
    };

    const first = await reconciler(blipping, { cursor, clock: minutesLater(20) })
      .run()
      .catch((error: unknown) => error);
    const cursorAfter = await store.getEventCursor(cursor);
    const next = await reconciler(store, { cursor, clock: minutesLater(35) }).run();

    expect(first).toBeInstanceOf(ReconciliationStoppedError);
    expect(cursorAfter).toMatchObject({ retryEventIds: [event.id] });
    expect(next).toMatchObject({ processed: 1 });
    expect(await store.getEventCursor(cursor)).not.toHaveProperty('retryEventIds');
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });

  it('is listed among the refunds due once read, so a refund Stripe fails again when its event is retried is still made later', async () => {
    const cursor = uniqueId('cursor');
    const { store, trip } = await leftByTheVersionBefore(cursor);
    const failing = stripeFailsRefunds();
    const listed = async () => (await store.listRefundsDue(10_000)).some((entry) => entry.paymentId === trip.paymentIntent());
    const listedBefore = await listed();

    // The upgraded sweep retries the event once; Stripe fails it again. Then Stripe is back.
    const retried = await reconciler(store, { cursor, gateway: failing, clock: minutesLater(20) }).run();
    const listedAfter = await listed();
    const later = await reconciler(store, { cursor, clock: minutesLater(35) }).run();

    expect(listedBefore).toBe(false);
    expect(retried).toMatchObject({ deferred: 1 });
    expect(await store.getEventCursor(cursor)).not.toHaveProperty('retryEventIds');
    expect(listedAfter).toBe(true);
    expect(later).toMatchObject({ refundsResumed: 1 });
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded' });
  });
});

describe('poison events do not hold the cursor', () => {
  it('moves past a refund Stripe refuses for good: the payment needs a person, the run succeeds, and the next skips it', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const trip = await lostPaymentOfBlockedSlot(store);
    fake.refuseNext('charge_disputed', { message: 'This charge is disputed.' });
    const sweep = reconciler(store, { cursor });

    const first = await sweep.run();
    const second = await sweep.run();

    expect(first).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(sweep.metric('PaymentsNeedingAttention')).toBe(1);
    expect(second).toMatchObject({ alreadyProcessed: 1, processed: 0 });
    expect(await store.listRefundsDue(10_000)).not.toContainEqual(expect.objectContaining({ paymentId: trip.paymentIntent() }));
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
  /** The command against a table of the test's own, with this Stripe key (at the fake). */
  async function reconcileByHand(tableName: string, apiKey: string) {
    const out: string[] = [];
    const err: string[] = [];
    const since = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10);
    const code = await runOps(['reconcile', '--since', since, '--endpoint', inject('dynamoEndpoint'), '--table', tableName], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: { STRIPE_API_KEY: apiKey, STRIPE_API_BASE: fake.url },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('refuses a test key against the table of a live deployment: its test-mode events are left alone', async () => {
    const store = await storeOnOwnTable();
    const trip = await checkedOutTrip(store, fake);
    fake.dropNextDeliveries(1);
    await trip.pay();
    // The live deployment's own sweep keeps its cursor in this table, and leaves a test-mode event alone.
    const live = await reconciler(store, { cursor: STRIPE_CURSOR, mode: 'live' }).run();

    const listedBefore = fake.calls.filter((call) => call.path === '/v1/events').length;

    const byHand = await reconcileByHand(store.tableName, 'sk_test_from_a_laptop');

    expect(live).toMatchObject({ processed: 1, missedDeliveries: 0 });
    expect(byHand.code).toBe(2);
    expect(byHand.err.split('\n')).toEqual([
      expect.stringMatching(
        /^error: MODE_MISMATCH: STRIPE_API_KEY is a test key and table \S+ belongs to a live deployment .*nothing was read from Stripe or written$/,
      ),
    ]);
    expect(fake.calls.filter((call) => call.path === '/v1/events')).toHaveLength(listedBefore);
    expect((await trip.trip())?.status).toBe('pending_payment');
    expect(await store.getPaymentRecord(trip.paymentIntent())).toBeUndefined();
  });

  it.each([
    { table: 'a test deployment', mode: 'test' as const },
    { table: 'a table no deployment sweeps (npm start, or a mistyped --table)', mode: undefined },
  ])('refuses a live key against $table: no live payment is set aside or refunded there', async ({ mode }) => {
    const staging = await storeOnOwnTable();
    if (mode) await reconciler(staging, { cursor: STRIPE_CURSOR, mode }).run();
    // A live traveller's payment, booked in the live deployment's table, listed by the live key's account.
    const liveTable = testStore();
    const liveTrip = await checkedOutTrip(liveTable, fake);
    const made = await liveTrip.pay();
    const paid = { ...made, livemode: true, data: { object: { ...made.data.object, livemode: true } } };
    fake.events.splice(fake.events.indexOf(made), 1, paid as unknown as FakeEvent);
    const booked = await deliver(liveTable, paid, 'live');

    const byHand = await reconcileByHand(staging.tableName, 'sk_live_on_the_wrong_table');

    expect(booked).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect(byHand.code).toBe(2);
    expect(byHand.err).toMatch(/^error: MODE_MISMATCH: STRIPE_API_KEY is a live key and table \S+ /);
    expect(fake.refundsOf(liveTrip.paymentIntent())).toEqual([]);
    expect(await staging.getPaymentRecord(liveTrip.paymentIntent())).toBeUndefined();
    expect((await liveTrip.trip())?.status).toBe('booked');
  });

  it('runs with a live key against the table of a live deployment', async () => {
    const store = await storeOnOwnTable();
    await reconciler(store, { cursor: STRIPE_CURSOR, mode: 'live' }).run();

    const byHand = await reconcileByHand(store.tableName, 'sk_live_on_its_own_table');

    expect(byHand).toMatchObject({ code: 0, err: '' });
    expect(byHand.out).toMatch(/ events created from /);
  });

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
