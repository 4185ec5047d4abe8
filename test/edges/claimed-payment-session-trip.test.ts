// A claimed payment's own trip (the one its session was opened for, never booked by it): ended when a person resolves
// the payment, `refunded` with all of the money back, `cancelled` with some kept, so its page stops waiting and asking.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtomicWrite } from '../../lambdas/shared/domain/booking-store';
import { randomIds } from '../../lambdas/shared/domain/collaborators';
import { unheldSeats } from '../../lambdas/shared/domain/model';
import { StoreUnavailableError } from '../../lambdas/shared/domain/errors';
import { resolvePayment } from '../../lambdas/shared/domain/payment-operations';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { keys } from '../../lambdas/shared/dynamodb/item-keys';
import { tripRequest } from '../../scripts/dev-kit/api-gateway-events';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { cancellingAsAws } from '../support/aws-like-client';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { deps, FAST_RETRIES, readSlot, spoilSlotCounts, storeOnOwnTable, tableOf, testDocumentClient, testStore } from '../support/store';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { webhookHarness } from '../support/webhook';

describe('a claimed payment: the trip its session was opened for', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  /** Trip B paid 90.00 (pi_B); trip A (45.00, one booking) booked by create-booking with pi_B; pi_B's completed event raised the claim. */
  async function claimed(store: DynamoDbBookingStore = testStore(), options: { readonly guests?: readonly number[] } = {}) {
    const { paying, paid, paymentId, other, booked } = await paymentClaimedForAnotherTrip(store, fake, options);
    expect(booked.success).toBe(true);
    const webhook = webhookHarness(fake, { store });
    expect((await webhook.send(signedRequest(paid))).body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
    const userId = (await paying.trip())?.userId as string;
    const sessionId = (await paying.trip())?.checkoutSessionId as string;
    const tripHandler = createLocalTripHandler({
      store,
      table: tableOf(store),
      stripeClient: () => fake.client(),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
    });
    /** GET /trips/{B} as B's traveller, and how many times Stripe was asked for B's session meanwhile. */
    const show = async () => {
      const asked = fake.calls.filter((call) => call.path.includes(sessionId)).length;
      const response = await tripHandler(tripRequest(paying.tripId, userId));
      const body = JSON.parse(response.body ?? '{}') as { status?: string; statusReason?: string | null };
      return { status: response.statusCode, body, askedStripe: fake.calls.filter((call) => call.path.includes(sessionId)).length - asked };
    };
    const refundInFull = async (created?: number) => {
      const before = fake.events.length;
      await fake.client().refunds.create({ payment_intent: paymentId });
      for (const event of fake.events.slice(before)) {
        expect((await webhook.send(signedRequest(created === undefined ? event : { ...event, created }))).status).toBe(200);
      }
    };
    const tripAudits = async () =>
      (await store.listAudit('trip', paying.tripId)).filter((entry) => ['trip.refunded', 'trip.cancelled'].includes(entry.eventType));
    const reference = booked.bookings?.[0]?.reference as string;
    return { store, paying, paid, paymentId, other, reference, webhook, show, refundInFull, tripAudits };
  }

  it('until the payment is resolved it waits, and its page asks Stripe on each return', async () => {
    const t = await claimed();
    const shown = await t.show();
    expect(shown).toMatchObject({ status: 200, body: { status: 'pending_payment' } });
    expect(shown.askedStripe).toBe(1);
  });

  it('README remedy (the whole charge refunded in the Dashboard, resolved): trip B ends `refunded`, its page answers without asking Stripe', async () => {
    const t = await claimed();
    await t.refundInFull();
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full; A kept'])).code).toBe(0);

    const [refund] = fake.refundsOf(t.paymentId);
    const tripB = await t.paying.trip();
    expect({ status: tripB?.status, statusReason: tripB?.statusReason, refundId: tripB?.refundId, paymentId: tripB?.paymentId }).toEqual({
      status: 'refunded',
      statusReason: 'paid_for_another_trip',
      refundId: refund?.id,
      paymentId: undefined,
    });
    const audits = await t.tripAudits();
    expect(audits.map((entry) => [entry.eventType, entry.actorType, entry.metadata.reason, entry.metadata.paymentId])).toEqual([
      ['trip.refunded', 'operator', 'paid_for_another_trip_all_of_it_back', t.paymentId],
    ]);
    const shown = await t.show();
    expect(shown).toMatchObject({ status: 200, body: { status: 'refunded', statusReason: 'paid_for_another_trip' } });
    expect(shown.askedStripe).toBe(0);
    // Trip A, its bookings paid by its own traveller, untouched; all of pi_B back at Stripe, once.
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('booked');
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
  });

  it('resolved with the money kept: trip B ends `cancelled`; nothing is refunded', async () => {
    const t = await claimed();
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B paid for A on purpose'])).code).toBe(0);

    const tripB = await t.paying.trip();
    expect({ status: tripB?.status, statusReason: tripB?.statusReason, refundId: tripB?.refundId }).toEqual({
      status: 'cancelled',
      statusReason: 'paid_for_another_trip',
      refundId: undefined,
    });
    expect((await t.tripAudits()).map((entry) => [entry.eventType, entry.metadata.reason])).toEqual([['trip.cancelled', 'paid_for_another_trip_money_kept']]);
    expect(fake.refundsOf(t.paymentId)).toEqual([]);
    expect((await t.show()).askedStripe).toBe(0);
    // Its session's event again, a day later: the record decides; trip B stays as it is.
    expect((await t.webhook.send(signedRequest(t.paid))).status).toBe(200);
    expect((await t.paying.trip())?.status).toBe('cancelled');
  });

  it('README remedy in another order (A cancelled --no-refund, resolved, then the Dashboard refund): Stripe’s events move trip B on to `refunded`, once', async () => {
    const t = await claimed();
    const gateway = new StripePaymentGateway(async () => fake.client());
    expect((await ops(['bookings', 'cancel', t.reference, '--reason', 'nothing paid for trip A', '--no-refund'], gateway)).code).toBe(0);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'A cancelled; refunding B in the Dashboard now'])).code).toBe(0);
    expect((await t.paying.trip())?.status).toBe('cancelled');
    const before = fake.events.length;
    await t.refundInFull();
    // Every event of it delivered again: nothing moves twice.
    for (const event of fake.events.slice(before)) expect((await t.webhook.send(signedRequest(event))).status).toBe(200);

    const [refund] = fake.refundsOf(t.paymentId);
    const tripB = await t.paying.trip();
    expect({ status: tripB?.status, statusReason: tripB?.statusReason, refundId: tripB?.refundId }).toEqual({
      status: 'refunded',
      statusReason: 'paid_for_another_trip',
      refundId: refund?.id,
    });
    expect((await t.tripAudits()).map((entry) => [entry.eventType, entry.actorType])).toEqual([
      ['trip.cancelled', 'operator'],
      ['trip.refunded', 'stripe'],
    ]);
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('cancelled');
  });

  it('money kept, then trip A cancelled with its refund, which brings all of it back: trip B moves on to `refunded` with that refund', async () => {
    // Trip A of 2 guests: its price is the whole charge.
    const t = await claimed(testStore(), { guests: [2] });
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'A kept'])).code).toBe(0);
    expect((await t.paying.trip())?.status).toBe('cancelled');
    const gateway = new StripePaymentGateway(async () => fake.client());
    const cancelled = await ops(['bookings', 'cancel', t.reference, '--reason', 'A cancelled after all'], gateway);
    expect(cancelled.code, cancelled.out + cancelled.err).toBe(0);

    const [refund] = fake.refundsOf(t.paymentId);
    expect(refund?.amount).toBe(t.paying.amount);
    const tripB = await t.paying.trip();
    expect({ status: tripB?.status, refundId: tripB?.refundId }).toEqual({ status: 'refunded', refundId: refund?.id });
    expect((await t.tripAudits()).map((entry) => entry.eventType)).toEqual(['trip.cancelled', 'trip.refunded']);
    // Its events, delivered: nothing more moves, nothing more is refunded.
    for (const event of fake.events.filter((candidate) => JSON.stringify(candidate).includes(t.paymentId))) await t.webhook.send(signedRequest(event));
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    expect(await t.tripAudits()).toHaveLength(2);
  });

  it('refunded, then the refund fails and the payment is resolved again: trip B stays `refunded`, moved once', async () => {
    const t = await claimed();
    const t0 = Math.floor(Date.now() / 1000);
    await t.refundInFull(t0);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full'])).code).toBe(0);
    const [refund] = fake.refundsOf(t.paymentId);
    const failed = fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');
    await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(failed)), created: t0 + 10 }));
    expect((await t.store.getPaymentRecord(t.paymentId))?.status).toBe('needs_attention');
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'paid back by bank transfer'])).code).toBe(0);

    expect((await t.paying.trip())?.status).toBe('refunded');
    expect((await t.tripAudits()).map((entry) => entry.eventType)).toEqual(['trip.refunded']);
  });

  it('two resolutions at once: one resolves and moves trip B once; the other is told there is nothing to resolve', async () => {
    const t = await claimed();
    await t.refundInFull();
    const results = await Promise.all([resolvePayment(deps(t.store), t.paymentId, 'first'), resolvePayment(deps(t.store), t.paymentId, 'second')]);
    expect(results.map((result) => (result.ok ? 'ok' : result.errorCode)).sort()).toEqual(['NOT_NEEDING_ATTENTION', 'ok']);
    expect((await t.paying.trip())?.status).toBe('refunded');
    expect(await t.tripAudits()).toHaveLength(1);
  });

  it('trip B moved between the resolution’s read of it and its write: refused, read again, the payment resolved without moving it', async () => {
    const t = await claimed();
    await t.refundInFull();
    const held = holdFirstCommit(t.store);
    const writes: AtomicWrite[] = [];
    const watched = new Proxy(held.store, {
      get(target, property) {
        if (property === 'commit') {
          return (write: AtomicWrite) => {
            writes.push(write);
            return target.commit(write);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const resolving = resolvePayment(deps(watched), t.paymentId, 'B refunded in full');
    await held.reached;
    // Meanwhile the trip leaves waiting some other way.
    const moved = await t.store.commit({
      at: new Date().toISOString(),
      tripTransition: { tripId: t.paying.tripId, from: ['pending_payment'], to: 'expired', statusReason: 'moved meanwhile' },
    });
    expect(moved.committed).toBe(true);
    held.release();
    const result = await resolving;
    expect(result.ok).toBe(true);
    expect((await t.store.getPaymentRecord(t.paymentId))?.status).toBe('resolved');
    // The first write would have ended trip B; the second, after reading it again, leaves it.
    expect(writes.map((write) => write.tripTransition?.to)).toEqual(['refunded', undefined]);
    expect((await t.paying.trip())?.status).toBe('expired');
    expect(await t.tripAudits()).toEqual([]);
  });

  it('resolved while its checkout still holds its seats: they go back to sale in the same write, once', async () => {
    const t = await claimed();
    expect((await t.store.getHold(t.paying.tripId))?.status).toBe('held');
    await t.refundInFull();
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full; A kept'])).code).toBe(0);

    expect((await t.paying.trip())?.status).toBe('refunded');
    const slot = await readSlot(t.store, t.paying.slot.slotId);
    expect({ hold: (await t.store.getHold(t.paying.tripId))?.status, unheld: slot && unheldSeats(slot), available: slot?.availableCount }).toEqual({
      hold: 'released',
      unheld: 4,
      available: 4,
    });
    const trail = (await t.store.listAudit('trip', t.paying.tripId)).map((entry) => [entry.eventType, entry.actorType]);
    expect(trail.filter(([type]) => type === 'trip.hold_released')).toEqual([['trip.hold_released', 'operator']]);
  });

  it('resolved after the sweeper gave its seats back: the trip ends all the same, the seats not given back twice', async () => {
    const store = await storeOnOwnTable();
    const t = await claimed(store);
    const later = { now: () => new Date(Date.now() + 24 * 3_600_000) };
    expect((await releaseExpiredHolds({ store, clock: later, ids: randomIds })).released).toEqual([t.paying.tripId]);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'kept'], undefined, {}, store.tableName)).code).toBe(0);

    expect((await t.paying.trip())?.status).toBe('cancelled');
    const slot = await readSlot(store, t.paying.slot.slotId);
    expect({ unheld: slot && unheldSeats(slot), available: slot?.availableCount }).toEqual({ unheld: 4, available: 4 });
    const trail = (await store.listAudit('trip', t.paying.tripId)).map((entry) => entry.eventType);
    expect(trail.filter((type) => type === 'trip.hold_released')).toHaveLength(1);
    const check = await ops(['check'], undefined, {}, store.tableName);
    expect(check.code, check.out + check.err).toBe(0);
  });

  it('a trip B that no longer reads is left as it is: the payment is resolved all the same', async () => {
    const t = await claimed();
    await testDocumentClient().send(new UpdateCommand({ TableName: tableOf(t.store), Key: keys.trip(t.paying.tripId), UpdateExpression: 'REMOVE createdAt' }));
    const resolved = await ops(['payments', 'resolve', t.paymentId, '--note', 'A kept on purpose']);
    expect(resolved.code, resolved.out + resolved.err).toBe(0);
    expect((await t.store.getPaymentRecord(t.paymentId))?.status).toBe('resolved');
    expect(await t.tripAudits()).toEqual([]);
  });

  it('resolved with money kept, the rest refunded but failing, then its older full total arriving late: trip B stays `cancelled`', async () => {
    const t = await claimed();
    // 40.00 of the 90.00 back in the Dashboard; resolved with 50.00 kept.
    const t0 = Math.floor(Date.now() / 1000);
    let before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId, amount: 4_000 });
    for (const event of fake.events.slice(before)) expect((await t.webhook.send(signedRequest({ ...event, created: t0 }))).status).toBe(200);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', '50.00 kept for now'])).code).toBe(0);
    expect((await t.paying.trip())?.status).toBe('cancelled');
    // The rest refunded, pending: its refund.created delivered, its charge.refunded (all 90.00 back) held back.
    fake.advance(20_000);
    fake.nextRefundStatus('pending');
    before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId, amount: 5_000 });
    const [created, total] = fake.events.slice(before);
    expect([created?.type, total?.type]).toEqual(['refund.created', 'charge.refunded']);
    expect((await t.webhook.send(signedRequest({ ...created, created: t0 + 20 } as typeof t.paid))).status).toBe(200);
    // It fails, told by a later refund.updated: in front of a person again. Then the older total arrives.
    const [, second] = fake.refundsOf(t.paymentId);
    const failed = fake.setRefundStatus(second?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(failed)), created: t0 + 30 }))).status).toBe(200);
    expect((await t.store.getPaymentRecord(t.paymentId))?.status).toBe('needs_attention');
    expect((await t.webhook.send(signedRequest({ ...total, created: t0 + 21 } as typeof t.paid))).status).toBe(200);

    // 40.00 of 90.00 back at Stripe: not all of B's traveller's money.
    expect(fake.totalRefunded(t.paymentId)).toBe(4_000);
    const tripB = await t.paying.trip();
    expect({ status: tripB?.status, statusReason: tripB?.statusReason }).toEqual({ status: 'cancelled', statusReason: 'paid_for_another_trip' });
  });

  it('a slot of its held seats that does not take them back: the payment is resolved all the same, the hold left held and the operator told why', async () => {
    // Its own table: the slot made unusable here must not show in other files' `ops check`.
    const store = await storeOnOwnTable();
    const t = await claimed(store);
    await spoilSlotCounts(store.tableName, t.paying.slot.slotId);
    const resolved = await ops(['payments', 'resolve', t.paymentId, '--note', 'A kept on purpose'], undefined, {}, store.tableName);
    // Resolved, with the slot left for the operator to look at: exit 1, as anything left for a person.
    expect(resolved.code, resolved.out + resolved.err).toBe(1);
    expect((await store.getPaymentRecord(t.paymentId))?.status).toBe('resolved');
    expect((await t.paying.trip())?.status).toBe('cancelled');
    expect((await store.getHold(t.paying.tripId))?.status).toBe('held');
    expect(resolved.err).toContain(`warning: trip ${t.paying.tripId} ended, but the seats its checkout holds could not be given back`);
  });

  it('resolved by a named operator: the seats given back are audited in their name, as the trip’s end is', async () => {
    const t = await claimed();
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'kept', '--actor', 'alice'])).code).toBe(0);
    const trail = (await t.store.listAudit('trip', t.paying.tripId)).map((entry) => [entry.eventType, entry.actorType, entry.actorId ?? null]);
    expect(trail.filter(([type]) => type === 'trip.cancelled' || type === 'trip.hold_released')).toEqual([
      ['trip.cancelled', 'operator', 'alice'],
      ['trip.hold_released', 'operator', 'alice'],
    ]);
  });

  it('the store failing on the write that gives the seats back: the operator is told, nothing is written, and a run again does it all once', async () => {
    const t = await claimed();
    const failing = failFirstRelease(t.store, { written: false });
    await expect(resolvePayment(deps(failing), t.paymentId, 'kept')).rejects.toThrow(StoreUnavailableError);
    expect((await t.store.getPaymentRecord(t.paymentId))?.status).toBe('needs_attention');
    expect({ trip: (await t.paying.trip())?.status, hold: (await t.store.getHold(t.paying.tripId))?.status }).toEqual({
      trip: 'pending_payment',
      hold: 'held',
    });

    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'kept'])).code).toBe(0);
    expect({ trip: (await t.paying.trip())?.status, hold: (await t.store.getHold(t.paying.tripId))?.status }).toEqual({ trip: 'cancelled', hold: 'released' });
  });

  it('its answer lost after it was written: the operator is told the store did not answer, and the table holds it all once', async () => {
    const t = await claimed();
    const failing = failFirstRelease(t.store, { written: true });
    await expect(resolvePayment(deps(failing), t.paymentId, 'kept', 'alice')).rejects.toThrow(StoreUnavailableError);
    expect((await t.store.getPaymentRecord(t.paymentId))?.status).toBe('resolved');
    expect({ trip: (await t.paying.trip())?.status, hold: (await t.store.getHold(t.paying.tripId))?.status }).toEqual({ trip: 'cancelled', hold: 'released' });
    expect(await t.tripAudits()).toHaveLength(1);
    // Run again: nothing left to resolve, nothing moved twice.
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'kept'])).code).toBe(1);
    expect(await t.tripAudits()).toHaveLength(1);
  });

  it('resolved with money kept while a total that may count a failed refund is held, then all of it back by a refund that succeeds: trip B moves on to `refunded`', async () => {
    const t = await claimed();
    const t0 = Math.floor(Date.now() / 1000);
    // 50.00 refunded in the Dashboard, pending; it fails, learned from a later refund.updated; its older total arrives after.
    fake.nextRefundStatus('pending');
    let before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId, amount: 5_000 });
    const [created, total] = fake.events.slice(before);
    expect((await t.webhook.send(signedRequest({ ...created, created: t0 + 10 } as typeof t.paid))).status).toBe(200);
    const [first] = fake.refundsOf(t.paymentId);
    const failed = fake.setRefundStatus(first?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(failed)), created: t0 + 30 }))).status).toBe(200);
    expect((await t.webhook.send(signedRequest({ ...total, created: t0 + 20 } as typeof t.paid))).status).toBe(200);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'kept for now'])).code).toBe(0);
    expect((await t.paying.trip())?.status).toBe('cancelled');
    // Then the whole charge refunded in the Dashboard, and it succeeds; every event delivered, twice.
    fake.advance(60_000);
    before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    for (const event of [...fake.events.slice(before), ...fake.events.slice(before)]) expect((await t.webhook.send(signedRequest(event))).status).toBe(200);

    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    expect((await t.paying.trip())?.status).toBe('refunded');
    expect((await t.tripAudits()).map((entry) => entry.eventType)).toEqual(['trip.cancelled', 'trip.refunded']);
  });

  it('money kept, then all of it back while the payment is in front of a person again: trip B waits for the next resolution, which moves it on', async () => {
    const t = await claimed();
    const t0 = Math.floor(Date.now() / 1000);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'kept'])).code).toBe(0);
    // 40.00 refunded in the Dashboard, failing: in front of a person again.
    fake.nextRefundStatus('pending');
    let before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId, amount: 4_000 });
    for (const event of fake.events.slice(before)) expect((await t.webhook.send(signedRequest({ ...event, created: t0 + 10 }))).status).toBe(200);
    const [first] = fake.refundsOf(t.paymentId);
    const failed = fake.setRefundStatus(first?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(failed)), created: t0 + 20 }))).status).toBe(200);
    expect((await t.store.getPaymentRecord(t.paymentId))?.status).toBe('needs_attention');
    // All of it back now: the person has not looked yet.
    fake.advance(60_000);
    before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    for (const event of fake.events.slice(before)) expect((await t.webhook.send(signedRequest(event))).status).toBe(200);
    expect((await t.paying.trip())?.status).toBe('cancelled');

    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'all back now'])).code).toBe(0);
    expect((await t.paying.trip())?.status).toBe('refunded');
    expect((await t.tripAudits()).map((entry) => [entry.eventType, entry.actorType])).toEqual([
      ['trip.cancelled', 'operator'],
      ['trip.refunded', 'operator'],
    ]);
  });

  it('a slot refusing the seats back as AWS refuses it (the transaction cancelled, a ValidationError reason): resolved all the same, the operator told why', async () => {
    const own = await storeOnOwnTable();
    const store = new DynamoDbBookingStore({ client: cancellingAsAws(testDocumentClient()), tableName: own.tableName, retryPolicy: FAST_RETRIES });
    const t = await claimed(store);
    await spoilSlotCounts(own.tableName, t.paying.slot.slotId);
    const result = await resolvePayment(deps(store), t.paymentId, 'A kept on purpose');
    expect(result).toMatchObject({ ok: true, seatsLeftHeld: { tripId: t.paying.tripId } });
    expect((await store.getPaymentRecord(t.paymentId))?.status).toBe('resolved');
    expect({ trip: (await t.paying.trip())?.status, hold: (await store.getHold(t.paying.tripId))?.status }).toEqual({ trip: 'cancelled', hold: 'held' });
  });
});

/** `store`, its first write that releases a hold failing as a store that did not answer: after writing it, or instead. */
function failFirstRelease<S extends DynamoDbBookingStore>(store: S, options: { readonly written: boolean }): S {
  let failed = false;
  return new Proxy(store, {
    get(target, property) {
      if (property === 'commit') {
        return async (write: AtomicWrite) => {
          if (failed || write.holdTransition === undefined) return target.commit(write);
          failed = true;
          if (options.written) await target.commit(write);
          throw new StoreUnavailableError('TransactWriteItems failed after 5 attempts', { maybeCommitted: options.written });
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
