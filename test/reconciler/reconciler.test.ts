// The reconciliation sweep through its real handler, over DynamoDB Local and the Stripe fake's list of events: an event whose
// delivery was lost is booked once, a delivered one is left alone, a sweep racing a live delivery never acts twice, and the
// cursor survives a restart without ever passing an event that failed.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomIds } from '../../lambdas/shared/domain/collaborators';
import { StoreUnavailableError } from '../../lambdas/shared/domain/errors';
import type { Slot } from '../../lambdas/shared/domain/model';
import { PROCESSED_EVENT_RETENTION_DAYS } from '../../lambdas/shared/domain/payment-events';
import { EVENT_LIST_RETENTION_SECONDS, SETTLE_SECONDS } from '../../lambdas/shared/domain/reconcile-events';
import { shareRefundKey } from '../../lambdas/shared/domain/payment-ledger';
import { RESUME_AFTER_MS } from '../../lambdas/shared/domain/resume-refunds';
import { StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { createStripeReconciler, ReconciliationStoppedError } from '../../lambdas/stripe-reconciler/reconciler';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { holdFirstCommit } from '../support/held-store';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { overwriteSlot, readSlot, storeOnOwnTable, testStore, uniqueId } from '../support/store';
import { minutesLater, type ReconcilerOptions, scopedToAccount, testReconciler } from '../support/reconciler';
import { webhookHarness } from '../support/webhook';
import { serveWebhookFor } from '../support/webhook-server';

let fake: StripeFake;
beforeEach(async () => {
  // A fake of its own per test: a first sweep lists every event the fake holds.
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** A reconciler as the Lambda builds it, at this test's fake. */
const reconciler = (store: DynamoDbBookingStore, options: ReconcilerOptions = {}) => testReconciler(fake, store, options);

/** A trip checked out on a slot of its own, at this test's fake. */
const checkedOut = (store: DynamoDbBookingStore) => checkedOutTrip(store, fake);

describe('an event whose delivery was lost', () => {
  it('is found by the sweep and booked once, its held seats taken, and counted as a missed delivery once', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    const sweep = reconciler(store);

    const first = await sweep.run();
    const second = await sweep.run();

    expect(fake.deliveries).toEqual([]);
    expect(first).toMatchObject({ listed: 1, processed: 1, alreadyProcessed: 0, missedDeliveries: 1 });
    expect(second).toMatchObject({ listed: 1, processed: 0, alreadyProcessed: 1, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(1);
    expect(sweep.metric('Confirmations')).toBe(1);
    expect(await trip.trip()).toMatchObject({ status: 'booked', paymentId: trip.paymentIntent() });
    expect(await trip.bookings()).toEqual([expect.objectContaining({ status: 'confirmed', guestCount: 2, amount: trip.amount })]);
    expect(await trip.available()).toBe(2);
    expect(await store.getHold(trip.tripId)).toMatchObject({ status: 'consumed' });
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'booked', amountPaid: trip.amount, amountRefunded: 0 });
    expect(await store.getProcessedEvent(event.id)).toMatchObject({ outcome: 'booked', tripId: trip.tripId });
    expect(fake.refunds).toEqual([]);
  });

  it('is left to its delivery while younger than the settle delay, and swept once it is older', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    await trip.pay();
    const cursor = uniqueId('cursor');

    const early = await reconciler(store, { clock: minutesLater(SETTLE_SECONDS / 60 - 1), cursor }).run();
    const statusMeanwhile = (await trip.trip())?.status;
    const late = reconciler(store, { clock: minutesLater(SETTLE_SECONDS / 60 + 1), cursor });
    const swept = await late.run();

    expect(early).toMatchObject({ listed: 0, processed: 0 });
    expect(statusMeanwhile).toBe('pending_payment');
    expect(swept).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect((await trip.trip())?.status).toBe('booked');
  });
});

describe("an event whose delivery was lost, of a trip booked on the traveller's return", () => {
  it('is recorded by the sweep and counted as a missed delivery once, booking nothing more', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    // The traveller's return ran the same use case under an id of its own: the trip is booked, the event's own id unrecorded.
    const onReturn = await webhookHarness(fake, { store }).send(signedRequest({ ...event, id: `return_${uniqueId('r').replace(/-/g, '')}` }));
    expect(onReturn.body).toMatchObject({ outcome: 'booked' });
    const sweep = reconciler(store);

    const first = await sweep.run();
    const second = await sweep.run();

    expect(first).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(second).toMatchObject({ alreadyProcessed: 1, processed: 0, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(1);
    expect(sweep.metric('Confirmations')).toBe(0);
    // Its record says duplicate, yet nothing was delivered twice: only a delivery counts DuplicateDeliveries.
    expect(sweep.metric('DuplicateDeliveries')).toBe(0);
    expect(await store.getProcessedEvent(event.id)).toMatchObject({ outcome: 'duplicate', tripId: trip.tripId, references: onReturn.body.references });
    expect(await trip.bookings()).toHaveLength(1);
    expect(fake.refunds).toEqual([]);
  });
});

describe("another product's event", () => {
  it('is left alone: no record written, nothing counted as missed', async () => {
    const store = testStore();
    fake.dropNextDeliveries(1);
    const session = await fake.client().checkout.sessions.create({
      mode: 'payment',
      line_items: [{ quantity: 1, price_data: { currency: 'eur', unit_amount: 1_000, product_data: { name: 'Not ours' } } }],
      success_url: 'https://elsewhere.test/done',
    });
    await fetch(`${fake.url}/c/pay/${session.id}/pay`, { method: 'POST', redirect: 'manual' });
    const event = fake.events.at(-1);
    expect(event?.data.object.id).toBe(session.id);
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(summary).toMatchObject({ processed: 1, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
    expect(await store.getProcessedEvent(event!.id)).toBeUndefined();
  });

  it('is left alone when it is a refund whose metadata happens to use our key name, refund_key, for a key not of ours', async () => {
    const store = testStore();
    const paymentIntent = `pi_other${Date.now()}`;
    fake.registerPayment(paymentIntent, 2_000);
    fake.dropNextDeliveries(2);
    await fake.client().refunds.create({ payment_intent: paymentIntent, metadata: { refund_key: 'their-own-key-1' } });
    const theirs = fake.events.filter((candidate) => candidate.type === 'refund.created' || candidate.type === 'charge.refunded');
    expect(theirs).toHaveLength(2);
    const sweep = reconciler(store);

    const summary = await sweep.run();

    expect(summary).toMatchObject({ missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
    for (const event of theirs) expect(await store.getProcessedEvent(event.id)).toBeUndefined();
    expect(await store.getPaymentRecord(paymentIntent)).toBeUndefined();
  });
});

describe("another deployment's events, on the same Stripe account", () => {
  it("are left alone by a first sweep on a table of its own: the other stack's paid trip is neither refunded nor released", async () => {
    // Deployment A books a trip through its webhook: its session is marked with A's table.
    const a = testStore();
    const trip = await checkedOut(a);
    const paid = await trip.pay();
    expect(await webhookHarness(fake, { store: a }).send(signedRequest(paid))).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    // Deployment B (a second stack, a developer's, a second region) sweeps the same account from its own table.
    const b = await storeOnOwnTable();
    const calls = fake.calls.length;

    const summary = await reconciler(b).run();

    expect(summary).toMatchObject({ listed: 1, processed: 1, missedDeliveries: 0 });
    expect(await b.getProcessedEvent(paid.id)).toBeUndefined();
    expect(await b.getPaymentRecord(trip.paymentIntent())).toBeUndefined();
    expect(fake.calls.slice(calls).filter((call) => call.method === 'POST')).toEqual([]);
    expect(fake.refundsOf(trip.paymentIntent())).toEqual([]);
    expect((await trip.trip())?.status).toBe('booked');
  });

  it("leave alone the other stack's refunds, which carry a refund key of ours but name a payment this table holds no record of", async () => {
    const a = testStore();
    const trip = await checkedOut(a);
    expect(await webhookHarness(fake, { store: a }).send(signedRequest(await trip.pay()))).toMatchObject({ body: { outcome: 'booked' } });
    // A refunds a share while its endpoint is down: Stripe lists the refund's events as not delivered.
    fake.dropNextDeliveries(2);
    const paymentIntent = trip.paymentIntent();
    await fake
      .client()
      .refunds.create({ payment_intent: paymentIntent, amount: 1_000, metadata: { refund_key: shareRefundKey(paymentIntent, 'PL-AAAAAAAA') } });
    const refundEvents = fake.events.filter((event) => event.type === 'refund.created' || event.type === 'charge.refunded');
    expect(refundEvents).toHaveLength(2);
    const b = await storeOnOwnTable();
    const sweep = reconciler(b);

    const summary = await sweep.run();

    expect(summary).toMatchObject({ missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
    for (const event of refundEvents) expect(await b.getProcessedEvent(event.id)).toBeUndefined();
    expect(await b.getPaymentRecord(paymentIntent)).toBeUndefined();
  });
});

describe('an event the webhook processed', () => {
  it('is skipped: nothing booked twice, no seat taken twice, no missed delivery counted', async () => {
    const store = testStore();
    const stopWebhook = await serveWebhookFor(fake, store);
    try {
      const trip = await checkedOut(store);
      await trip.pay();
      const delivered = { status: (await trip.trip())?.status, bookings: await trip.bookings() };
      const sweep = reconciler(store);

      const summary = await sweep.run();

      expect(fake.deliveries).toEqual([expect.objectContaining({ status: 200 })]);
      expect(delivered.status).toBe('booked');
      expect(summary).toMatchObject({ listed: 1, alreadyProcessed: 1, processed: 0, missedDeliveries: 0 });
      expect(sweep.metric('MissedDeliveries')).toBe(0);
      expect(sweep.metric('Confirmations')).toBe(0);
      expect(await trip.bookings()).toEqual(delivered.bookings);
      expect(await trip.available()).toBe(2);
    } finally {
      await stopWebhook();
    }
  });

  it('is not counted while lost ones among it are, one each', async () => {
    const store = testStore();
    const stopWebhook = await serveWebhookFor(fake, store);
    try {
      const trips = [await checkedOut(store), await checkedOut(store), await checkedOut(store)];
      await trips[0]?.pay();
      fake.dropNextDeliveries(2);
      await trips[1]?.pay();
      await trips[2]?.pay();
      const sweep = reconciler(store);

      const summary = await sweep.run();

      expect(summary).toMatchObject({ listed: 3, alreadyProcessed: 1, processed: 2, missedDeliveries: 2 });
      expect(sweep.metric('MissedDeliveries')).toBe(2);
      for (const trip of trips) expect(await trip.bookings()).toHaveLength(1);
    } finally {
      await stopWebhook();
    }
  });
});

describe('a sweep racing a live delivery of the same event', () => {
  it('acts once when the delivery commits while the sweep is held at its commit: the sweep answers duplicate and counts nothing', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    const held = holdFirstCommit(store);
    const sweep = reconciler(held.store);

    const sweeping = sweep.run();
    await held.reached;
    const delivered = await webhookHarness(fake, { store }).send(signedRequest(event));
    held.release();
    const summary = await sweeping;

    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'booked' } });
    expect(summary).toMatchObject({ processed: 1, missedDeliveries: 0 });
    expect(sweep.metric('MissedDeliveries')).toBe(0);
    expect(sweep.metric('Confirmations')).toBe(0);
    expect(await trip.bookings()).toHaveLength(1);
    expect(await trip.available()).toBe(2);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'booked', version: 1 });
  });

  it('acts once when the sweep commits while the delivery is held at its commit: the delivery answers duplicate, the sweep counts it', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    const event = await trip.pay();
    const held = holdFirstCommit(store);
    const sweep = reconciler(store);

    const delivering = webhookHarness(fake, { store: held.store }).send(signedRequest(event));
    await held.reached;
    const summary = await sweep.run();
    held.release();
    const delivered = await delivering;

    expect(summary).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect(delivered).toMatchObject({ status: 200, body: { outcome: 'duplicate', references: (await trip.trip())?.bookingReferences } });
    expect(await trip.bookings()).toHaveLength(1);
    expect(await trip.available()).toBe(2);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'booked', version: 1 });
  });
});

