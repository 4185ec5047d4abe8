// A keyed checkout retried too late for its session's expiry, whose hold is held on: against the sweeper reading the old
// expiry, a client retrying through a long Stripe outage, and the session an earlier attempt made, its answer lost.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { keys } from '../../lambdas/shared/dynamodb/item-keys';
import { COUNTED_LOG_LINES, METRIC, SERVICE_NAME } from '../../lambdas/shared/observability-contract';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import { CheckoutRefusedError, type CheckoutSessions } from '../../lambdas/shared/domain/payment-gateway';
import { StripeCheckoutSessions } from '../../lambdas/shared/stripe/stripe-gateway';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { serveWebhookFor } from '../support/webhook-server';
import { randomIds } from '../../lambdas/shared/domain/collaborators';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { HOLD_MINUTES } from '../../lambdas/shared/domain/start-checkout';
import { LOCAL_INDEXES, seedSlot, testDocumentClient, testStore, uniqueId } from '../support/store';
import { coldStart } from '../support/lambda-entry';
import { linesWritten } from '../support/lines-written';
import { ago, answerLost, at, checkout, counts, ownWorld, pay, request, stripeDown } from '../support/own-checkout';

const MINUTE = 60_000;

/**
 * A keyed checkout whose first attempt, 6 minutes ago, Stripe made a session for and whose answer was lost (503); the
 * fake's clock is set back with it, then brought to now. `clock` moves the fake's clock on later.
 */
async function firstAttemptLost() {
  const clock = { offset: -6 * MINUTE };
  const own = await ownWorld({ fakeNow: () => Date.now() + clock.offset });
  const slot = await seedSlot(own.store, { capacity: 2, priceAmount: 4_500 });
  const body = request([[slot, 2]]);
  const key = uniqueId('key');
  const lost = answerLost(own);
  expect((await checkout(own, body, { key, sessions: lost, clock: ago(6 * MINUTE) })).status).toBe(503);
  clock.offset = 0;
  return { own, slot, body, key, lost, clock };
}

