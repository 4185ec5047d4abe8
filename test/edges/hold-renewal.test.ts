// A keyed checkout retried too late for its session's expiry, whose hold is held on: against the sweeper reading the old
// expiry, a client retrying through a long Stripe outage, and the session an earlier attempt made, its answer lost.
import { describe, expect, it } from 'vitest';
import { randomIds } from '../../lambdas/shared/domain/collaborators';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { HOLD_MINUTES } from '../../lambdas/shared/domain/start-checkout';
import { seedSlot, uniqueId } from '../support/store';
import { ago, answerLost, at, checkout, counts, ownWorld, pay, request, stripeDown } from '../support/own-checkout';

const MINUTE = 60_000;

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
    let offset = -6 * MINUTE;
    const own = await ownWorld({ fakeNow: () => Date.now() + offset });
    const slot = await seedSlot(own.store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');

    // 6 minutes ago: Stripe made the session, its answer was lost (503).
    const lost = answerLost(own);
    expect((await checkout(own, body, { key, sessions: lost, clock: ago(6 * MINUTE) })).status).toBe(503);
    offset = 0;
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
    offset = later;
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

describe('the session a first attempt made, its answer lost, once a later retry renewed the hold', () => {
  it('a payment of it (its URL leaked) is refunded, and the trip stays the renewed page’s, which books', async () => {
    let offset = -6 * MINUTE;
    const own = await ownWorld({ fakeNow: () => Date.now() + offset });
    const slot = await seedSlot(own.store, { capacity: 2, priceAmount: 4_500 });
    const body = request([[slot, 2]]);
    const key = uniqueId('key');

    const lost = answerLost(own);
    const first = await checkout(own, body, { key, sessions: lost, clock: ago(6 * MINUTE) });
    expect(first.status).toBe(503);
    offset = 0;

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