describe('the refunds due, unreadable', () => {
  it('leave the events swept: a lost payment is booked, and the run counts RetryLater', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    await trip.pay();
    const failing = Object.create(store) as DynamoDbBookingStore;
    failing.listRefundsDue = () => Promise.reject(new StoreUnavailableError('Query refunds due: throttled', { maybeCommitted: false }));
    const sweep = reconciler(failing);

    const summary = await sweep.run();

    expect(summary).toMatchObject({ processed: 1, refundsResumed: 0 });
    expect(sweep.metric('RetryLater')).toBe(1);
    expect((await trip.trip())?.status).toBe('booked');
  });
});

describe('the cursor', () => {
  it("keeps a place for each of Stripe's modes: a while with a key of the other mode does not carry the sweep past the payments of its own", async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    await reconciler(store, { cursor, clock: minutesLater(0) }).run();
    const trip = await checkedOut(store);
    // Delivered while the secret held a key of the other mode: acknowledged and ignored (mode_mismatch), never recorded.
    fake.dropNextDeliveries(1);
    await trip.pay();
    // Meanwhile the sweep, with that key, lists the other mode's events (none of these) and goes on in them.
    await reconciler(store, { cursor, mode: 'live', events: { listEvents: async () => [] }, clock: minutesLater(30) }).run();

    // The right key is back: the sweep of the deployment's own mode goes on from where it was, and finds the payment.
    const summary = await reconciler(store, { cursor, clock: minutesLater(60) }).run();

    expect(summary).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect((await trip.trip())?.status).toBe('booked');
    expect(await store.getEventCursor(cursor)).toMatchObject({ mode: 'test' });
    expect(await store.getEventCursor(`${cursor}-live`)).toMatchObject({ mode: 'live' });
  });

  it('survives a restart, goes on past an event whose refund Stripe could not take, and a later run refunds it once', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const booked = await checkedOut(store);
    const unbookable = await checkedOut(store);
    const later = await checkedOut(store);
    fake.dropNextDeliveries(3);
    await booked.pay();
    // The second payment comes a few seconds later, for a slot an operator has blocked meanwhile: it is refunded.
    fake.advance(3_000);
    const slot = (await readSlot(store, unbookable.slot.slotId)) as Slot;
    await overwriteSlot({ ...slot, isBlocked: true });
    await unbookable.pay();
    fake.advance(3_000);
    await later.pay();
    fake.failNext(1, 500);
    const first = reconciler(store, { cursor });

    const summary = await first.run();
    const stored = await store.getPaymentRecord(unbookable.paymentIntent());
    // Past the delay a refund is left to the call that stored it. Stripe's clock moves to the restarted run's: the refund it
    // resumes, and that refund's events, are made while it runs.
    const resumeAt = minutesLater(10 + RESUME_AFTER_MS / 60_000 + 1);
    fake.advance(resumeAt.now().getTime() - Date.now());
    const restarted = reconciler(store, { cursor, clock: resumeAt });
    const resumed = await restarted.run();

    // The stored refund holds nothing back: the payment after it is booked in the same run.
    expect(summary).toMatchObject({ processed: 2, deferred: 1, missedDeliveries: 3, refundsResumed: 0 });
    expect(await later.trip()).toMatchObject({ status: 'booked' });
    expect(stored).toMatchObject({ status: 'refund_pending', refunds: [expect.objectContaining({ status: 'requested' })] });
    expect(first.metric('MissedDeliveries')).toBe(3);
    // The events of the refund it resumed are too young for it to list (its cursor stops short of the settle delay).
    expect(resumed).toMatchObject({ processed: 0, refundsResumed: 1, overdueRefunds: 0, missedDeliveries: 0 });
    expect(restarted.metric('MissedDeliveries')).toBe(0);
    expect(restarted.metric('RefundsResumed')).toBe(1);
    expect(await booked.trip()).toMatchObject({ status: 'booked' });
    expect(fake.refundsOf(unbookable.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(unbookable.paymentIntent())).toBe(unbookable.amount);
    expect(await store.getPaymentRecord(unbookable.paymentIntent())).toMatchObject({ status: 'refunded', amountRefunded: unbookable.amount });
    expect(await unbookable.trip()).toMatchObject({ status: 'refunded' });
    expect(await unbookable.bookings()).toEqual([]);
  });

  it('stays where it was while Stripe cannot list events, and the next run lists the same span', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    await reconciler(store, { cursor, clock: minutesLater(0) }).run();
    const before = await store.getEventCursor(cursor);
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    await trip.pay();
    const down = await startStripeFake();
    await down.close();
    const unreachable = createStripeReconciler({
      store: scopedToAccount(down, store),
      table: store.tableName,
      events: new StripeEventSource(async () => down.client()),
      gateway: new StripePaymentGateway(async () => down.client()),
      clock: minutesLater(20),
      ids: randomIds,
      mode: async () => 'test',
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
      cursor,
    });

    await expect(unreachable()).rejects.toThrow(ReconciliationStoppedError);
    const unchanged = await store.getEventCursor(cursor);
    const later = await reconciler(store, { cursor, clock: minutesLater(20) }).run();

    expect(unchanged).toEqual(before);
    expect(later).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect((await trip.trip())?.status).toBe('booked');
  });

  it('only moves forward: a sweep that ends behind the stored cursor leaves it where it is', async () => {
    const store = testStore();
    const source = uniqueId('cursor');
    const at = new Date().toISOString();

    const first = await store.moveEventCursor({ source, resumeAt: 2_000, updatedAt: at });
    const behind = await store.moveEventCursor({ source, resumeAt: 1_999, updatedAt: at });
    const same = await store.moveEventCursor({ source, resumeAt: 2_000, mode: 'live', updatedAt: at });

    expect([first, behind, same]).toEqual([true, false, true]);
    expect(await store.getEventCursor(source)).toEqual({ source, resumeAt: 2_000, mode: 'live', updatedAt: at });
  });

  it('starts, the first time, as far back as Stripe keeps events, within the 35 days processed events are remembered', async () => {
    const store = testStore();
    const trip = await checkedOut(store);
    fake.dropNextDeliveries(1);
    await trip.pay();

    const summary = await reconciler(store, { clock: minutesLater(29 * 24 * 60) }).run();

    expect(EVENT_LIST_RETENTION_SECONDS).toBeLessThan(PROCESSED_EVENT_RETENTION_DAYS * 86_400);
    expect(Date.parse(summary.to) - Date.parse(summary.from)).toBe((EVENT_LIST_RETENTION_SECONDS - SETTLE_SECONDS) * 1000);
    expect(summary).toMatchObject({ processed: 1, missedDeliveries: 1 });
    expect((await trip.trip())?.status).toBe('booked');
  });

  it('counts EventsBeyondReach once when it was left longer than Stripe keeps events (the schedule off for a month): what was created meanwhile can no longer be listed', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    const nowS = Math.floor(Date.now() / 1000);
    await store.moveEventCursor({ source: cursor, resumeAt: nowS - 31 * 86_400, mode: 'test', updatedAt: new Date().toISOString() });
    const first = reconciler(store, { cursor });
    const second = reconciler(store, { cursor });

    const summary = await first.run();
    await second.run();

    expect(summary.eventsBeyondReach).toEqual({ from: new Date((nowS - 31 * 86_400) * 1000).toISOString(), to: expect.any(String) });
    expect(first.metric('EventsBeyondReach')).toBe(1);
    expect(second.metric('EventsBeyondReach')).toBe(0);
  });

  it('counts EventsBeyondReach before it moves the cursor past it, so a run failing after that write still has', async () => {
    const store = testStore();
    const cursor = uniqueId('cursor');
    await store.moveEventCursor({ source: cursor, resumeAt: Math.floor(Date.now() / 1000) - 31 * 86_400, mode: 'test', updatedAt: new Date().toISOString() });
    // DynamoDB writes the cursor and its answer is lost: the run fails after the cursor moved past the gap.
    const answerLost = Object.create(store) as DynamoDbBookingStore;
    answerLost.moveEventCursor = async (next) => {
      await store.moveEventCursor(next);
      throw new StoreUnavailableError('PutItem event cursor: timed out after the write', { maybeCommitted: true });
    };
    const failing = reconciler(answerLost, { cursor });
    const next = reconciler(store, { cursor });

    const failure = await failing.run().then(
      () => undefined,
      (error: unknown) => error,
    );
    const summary = await next.run();

    expect(failure).toBeInstanceOf(Error);
    expect(failing.metric('EventsBeyondReach')).toBe(1);
    expect(summary.eventsBeyondReach).toBeUndefined();
    expect(next.metric('EventsBeyondReach')).toBe(0);
  });
});