describe('a keyed retry renewing the hold at the moment the sweeper releases it at its old expiry', () => {
  it('never answers a payment page whose seats the sweeper gave back, nor refunds the traveller who paid it', async () => {
    const own = await ownWorld();
    const slot = await seedSlot(own.store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');

    // The first attempt, during an outage: the hold and the trip are stored, Stripe is not reached (503).
    const outage = await checkout(own, body, { key, sessions: stripeDown(), clock: ago(6 * 60_000) });
    expect(outage).toMatchObject({ status: 503, body: { error: 'STRIPE_UNAVAILABLE' } });
    const [hold] = await own.store.listActiveHolds();
    const heldUntil = hold?.expiresAt as string;
    const tripId = hold?.tripId as string;

    // The sweeper runs a second after the hold's expiry: it reads the hold in the index, and is about to release it.
    const sweeperPaused = own.faults.hold('TransactWriteItemsCommand');
    const sweep = releaseExpiredHolds({ store: own.store, clock: at(heldUntil, 1_000), ids: randomIds });
    await sweeperPaused.reached;

    // The traveller's retry read the trip two seconds before that expiry: the hold still runs, the session's expiry is
    // too near for Stripe, so the retry renews the hold and opens a page (Stripe is back).
    const retried = await checkout(own, body, { key, clock: at(heldUntil, -2_000) });
    expect(retried).toMatchObject({ status: 200, body: { tripId, checkoutUrl: expect.stringContaining('/c/pay/') } });
    expect(Date.parse(retried.body.expiresAt as string)).toBeGreaterThan(Date.parse(heldUntil));

    // The sweeper goes on with what it read.
    sweeperPaused.release();
    const swept = await sweep;

    // Expected: the renewed hold still holds the seats the page was answered for (the sweeper's read is stale).
    const afterSweep = { swept, hold: await own.store.getHold(tripId), counts: await counts(own, slot) };

    // Meanwhile another traveller buys what is on sale, then the first one pays the page they were answered.
    const other = await checkout(own, request([[slot, 2]]), { key: uniqueId('key') });
    const paymentId = await pay(own, retried.body.checkoutUrl as string);
    const trip = await own.store.getTrip(tripId);

    expect({
      sweptReleased: afterSweep.swept.released,
      holdStatus: afterSweep.hold?.status,
      holdExpiresAt: afterSweep.hold?.expiresAt,
      countsAfterSweep: afterSweep.counts,
      otherCheckout: other.status,
      tripStatus: trip?.status,
      refunds: own.fake.refundsOf(paymentId).length,
    }).toEqual({
      sweptReleased: [],
      holdStatus: 'held',
      holdExpiresAt: retried.body.expiresAt,
      countsAfterSweep: { available: 2, unheld: 0 },
      otherCheckout: 409,
      tripStatus: 'booked',
      refunds: 0,
    });
  });
});

describe('a keyed checkout retried through a long Stripe outage', () => {
  it('holds its seats no longer than the longest hold a checkout may make (Stripe’s 24 hours), however often it is retried', async () => {
    const own = await ownWorld();
    // Stripe refuses our API key (rolled in the Dashboard): every call is answered 401, which checkout answers 503.
    own.fake.refuseApiKey('sk_test_fake', 401);
    const slot = await seedSlot(own.store, { capacity: 1, priceAmount: 4_500 });
    const body = request([[slot, 1]]);
    const key = uniqueId('key');
    const start = new Date().toISOString();

    const first = await checkout(own, body, { key, clock: at(start) });
    expect(first).toMatchObject({ status: 503, body: { error: 'STRIPE_UNAVAILABLE' } });
    const tripId = first.body.tripId ?? (await own.store.listActiveHolds())[0]?.tripId;

    // The client does what the 503 tells it: it retries with the same key, here every 35 minutes, for 30 hours.
    let last = first;
    for (let minute = 35; minute <= 30 * 60; minute += 35) last = await checkout(own, body, { key, clock: at(start, minute * MINUTE) });
    const thirtyHoursLater = at(start, 30 * 60 * MINUTE + MINUTE);

    const hold = await own.store.getHold(tripId as string);
    const swept = await releaseExpiredHolds({ store: own.store, clock: thirtyHoursLater, ids: randomIds });

    expect(last).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING' } });
    expect(Date.parse(hold?.expiresAt as string) - Date.parse(start)).toBeLessThanOrEqual(HOLD_MINUTES.max * MINUTE);
    expect(swept.released).not.toContain(tripId);
    expect((await own.store.getTrip(tripId as string))?.status).toBe('expired');
    expect(await counts(own, slot)).toEqual({ available: 1, unheld: 1 });
  });
});

describe('the session a first attempt made, its answer lost, once a later retry renewed the hold', () => {
  it('its expiry does not end the checkout whose hold was renewed past it, while Stripe still does not answer the retries', async () => {
    const { own, body, key, lost, clock } = await firstAttemptLost();
    // Now: the retry renews the hold for another 30 minutes and more; Stripe does not answer it.
    const renewing = await checkout(own, body, { key, sessions: stripeDown() });
    expect(renewing.status).toBe(503);
    const [hold] = await own.store.listActiveHolds();
    const tripId = hold?.tripId as string;
    const renewedUntil = hold?.expiresAt as string;
    expect((await own.store.listAudit('trip', tripId)).map((entry) => entry.eventType)).toContain('trip.hold_renewed');

    // 30 minutes on, the earlier session reaches its own expires_at (before the renewed hold's): Stripe expires it and
    // sends checkout.session.expired (the fake does when the session is next looked at).
    const earlier = decodeURIComponent((lost.made[0] as string).split('/c/pay/')[1] as string);
    const later = 30 * MINUTE + 1_000;
    clock.offset = later;
    expect((await own.fake.client().checkout.sessions.retrieve(earlier)).status).toBe('expired');
    expect(Date.parse(renewedUntil)).toBeGreaterThan(Date.now() + later);
    const tripAfter = await own.store.getTrip(tripId);
    const holdAfter = await own.store.getHold(tripId);

    // Stripe is back: the client's next retry, within the renewed hold.
    const retried = await checkout(own, body, { key, clock: ago(-later) });

    expect({ trip: tripAfter?.status, holdExpiresAt: tripAfter?.holdExpiresAt, hold: holdAfter?.status, retried: retried.status }).toEqual({
      trip: 'pending_payment',
      holdExpiresAt: renewedUntil,
      hold: 'held',
      retried: 200,
    });
  });
});

describe('a payment of the session a first attempt made, its answer lost, once a later retry renewed the hold', () => {
  it('a payment of it (its URL leaked) is refunded, and the trip stays the renewed page’s, which books', async () => {
    const { own, slot, body, key, lost } = await firstAttemptLost();

    const retried = await checkout(own, body, { key });
    expect(retried.status).toBe(200);
    const [earlier] = lost.made;
    expect(retried.body.checkoutUrl).not.toBe(earlier);

    const leakedPayment = await pay(own, earlier as string);
    const tripAfterLeak = await own.store.getTrip(retried.body.tripId as string);
    const ownPayment = await pay(own, retried.body.checkoutUrl as string);

    expect(own.fake.refundsOf(leakedPayment)).toHaveLength(1);
    expect(tripAfterLeak).toMatchObject({ status: 'pending_payment' });
    expect(await own.store.getTrip(retried.body.tripId as string)).toMatchObject({ status: 'booked', paymentId: ownPayment });
    expect(own.fake.refundsOf(ownPayment)).toEqual([]);
    expect(await counts(own, slot)).toEqual({ available: 0, unheld: 0 });
  });
});

describe('a page recorded by an attempt that asked Stripe before a concurrent retry renewed the hold', () => {
  it('ends the checkout when that recorded page expires, instead of leaving the trip waiting for ever', async () => {
    let offset = 0;
    const own = await ownWorld({ fakeNow: () => Date.now() + offset });
    const slot = await seedSlot(own.store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const T0 = new Date(Date.now() - 4 * MINUTE).toISOString();

    // T0: the first attempt, during a Stripe outage: trip and hold stored (hold T0+40, session expiry T0+35), 503.
    expect((await checkout(own, body, { key, sessions: stripeDown(), clock: at(T0) })).status).toBe(503);

    // T0+3.9 min: retry A. Its session expiry (T0+35) is still 31 minutes away: no renewal, it asks Stripe, which is slow.
    const real = new StripeCheckoutSessions(async () => own.fake.client(), undefined, own.table);
    let reached!: () => void;
    const reachedStripe = new Promise<void>((resolve) => (reached = resolve));
    let answer!: () => void;
    const stripeAnswers = new Promise<void>((resolve) => (answer = resolve));
    const slow: CheckoutSessions = {
      async createSession(req) {
        reached();
        await stripeAnswers;
        return real.createSession(req);
      },
    };
    const attemptA = checkout(own, body, { key, sessions: slow, clock: at(T0, 3.9 * MINUTE) });
    await reachedStripe;

    // T0+4.1 min: the client timed out and retries (B): too late for the session's expiry, so B renews the hold
    // (to T0+44.1) and asks Stripe, which does not answer B (503).
    const b = await checkout(own, body, { key, sessions: stripeDown(), clock: at(T0, 4.1 * MINUTE) });
    expect(b.status).toBe(503);

    // Stripe answers A: A records its session (expiry T0+35) on the trip whose hold now runs to T0+44.1.
    answer();
    const a = await attemptA;
    expect(a.status).toBe(200);
    const tripId = a.body.tripId as string;
    const recorded = await own.store.getTrip(tripId);
    expect(recorded?.checkoutUrl).toBe(a.body.checkoutUrl);
    const sessionA = recorded?.checkoutSessionId as string;

    // The traveller abandons the page. Stripe expires the recorded session at its expires_at and sends
    // checkout.session.expired (the fake does when the session is next looked at).
    offset = 31 * MINUTE + 1_000;
    expect((await own.fake.client().checkout.sessions.retrieve(sessionA)).status).toBe('expired');
    const afterExpiry = await own.store.getTrip(tripId);
    // The webhook was reached and answered.
    const expiredDelivery = own.fake.deliveries.find((delivery) => delivery.type === 'checkout.session.expired');
    expect(expiredDelivery?.status).toBe(200);
    const holdAfterExpiry = await own.store.getHold(tripId);

    // Later the sweeper runs (after the renewed hold's end), and the client retries its key once more.
    const renewedUntil = recorded?.holdExpiresAt as string;
    await releaseExpiredHolds({ store: own.store, clock: at(renewedUntil, MINUTE), ids: randomIds });
    const retried = await checkout(own, body, { key, clock: at(renewedUntil, 2 * MINUTE) });
    const finalTrip = await own.store.getTrip(tripId);

    // What held: the operator's consistency check agrees with the counters throughout.
    expect((await checkConsistency(own.store, LOCAL_INDEXES)).drifted.filter((drift) => drift.slotId === slot.slotId)).toEqual([]);

    expect({
      tripAfterItsPageExpired: afterExpiry?.status,
      holdAfterItsPageExpired: holdAfterExpiry?.status,
      finalTrip: finalTrip?.status,
      retryOfTheKey: retried.status,
      retryAnswersTheDeadPage: retried.body.checkoutUrl === a.body.checkoutUrl,
      seats: await counts(own, slot),
    }).toEqual({
      tripAfterItsPageExpired: 'expired',
      holdAfterItsPageExpired: 'released',
      finalTrip: 'expired',
      retryOfTheKey: 409,
      retryAnswersTheDeadPage: false,
      seats: { available: 2, unheld: 2 },
    });
  });
});

describe('an earlier attempt’s session expiring while a retry renews the hold and opens its page', () => {
  it('does not end the checkout whose page the retry answered, nor refund the traveller who pays it', async () => {
    let offset = -6 * MINUTE;
    const own = await ownWorld({ fakeNow: () => Date.now() + offset });
    // The webhook over a client of its own, so its write can be paused.
    const webhookClient = testDocumentClient();
    const webhookFaults = injectFaults(webhookClient);
    const stopWebhook = await serveWebhookFor(own.fake, testStore(webhookClient, own.table));
    onTestFinished(stopWebhook);

    const slot = await seedSlot(own.store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');

    // T0 = 6 minutes ago: Stripe made the session (expiry T0+35), its answer was lost (503). Hold until T0+40.
    const lost = answerLost(own);
    expect((await checkout(own, body, { key, sessions: lost, clock: ago(6 * MINUTE) })).status).toBe(503);
    const earlier = decodeURIComponent((lost.made[0] as string).split('/c/pay/')[1] as string);

    // T0+35 min (Stripe's clock): the earlier session reaches its expires_at; Stripe sends checkout.session.expired. The
    // webhook reads the trip (waiting, no page, hold T0+40: not superseded) and is about to end it.
    offset = 29 * MINUTE + 2_000;
    const webhookWrite = webhookFaults.hold('TransactWriteItemsCommand');
    const expiring = own.fake.client().checkout.sessions.retrieve(earlier);
    await webhookWrite.reached;

    // Meanwhile the client retries its key (T0+35 min, the hold still runs): the retry holds the hold on for another 40
    // minutes and opens its page (Stripe answers now).
    const retried = await checkout(own, body, { key, clock: ago(-(29 * MINUTE + 2_000)) });
    expect(retried).toMatchObject({ status: 200, body: { checkoutUrl: expect.stringContaining('/c/pay/') } });
    const tripId = retried.body.tripId as string;
    const renewed = await own.store.getTrip(tripId);
    expect(Date.parse(renewed?.holdExpiresAt as string)).toBeGreaterThan(Date.now() + offset + 30 * MINUTE);

    // The webhook goes on with what it read.
    webhookWrite.release();
    await expiring;
    const expiredDelivery = own.fake.deliveries.find((delivery) => delivery.type === 'checkout.session.expired');
    const afterExpiry = { trip: (await own.store.getTrip(tripId))?.status, hold: (await own.store.getHold(tripId))?.status };

    // The traveller pays the page they were answered.
    const paymentId = await pay(own, retried.body.checkoutUrl as string);

    // What held: the operator's consistency check agrees with the counters throughout.
    expect((await checkConsistency(own.store, LOCAL_INDEXES)).drifted.filter((drift) => drift.slotId === slot.slotId)).toEqual([]);

    expect({
      webhookAnswer: expiredDelivery?.body,
      afterExpiry,
      finalTrip: (await own.store.getTrip(tripId))?.status,
      refunds: own.fake.refundsOf(paymentId).length,
      seats: await counts(own, slot),
    }).toEqual({
      webhookAnswer: expect.stringContaining('no_change'),
      afterExpiry: { trip: 'pending_payment', hold: 'held' },
      finalTrip: 'booked',
      refunds: 0,
      seats: { available: 0, unheld: 0 },
    });
  });
});

describe('a session a first attempt made, its answer lost, paid while the renewed trip has no page recorded', () => {
  it('books the trip it pays for (its seats held), and the key’s retry says it was paid instead of inviting a second checkout', async () => {
    const { own, slot, body, key, lost } = await firstAttemptLost();
    // The retry holds the hold on; Stripe does not answer it, so no page is recorded.
    expect((await checkout(own, body, { key, sessions: stripeDown() })).status).toBe(503);

    const payment = await pay(own, lost.made[0] as string);
    const retried = await checkout(own, body, { key });

    expect(own.fake.refundsOf(payment)).toEqual([]);
    expect(retried).toMatchObject({ status: 409, body: { error: 'CHECKOUT_PAID', message: expect.stringContaining('nothing more to pay') } });
    const earlier = own.fake.session(decodeURIComponent((lost.made[0] as string).split('/c/pay/')[1] as string));
    expect(await own.store.getTrip(earlier?.metadata.pulau_trip_id as string)).toMatchObject({ status: 'booked', paymentId: payment });
    expect(await counts(own, slot)).toEqual({ available: 0, unheld: 0 });
  });
});

describe('an attempt Stripe refuses for the expiry it read, while another request under the key held the hold on', () => {
  it('leaves the checkout to that request: it answers a retryable 503, and the retry opens the page, the seats still held', async () => {
    const own = await ownWorld();
    const slot = await seedSlot(own.store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');
    const T0 = new Date(Date.now() - 4 * MINUTE).toISOString();
    expect((await checkout(own, body, { key, sessions: stripeDown(), clock: at(T0) })).status).toBe(503);
    // Attempt A (T0+3.9 min) finds the session's expiry still 31 minutes away and asks Stripe; before Stripe answers, B
    // (T0+4.1 min) holds the hold on (Stripe does not answer B); then Stripe refuses A's expiry, too near by now.
    const staleAttempt: CheckoutSessions = {
      async createSession() {
        expect((await checkout(own, body, { key, sessions: stripeDown(), clock: at(T0, 4.1 * MINUTE) })).status).toBe(503);
        throw new CheckoutRefusedError('parameter_invalid_integer', 'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.');
      },
    };

    const a = await checkout(own, body, { key, sessions: staleAttempt, clock: at(T0, 3.9 * MINUTE) });
    const retried = await checkout(own, body, { key });

    expect(a).toMatchObject({ status: 503, body: { error: 'TRANSACTION_FAILED' } });
    expect(retried).toMatchObject({ status: 200, body: { checkoutUrl: expect.stringContaining('/c/pay/') } });
    expect(await counts(own, slot)).toEqual({ available: 2, unheld: 0 });
  });
});

describe('the sweeper, at the end of a hold no payment page was ever recorded for', () => {
  it('ends the trip, which nobody can pay, and leaves a trip with a page waiting for a late payment', async () => {
    const { own, slot, body, key } = await firstAttemptLost();
    // The retry holds the hold on; Stripe does not answer it either, and the traveller gives up.
    expect((await checkout(own, body, { key, sessions: stripeDown() })).status).toBe(503);
    const withAPage = await checkout(own, request([[await seedSlot(own.store, { capacity: 2 }), 1]]), { key: uniqueId('key') });
    const pageless = (await own.store.listActiveHolds()).find((hold) => hold.seats.some((seat) => seat.slotId === slot.slotId));
    const later = at(pageless?.expiresAt as string, MINUTE);

    const swept = await releaseExpiredHolds({ store: own.store, clock: later, ids: randomIds });

    expect(swept.released).toEqual(expect.arrayContaining([pageless?.tripId, withAPage.body.tripId]));
    expect(await own.store.getTrip(pageless?.tripId as string)).toMatchObject({
      status: 'expired',
      statusReason: 'hold ran out before a payment page was made',
    });
    expect((await own.store.getTrip(withAPage.body.tripId as string))?.status).toBe('pending_payment');
    expect(await counts(own, slot)).toEqual({ available: 2, unheld: 2 });
    expect(await checkout(own, body, { key, clock: later })).toMatchObject({ status: 409, body: { error: 'TRIP_NOT_PENDING' } });
  });
});

describe('the hold sweeper, with one stored trip that no longer reads among the expired holds', () => {
  it('still gives back the seats of every expired hold, run after run', async () => {
    const own = await ownWorld();
    const slot = await seedSlot(own.store, { capacity: 4, priceAmount: 4_500 });

    // A: an ordinary checkout whose page was answered and recorded, abandoned by its traveller.
    const a = await checkout(own, request([[slot, 2]]), { key: uniqueId('key') });
    expect(a.status).toBe(201);
    // B, a moment later: Stripe did not answer it and its traveller gave up (no page recorded).
    const b = await checkout(own, request([[slot, 2]]), { key: uniqueId('key'), sessions: stripeDown() });
    expect(b.status).toBe(503);
    const holds = await own.store.listActiveHolds();
    const holdA = holds.find((hold) => hold.tripId === a.body.tripId);
    const holdB = holds.find((hold) => hold.tripId !== a.body.tripId);
    expect(holdA && holdB && holdA.expiresAt <= holdB.expiresAt).toBe(true);

    // A's trip item loses a field (its creation time): every read of it raises StoredDataError.
    await testDocumentClient().send(new UpdateCommand({ TableName: own.table, Key: keys.trip(a.body.tripId as string), UpdateExpression: 'REMOVE createdAt' }));

    const later = at(holdB?.expiresAt as string, MINUTE);
    const runs: unknown[] = [];
    for (let run = 0; run < 2; run++) {
      runs.push(
        await releaseExpiredHolds({ store: own.store, clock: later, ids: randomIds }).then(
          (result) => ({ released: [...result.released].sort() }),
          (error: Error) => ({ threw: `${error.name}: ${error.message}` }),
        ),
      );
    }

    // Expected: the first run releases both holds (B's trip ended), the second finds nothing left.
    expect(runs).toEqual([{ released: [holdA?.tripId, holdB?.tripId].sort() }, { released: [] }]);
    expect((await own.store.getHold(holdB?.tripId as string))?.status).toBe('released');
    expect(await counts(own, slot)).toEqual({ available: 4, unheld: 4 });
  });
});

describe('the hold sweeper, at a trip with no page whose stored hold expiry no longer reads', () => {
  /** A keyed checkout Stripe never answered (no page), its trip's hold expiry then stored as a number. */
  async function pagelessTripThatNoLongerReads() {
    const own = await ownWorld();
    const slot = await seedSlot(own.store, { capacity: 4, priceAmount: 4_500 });
    expect((await checkout(own, request([[slot, 2]]), { key: uniqueId('key'), sessions: stripeDown() })).status).toBe(503);
    const [hold] = await own.store.listActiveHolds();
    const tripId = hold?.tripId as string;
    // Stored as a number, the trip's hold expiry refuses the write that ends the trip, and the trip read back fails its shape.
    await testDocumentClient().send(
      new UpdateCommand({ TableName: own.table, Key: keys.trip(tripId), UpdateExpression: 'SET holdExpiresAt = :n', ExpressionAttributeValues: { ':n': 1 } }),
    );
    return { own, slot, tripId, expiresAt: hold?.expiresAt as string };
  }

  it('releases the hold and says which trip it left as it is, instead of leaving it waiting unsaid', async () => {
    const { own, slot, tripId, expiresAt } = await pagelessTripThatNoLongerReads();

    const swept = await releaseExpiredHolds({ store: own.store, clock: at(expiresAt, MINUTE), ids: randomIds });

    expect(swept.released).toEqual([tripId]);
    expect(swept.unreadableTrips).toEqual([{ tripId, problem: expect.stringContaining('holdExpiresAt') }]);
    expect((await own.store.getHold(tripId))?.status).toBe('released');
    expect(await counts(own, slot)).toEqual({ available: 4, unheld: 4 });
  });

  it('and its Lambda entry point writes that trip in the one line the stack counts as UnreadableTrips, under the service its alarm reads', async () => {
    const { own, tripId, expiresAt } = await pagelessTripThatNoLongerReads();
    const { handler } = await coldStart(() => import('../../lambdas/hold-sweeper/handler'), {
      apiKey: 'sk_test_unused',
      stripeApiBase: own.fake.url,
      tableName: own.table,
    });
    onTestFinished(() => {
      vi.useRealTimers();
      vi.unstubAllEnvs();
    });
    // The sweeper's clock a minute past the hold's expiry; only Date is faked, so the SDK's own timers still run.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(expiresAt) + MINUTE });

    let answer: unknown;
    const lines = await linesWritten(async () => {
      answer = await handler();
    });

    expect(answer).toEqual({ released: 1, alreadySettled: 0 });
    const counted = lines.filter((line) => line.message === COUNTED_LOG_LINES.sweptUnreadableTrip.message);
    expect(counted).toEqual([expect.objectContaining({ level: 'ERROR', service: SERVICE_NAME, tripId, problem: expect.stringContaining('holdExpiresAt') })]);
    expect(COUNTED_LOG_LINES.sweptUnreadableTrip.metric).toBe(METRIC.unreadableTrips);
  });
});
