// Operators and money through the ops CLI and its use cases, against DynamoDB Local and the Stripe fake: every share refunded at most once, never more than was paid.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOOKED_TRIP_CAPACITY, BOOKED_TRIP_PRICE, bookedTripAt, cancelledWithAnswerLost, type BookedTripOptions } from '../support/booked-trip';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { PaymentRecord } from '../../lambdas/shared/domain/model';
import type { PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { nextVersion } from '../../lambdas/shared/domain/payment-ledger';
import { cancelBooking, resolvePayment, retryRefund } from '../../lambdas/shared/domain/payment-operations';
import { startStripeFake, type StripeFake, type TransientFailure } from '../../scripts/local/stripe-fake';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { FAST_RETRIES, storeOnOwnTable, testDocumentClient, testStore, type TestStore } from '../support/store';
import { chargeRefunded, checkoutSession, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { stillNeedsAttention } from '../../scripts/ops/commands/payments';
import { webhookHarness } from '../support/webhook';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';

const HOUR = 3_600_000;
/** Each slot's price a guest, and its capacity, as the shared booked trip seeds them. */
const PRICE = BOOKED_TRIP_PRICE;
const CAPACITY = BOOKED_TRIP_CAPACITY;

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

const eur = (amount: number): string => `${(amount / 100).toFixed(2)} EUR`;
const hoursLater = (hours: number): Clock => {
  const later = new Date(Date.now() + hours * HOUR);
  return { now: () => later };
};

/**
 * A trip with one booking per entry of `guests` (each on its own slot at PRICE a guest), paid with a PaymentIntent the
 * fake knows and booked through the real webhook, so its payment record is `booked` with `amountPaid`.
 */
async function bookedTrip(guests: readonly number[], options: BookedTripOptions = {}) {
  const t = await bookedTripAt(fake, guests, options);
  return {
    ...t,
    cancelLater: (store_: TestStore, clock: Clock, reference: string, gateway_: PaymentGateway = t.gateway) =>
      cancelBooking({ store: store_, gateway: gateway_, clock, ids: randomIds }, { reference, reason: 'guide ill', actorId: 'ana', refund: true }),
  };
}

const posts = (pi?: string) =>
  fake.calls.filter((call) => call.method === 'POST' && call.path === '/v1/refunds' && (pi === undefined || call.idempotencyKey?.includes(pi)));
const lookups = () => fake.calls.filter((call) => call.method === 'GET' && call.path === '/v1/refunds');

/** Money at the fake: never more back than paid, and each booking's share (retries included) back at most once. */
function expectEachShareRefundedAtMostOnce(pi: string, paid: number): void {
  expect(fake.totalRefunded(pi)).toBeLessThanOrEqual(paid);
  const live = fake.refundsOf(pi).filter((refund) => refund.status !== 'failed' && refund.status !== 'canceled');
  const shares = live.map((refund) => (refund.metadata.refund_key ?? '').replace(/-retry-\d+$/, ''));
  expect(new Set(shares).size).toBe(shares.length);
}

/** A payment whose share refund Stripe refused for good (`charge_disputed`), cancelled through the CLI. */
async function refusedShare(guests: readonly number[]) {
  const t = await bookedTrip(guests);
  fake.refuseNext('charge_disputed');
  const cancelled = await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill', '--actor', 'ana'], t.gateway);
  return { ...t, cancelled };
}

describe('bookings cancel', () => {
  it.each([
    { name: 'the only booking of a trip', guests: [2], tripAfter: 'refunded', recordAfter: 'refunded', seats: [CAPACITY] },
    { name: 'one booking of a two-booking trip', guests: [1, 2], tripAfter: 'booked', recordAfter: 'booked', seats: [CAPACITY, CAPACITY - 2] },
  ])('refunds the share of $name once, even when run again 25 hours later', async ({ guests, tripAfter, recordAfter, seats }) => {
    const t = await bookedTrip(guests);
    const reference = t.references[0] as string;
    const share = t.shares[0] as number;

    const first = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway);
    fake.advance(25 * HOUR);
    const callsBefore = fake.calls.length;
    const again = await t.cancelLater(t.store, hoursLater(25), reference);

    expect(first).toMatchObject({ code: 0, out: expect.stringContaining(`succeeded: ${eur(share)}`) });
    expect(again).toMatchObject({
      ok: true,
      released: [],
      alreadyReleased: true,
      refund: { refundKey: t.shareKey(reference), status: 'succeeded', amount: share },
    });
    expect(fake.calls.length).toBe(callsBefore);
    expect(fake.refundsOf(t.pi)).toMatchObject([
      { amount: share, idempotencyKey: t.shareKey(reference), metadata: { refund_key: t.shareKey(reference), tripId: t.trip.tripId } },
    ]);
    expect(posts()).toHaveLength(1);
    expect(await t.available()).toEqual(seats);
    expect(await t.bookingStatus(reference)).toBe('cancelled');
    expect(await t.tripStatus()).toBe(tripAfter);
    const record = await t.record();
    expect(record).toMatchObject({ status: recordAfter, amountPaid: t.paid, amountRefunded: share });
    expect(record.refunds).toMatchObject([
      { refundKey: t.shareKey(reference), status: 'succeeded', amount: share, stripeRefundId: fake.refundsOf(t.pi)[0]?.id, bookingReferences: [reference] },
    ]);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it.each([
    { failure: 500 as TransientFailure, count: 1 },
    { failure: 429 as TransientFailure, count: 1 },
    { failure: 'lock_timeout' as TransientFailure, count: 1 },
    { failure: 'reset' as TransientFailure, count: 2 },
  ])(
    'cancels while Stripe is down ($failure): exit 1 STRIPE_UNAVAILABLE, seats back, refund requested; 25 hours later it is refunded exactly once',
    async ({ failure, count }) => {
      const t = await bookedTrip([2]);
      const reference = t.references[0] as string;
      fake.failNext(count, failure);

      const down = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway);

      expect(down.code).toBe(1);
      expect(down.err.split('\n')).toHaveLength(1);
      expect(down.err).toContain('STRIPE_UNAVAILABLE');
      expect(await t.bookingStatus(reference)).toBe('cancelled');
      expect(await t.available()).toEqual([CAPACITY]);
      expect(await t.tripStatus()).toBe('cancelled');
      expect(await t.record()).toMatchObject({
        status: 'cancelled',
        amountRefunded: 0,
        refunds: [{ refundKey: t.shareKey(reference), status: 'requested', amount: t.paid }],
      });
      expect(fake.refundsOf(t.pi)).toEqual([]);

      fake.advance(25 * HOUR);
      const later = await t.cancelLater(t.store, hoursLater(25), reference);

      expect(later).toMatchObject({ ok: true, alreadyReleased: true, refund: { status: 'succeeded', amount: t.paid } });
      expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid, idempotencyKey: t.shareKey(reference) }]);
      // The command looked the payment's account up before asking; the later call, which did not store it, looked the
      // refund up by its key first.
      expect(lookups()).toHaveLength(2);
      expect(posts()).toHaveLength(count + 1);
      expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid, refunds: [{ status: 'succeeded' }] });
      expect(await t.tripStatus()).toBe('refunded');
      expect(await t.available()).toEqual([CAPACITY]);
      expectEachShareRefundedAtMostOnce(t.pi, t.paid);
    },
  );

  it('run again without STRIPE_API_KEY while its share waits for Stripe: the key is named (exit 2), Stripe never called, nothing changed', async () => {
    const t = await bookedTrip([2]);
    const reference = t.references[0] as string;
    fake.failNext(1, 500);
    expect((await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    const before = await t.record();
    const callsBefore = fake.calls.length;

    const again = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill']);

    expect(again).toMatchObject({ code: 2, err: expect.stringContaining('STRIPE_API_KEY') });
    expect(again.err).not.toContain('STRIPE_UNAVAILABLE');
    expect(fake.calls.length).toBe(callsBefore);
    expect(await t.record()).toEqual(before);
    // With the key, the same command asks Stripe and the share is refunded once.
    expect(await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway)).toMatchObject({ code: 0 });
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid }]);
  });

  it.each([
    { name: '25 hours later, after Stripe forgot the key', hours: 25, lookedUp: 1, posted: 1 },
    // The run that stored the refund is gone either way: the next one cannot tell how long ago that was, and looks first.
    { name: 'a minute later, while Stripe still remembers the key', hours: 0, lookedUp: 1, posted: 1 },
  ])('finds the refund Stripe made when our write of its answer failed, and does not refund again $name', async ({ hours, lookedUp, posted }) => {
    const t = await bookedTrip([1, 2]);
    const reference = t.references[0] as string;
    const share = t.shares[0] as number;
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const faultyStore = testStore(client);
    // Stripe answers; then every attempt to write its answer fails (the release has committed before Stripe is asked).
    const answersThenTableFails: PaymentGateway = {
      refundable: (id) => t.gateway.refundable(id),
      findRefund: (id, key) => t.gateway.findRefund(id, key),
      holdsPayment: (id) => t.gateway.holdsPayment(id),
      refundedSoFar: (id) => t.gateway.refundedSoFar(id),
      refund: async (request) => {
        const answer = await t.gateway.refund(request);
        faults.queue('TransactWriteItemsCommand', ...Array.from({ length: FAST_RETRIES.maxAttempts }, () => 'throttle' as const));
        return answer;
      },
    };

    await expect(t.cancelLater(faultyStore, systemClock, reference, answersThenTableFails)).rejects.toMatchObject({ name: 'StoreUnavailableError' });

    expect(faults.injected).toBe(FAST_RETRIES.maxAttempts);
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: share, idempotencyKey: t.shareKey(reference) }]);
    expect(await t.bookingStatus(reference)).toBe('cancelled');
    expect(await t.available()).toEqual([CAPACITY, CAPACITY - 2]);
    expect(await t.record()).toMatchObject({
      status: 'booked',
      amountRefunded: 0,
      refunds: [{ refundKey: t.shareKey(reference), status: 'requested', amount: share }],
    });

    fake.advance(hours * HOUR);
    const again = await t.cancelLater(t.store, hours > 0 ? hoursLater(hours) : systemClock, reference);

    const [refund] = fake.refundsOf(t.pi);
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(again).toMatchObject({ ok: true, alreadyReleased: true, refund: { status: 'succeeded', stripeRefundId: refund?.id, amount: share } });
    expect(lookups()).toHaveLength(lookedUp);
    expect(posts()).toHaveLength(posted);
    expect(await t.record()).toMatchObject({ status: 'booked', amountRefunded: share, refunds: [{ status: 'succeeded', stripeRefundId: refund?.id }] });
    expect(await t.tripStatus()).toBe('booked');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('says in the audit trails who cancelled the last booking and why, on the payment’s answer and on the trip refunded', async () => {
    const t = await bookedTrip([2]);

    const cancelled = await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'customer-asked', '--actor', 'ana'], t.gateway);

    expect(cancelled.code).toBe(0);
    const trail = async (type: string, id: string) =>
      (await t.store.listAudit(type, id)).map((entry) => ({
        eventType: entry.eventType,
        actorType: entry.actorType,
        actorId: entry.actorId,
        metadata: entry.metadata,
      }));
    expect(await trail('payment', t.pi)).toMatchObject([
      { eventType: 'payment.refund_requested', actorType: 'operator', actorId: 'ana' },
      { eventType: 'payment.refund_succeeded', actorType: 'operator', actorId: 'ana' },
    ]);
    // The trip's own trail: cancelled by the operator, then refunded once the refund succeeded.
    const tripTrail = (await trail('trip', t.trip.tripId)).filter((entry) => entry.eventType === 'trip.cancelled' || entry.eventType === 'trip.refunded');
    expect(tripTrail).toEqual([
      expect.objectContaining({
        eventType: 'trip.cancelled',
        actorType: 'operator',
        actorId: 'ana',
        metadata: expect.objectContaining({ reason: 'customer-asked' }),
      }),
      expect.objectContaining({
        eventType: 'trip.refunded',
        actorType: 'operator',
        actorId: 'ana',
        metadata: expect.objectContaining({ reason: 'customer-asked' }),
      }),
    ]);
  });

  it('refuses --no-refund on a booking cancelled before whose share is still asked for: it cannot be waived, and nothing is asked', async () => {
    const t = await bookedTrip([2]);
    const reference = t.references[0] as string;
    fake.failNext(1, 500);
    expect((await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    const before = await t.record();
    const calls = fake.calls.length;

    const waive = await ops(['bookings', 'cancel', reference, '--reason', 'waive it', '--no-refund'], t.gateway);

    expect(waive.code).toBe(1);
    expect(waive.err.split('\n')).toEqual([
      `error: REFUNDS_IN_FLIGHT: Booking ${reference} was cancelled with its share refunded (${eur(t.paid)} asked for, Stripe has not answered yet): ` +
        `it may already be on its way and cannot be waived now. payments retry-refund ${t.pi} asks Stripe now; the reconciliation sweep asks every run.`,
    ]);
    expect(fake.calls.length).toBe(calls);
    expect(await t.record()).toEqual(before);
    // Cancelled again as it was, with its refund, it is asked for.
    expect((await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
  });

  it('says --no-refund waives no share Stripe refused for good, run again, and names the command that closes it; nothing is asked', async () => {
    const t = await refusedShare([2]);
    const reference = t.references[0] as string;
    const before = await t.record();
    const calls = fake.calls.length;

    const waive = await ops(['bookings', 'cancel', reference, '--reason', 'waive it', '--no-refund'], t.gateway);

    expect(waive.code).toBe(1);
    expect(waive.out).toContain('failed (charge_disputed)');
    expect(waive.err.split('\n')).toEqual([
      "warning: Stripe refused the share's refund for good (charge_disputed): nothing was refunded, and the payment is in front of a person " +
        `(\`npm run ops -- attention list\`); --no-refund waives no share asked for already: \`payments resolve ${t.pi} --note TEXT\` closes it without a refund`,
    ]);
    expect(fake.calls.length).toBe(calls);
    expect(await t.record()).toEqual(before);
    // The command it names closes it: never asked again, nothing refunded.
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'waived with the traveller'])).code).toBe(0);
    expect(await t.record()).toMatchObject({ status: 'resolved', refunds: [{ status: 'failed', resolvedAt: expect.any(String) }] });
    expect(fake.totalRefunded(t.pi)).toBe(0);
  });

  it('never refunds a share cancelled with --no-refund, even when cancelled again without it', async () => {
    const t = await bookedTrip([2]);
    const reference = t.references[0] as string;

    const waived = await ops(['bookings', 'cancel', reference, '--reason', 'no-show', '--no-refund'], t.gateway);
    const plain = await ops(['bookings', 'cancel', reference, '--reason', 'no-show'], t.gateway);
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(waived).toMatchObject({ code: 0, out: expect.stringContaining(`waived: ${eur(t.paid)}`) });
    expect(plain).toMatchObject({ code: 1, out: expect.stringContaining(`waived: ${eur(t.paid)}`) });
    expect(retried).toMatchObject({ code: 1, err: expect.stringContaining('NOTHING_TO_RETRY') });
    // Nothing asked of Stripe: the retry only looked up whether its account holds the payment.
    expect(fake.calls).toEqual([expect.objectContaining({ method: 'GET', path: '/v1/refunds', status: 200 })]);
    expect(await t.record()).toMatchObject({
      status: 'cancelled',
      amountRefunded: 0,
      refunds: [{ refundKey: t.shareKey(reference), status: 'waived', amount: t.paid }],
    });
    expect(await t.tripStatus()).toBe('cancelled');
    expect(await t.available()).toEqual([CAPACITY]);
    expect((await t.store.listAudit('payment', t.pi)).map((entry) => entry.eventType)).toEqual(['payment.refund_waived']);
  });

  it.each([
    { name: 'both refunded', noRefund: [false, false], trip: 'refunded', record: 'refunded', statuses: ['succeeded', 'succeeded'] },
    { name: 'the second waived', noRefund: [false, true], trip: 'cancelled', record: 'cancelled', statuses: ['succeeded', 'waived'] },
    { name: 'the first waived', noRefund: [true, false], trip: 'cancelled', record: 'cancelled', statuses: ['waived', 'succeeded'] },
  ])('cancels every booking of a two-booking trip ($name): each share refunded once, the trip $trip', async ({ noRefund, trip, record, statuses }) => {
    const t = await bookedTrip([1, 2]);

    const results = [];
    for (const [index, reference] of t.references.entries()) {
      results.push(await ops(['bookings', 'cancel', reference, '--reason', 'weather', ...(noRefund[index] ? ['--no-refund'] : [])], t.gateway));
    }

    expect(results.map((result) => result.code)).toEqual([0, 0]);
    const refunded = t.shares.filter((_, index) => !noRefund[index]);
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual(refunded);
    expect(posts()).toHaveLength(refunded.length);
    const total = refunded.reduce((sum, amount) => sum + amount, 0);
    expect(fake.totalRefunded(t.pi)).toBe(total);
    expect(t.shares.reduce((sum, amount) => sum + amount, 0)).toBe(t.paid);
    expect(await t.tripStatus()).toBe(trip);
    const stored = await t.record();
    expect(stored).toMatchObject({ status: record, amountPaid: t.paid, amountRefunded: total });
    expect(stored.refunds.map((entry) => [entry.refundKey, entry.status, entry.amount])).toEqual(
      t.references.map((reference, index) => [t.shareKey(reference), statuses[index], t.shares[index]]),
    );
    expect(await t.available()).toEqual([CAPACITY, CAPACITY]);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it.each([
    {
      name: 'with a refund',
      flags: [] as string[],
      cancelledCode: 1,
      // Released before, asked nothing more, and said again while the payment is in front of a person for it.
      againCode: 1,
      againWarning: /^warning: nothing was refunded: the payment is in front of a person/,
      status: 'needs_attention',
      attention: { reason: 'share_unknown', previousStatus: 'cancelled' },
    },
    // Its share waived for good: a refund asked for later is not on its way, and the command says so.
    {
      name: 'with --no-refund',
      flags: ['--no-refund'],
      cancelledCode: 0,
      againCode: 1,
      againWarning: /^warning: nothing was refunded: this booking’s share was waived/,
      status: 'cancelled',
      attention: undefined,
    },
  ])(
    'cancels a booking without a share of its own (a trip stored before prices were kept per item) $name: refunds nothing, and a refund asked for goes to a person',
    async ({ flags, cancelledCode, againCode, againWarning, status, attention }) => {
      const t = await bookedTrip([2], { withoutItemPrices: true });
      const reference = t.references[0] as string;
      expect((await t.store.getBookings([reference]))[0]?.amount).toBeUndefined();

      const cancelled = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill', ...flags], t.gateway);
      const again = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway);
      const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

      expect(cancelled.code).toBe(cancelledCode);
      expect(again.code).toBe(againCode);
      expect(again.err).toMatch(againWarning);
      expect(retried).toMatchObject({ code: 1, err: expect.stringContaining('NOTHING_TO_RETRY') });
      expect(fake.refundsOf(t.pi)).toEqual([]);
      expect(await t.available()).toEqual([CAPACITY]);
      const record = await t.record();
      expect(record.status).toBe(status);
      expect(record.attention).toEqual(attention && expect.objectContaining(attention));
      if (attention) {
        expect((await ops(['attention', 'list'])).out.split('\n').find((line) => line.includes(t.pi))).toMatch(/share_unknown/);
        expect(await ops(['payments', 'resolve', t.pi, '--note', 'refunded 90.00 EUR in the Dashboard'])).toMatchObject({ code: 0 });
      }
    },
  );

  it('keeps a booking without a share of its own in front of a person when its payment already needed one, after the other reason is retried', async () => {
    const t = await bookedTrip([2], { withoutItemPrices: true });
    // A 10.00 gesture made in the Dashboard fails at the bank: the payment needs a person (refund_failed).
    fake.nextRefundStatus('pending');
    const gesture = await fake.client().refunds.create({ payment_intent: t.pi, amount: 1_000 });
    const failed = fake.setRefundStatus(gesture.id, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');

    const cancelled = await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'traveller ill'], t.gateway);
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(cancelled).toMatchObject({ code: 1, out: expect.stringContaining('no share of its own') });
    // The gesture is asked for again; the exit code says the payment still needs a person.
    expect(retried.code).toBe(1);
    expect(fake.totalRefunded(t.pi)).toBe(1_000);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unknown' } });
    expect((await t.record()).attention?.more).toBeUndefined();
    expect((await ops(['attention', 'list'])).out.split('\n').find((line) => line.includes(t.pi))).toMatch(/share_unknown/);
    const resolved = await ops(['payments', 'resolve', t.pi, '--note', 'refunded 80.00 EUR in the Dashboard']);
    expect(resolved.code).toBe(0);
    expect((await t.store.listAudit('payment', t.pi)).find((entry) => entry.eventType === 'payment.resolved')?.metadata).toMatchObject({
      reason: 'share_unknown',
    });
  });

  it('does not call Stripe to cancel a booking whose charge was already refunded in full (charge.refunded)', async () => {
    const t = await bookedTrip([1, 2]);
    const refunded = await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId })));
    expect(refunded.body.outcome).toBe('released');

    const cancelled = await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill', '--json'], t.gateway);

    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.out)).toMatchObject({ ok: true, released: [], alreadyReleased: true, tripStatus: 'refunded' });
    expect(fake.calls).toEqual([]);
    expect(await t.available()).toEqual([CAPACITY, CAPACITY]);
    expect(await t.tripStatus()).toBe('refunded');
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid, refunds: [] });
    expect((await t.store.listAudit('booking', t.references[0] as string)).map((entry) => entry.eventType)).toEqual(['booking.confirmed', 'booking.cancelled']);
  });
});

describe('bookings cancel after Stripe’s events about an earlier share', () => {
  it('refunds the second booking’s whole share when the first share’s pending refund was reported by charge.refunded before it succeeded', async () => {
    const t = await bookedTrip([1, 2]);
    const [first, second] = t.references as [string, string];
    const [firstShare, secondShare] = t.shares as [number, number];
    fake.nextRefundStatus('pending');
    const cancelledFirst = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);
    const [pending] = fake.refundsOf(t.pi);
    // Stripe counts a pending refund on the charge at once, and tells us the refund succeeded later.
    const charge = await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { refunded: firstShare, tripId: t.trip.tripId })));
    const succeeded = fake.setRefundStatus(pending!.id, 'succeeded');
    const updated = await t.webhook.send(
      signedRequest(
        stripeEvent('refund.updated', {
          id: succeeded.id,
          object: 'refund',
          amount: succeeded.amount,
          charge: succeeded.charge,
          currency: succeeded.currency,
          payment_intent: t.pi,
          status: 'succeeded',
          failure_reason: null,
          metadata: succeeded.metadata,
          created: succeeded.created,
        }),
      ),
    );

    expect(cancelledFirst).toMatchObject({ code: 0, out: expect.stringContaining(`pending: ${eur(firstShare)}`) });
    expect(charge.body.outcome).toBe('partial_refund_recorded');
    expect(updated.body.outcome).toBe('refund_updated');
    expect.soft((await t.record()).amountRefunded).toBe(firstShare);

    const cancelledSecond = await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway);

    expect(cancelledSecond.code).toBe(0);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([firstShare, secondShare]);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
  });
});

describe('payments retry-refund', () => {
  it.each([
    { name: 'its only booking', guests: [2], previous: 'cancelled', after: 'refunded', trip: 'refunded', seats: [CAPACITY] },
    { name: 'one of two bookings', guests: [1, 2], previous: 'booked', after: 'booked', trip: 'booked', seats: [CAPACITY, CAPACITY - 2] },
  ])('asks again under a new key after Stripe refused the refund of $name for good, and only once', async ({ guests, previous, after, trip, seats }) => {
    const t = await refusedShare(guests);
    const reference = t.references[0] as string;
    const share = t.shares[0] as number;

    expect(t.cancelled).toMatchObject({
      code: 1,
      out: expect.stringContaining(`failed (charge_disputed): ${eur(share)}`),
      err: expect.stringMatching(
        /^warning: Stripe refused the share's refund for good \(charge_disputed\): nothing was refunded, and the payment is in front of a person/,
      ),
    });
    expect(await t.record()).toMatchObject({
      status: 'needs_attention',
      attention: { code: 'charge_disputed', previousStatus: previous },
      refunds: [{ refundKey: t.shareKey(reference), status: 'failed', failureCode: 'charge_disputed', amount: share }],
    });
    expect(await t.bookingStatus(reference)).toBe('cancelled');
    const attention = await ops(['attention', 'list']);
    expect(attention.code).toBe(0);
    expect(attention.out.split('\n').find((line) => line.includes(t.pi))).toMatch(/charge_disputed/);

    const retried = await ops(['payments', 'retry-refund', t.pi, '--actor', 'ana'], t.gateway);
    const retryKey = `${t.shareKey(reference)}-retry-2`;

    expect(retried.code).toBe(0);
    expect(retried.out).toContain(retryKey);
    expect(retried.out).toContain(`succeeded: ${eur(share)}`);
    expect(retried.out).toContain(`payment ${t.pi} is now ${after}`);
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: share, idempotencyKey: retryKey, metadata: { refund_key: retryKey } }]);
    const record = await t.record();
    expect(record).toMatchObject({ status: after, amountRefunded: share });
    expect(record.attention).toBeUndefined();
    expect(record.refunds).toMatchObject([
      { refundKey: t.shareKey(reference), status: 'failed', retriedAs: retryKey },
      { refundKey: retryKey, status: 'succeeded', amount: share, actorId: 'ana' },
    ]);
    expect(await t.tripStatus()).toBe(trip);
    expect(await t.available()).toEqual(seats);
    expect((await ops(['attention', 'list'])).out).not.toContain(t.pi);

    const again = await ops(['payments', 'retry-refund', t.pi], t.gateway);
    expect(again.code).toBe(1);
    expect(again.err.split('\n')).toHaveLength(1);
    expect(again.err).toContain('NOTHING_TO_RETRY');
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('bookings cancel run again after the retry says the share’s refund as it stands: its retry, made (exit 0, no warning)', async () => {
    const t = await refusedShare([1, 2]);
    const reference = t.references[0] as string;
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);

    const again = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway);

    expect(again).toMatchObject({ code: 0, err: '' });
    expect(again.out).toContain(`succeeded: ${eur(t.shares[0] as number)}`);
    expect(again.out).not.toContain('failed');
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(await t.record()).toMatchObject({ status: 'booked' });
  });

  it('bookings cancel run again after a person resolved the refused share says it was resolved, not that it is in front of a person', async () => {
    const t = await refusedShare([1, 2]);
    const reference = t.references[0] as string;
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'paid back by bank transfer'], t.gateway)).code).toBe(0);

    const again = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway);

    expect(again).toMatchObject({ code: 0, err: '' });
    expect(again.out).toMatch(new RegExp(`failed \\(charge_disputed\\): ${eur(t.shares[0] as number)}, resolved by a person \\d{4}-`));
    expect(fake.refundsOf(t.pi)).toHaveLength(0);
    expect(await t.record()).toMatchObject({ status: 'resolved' });
  });

  it('settles the payment and the trip as refunded when the other booking was cancelled while the refused refund waited for a person', async () => {
    const t = await refusedShare([1, 2]);
    const [first, second] = t.references as [string, string];

    const other = await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway);
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(other.code).toBe(0);
    expect(retried.code).toBe(0);
    expect(fake.refundsOf(t.pi).map((refund) => refund.idempotencyKey)).toEqual([t.shareKey(second), `${t.shareKey(first)}-retry-3`]);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
    expect(await t.available()).toEqual([CAPACITY, CAPACITY]);
    // Every booking cancelled and all of the money back: the record is `refunded` and so is the trip (docs/payment-flow.md).
    expect.soft(await t.record()).toMatchObject({ amountRefunded: t.paid, status: 'refunded' });
    expect.soft(await t.tripStatus()).toBe('refunded');
  });
});

describe('payments retry-refund after money came back outside this service', () => {
  it.each([
    { name: 'the other booking still confirmed', waiveOther: false, other: 'confirmed' },
    { name: 'the other booking cancelled with its share waived', waiveOther: true, other: 'cancelled' },
  ])('asks Stripe for nothing when the refused share was paid back by hand ($name): REFUND_UNCLEAR, then resolved', async ({ waiveOther, other }) => {
    const t = await refusedShare([2, 1]);
    const [first, second] = t.references as [string, string];
    const share = t.shares[0] as number;
    if (waiveOther) expect((await ops(['bookings', 'cancel', second, '--reason', 'no-show', '--no-refund'], t.gateway)).code).toBe(0);
    // Support refunds the refused share in the Dashboard; Stripe reports the charge's total.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: share });
    const reported = await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { refunded: share, tripId: t.trip.tripId })));
    expect(reported.body.outcome).toBe('partial_refund_recorded');
    const before = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);
    const unchanged = await t.record();
    const resolved = await ops(['payments', 'resolve', t.pi, '--note', 'refunded in the Dashboard']);

    expect(retried.code).toBe(1);
    expect(retried.err.split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: REFUND_UNCLEAR: Payment ${t.pi}: .*\\(${eur(share).replace('.', '\\.')}\\).*${eur(share).replace('.', '\\.')} none of our refunds accounts for.*resolve`,
        ),
      ),
    ]);
    expect(unchanged).toEqual(before);
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(fake.totalRefunded(t.pi)).toBe(share);
    expect(await t.bookingStatus(first)).toBe('cancelled');
    expect(await t.bookingStatus(second)).toBe(other);
    expect(resolved.code).toBe(0);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: share });
  });

  it('asks again only what is surely owed when the money came back before the share was refused (a gesture on the other booking?): the rest stays before a person', async () => {
    const t = await bookedTrip([1, 1]);
    const [first, second] = t.references as [string, string];
    await fake.client().refunds.create({ payment_intent: t.pi, amount: 2_000 });
    expect((await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { refunded: 2_000, tripId: t.trip.tripId })))).body.outcome).toBe(
      'partial_refund_recorded',
    );
    fake.refuseNext('charge_disputed');
    // The cancellation asks only what the standing booking does not keep (45.00 less the 20.00 back), refused.
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect((await t.record()).refunds).toMatchObject([{ status: 'failed', amount: PRICE - 2_000 }]);

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(retried.code).toBe(1);
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(fake.totalRefunded(t.pi)).toBeLessThanOrEqual(t.paid - PRICE);
    // Whether the 20.00 was this share's or a gesture on the other booking, a person decides.
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear' } });
    expect(await t.bookingStatus(second)).toBe('confirmed');
  });

  it('asks again in full for a failed refund made in the Dashboard and a refused share when nothing came back outside', async () => {
    const t = await bookedTrip([1, 1]);
    const first = t.references[0] as string;
    // A 10.00 gesture made in the Dashboard fails at the bank: the payment needs a person.
    fake.nextRefundStatus('pending');
    const gesture = await fake.client().refunds.create({ payment_intent: t.pi, amount: 1_000 });
    const failed = fake.setRefundStatus(gesture.id, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(retried.code).toBe(0);
    const asked = (await t.record()).refunds.filter((entry) => entry.refundKey.includes('-retry-')).map((entry) => entry.amount);
    expect(asked.sort((a, b) => a - b)).toEqual([1_000, PRICE]);
    expect(fake.totalRefunded(t.pi)).toBe(1_000 + PRICE);
  });

  it('asks for nothing when a failed gesture and a refused share add up to more than is left while a booking stands', async () => {
    const t = await bookedTrip([1, 1]);
    const first = t.references[0] as string;
    // A 50.00 gesture on a 90.00 payment, made in the Dashboard, fails at the bank.
    fake.nextRefundStatus('pending');
    const gesture = await fake.client().refunds.create({ payment_intent: t.pi, amount: 5_000 });
    const failed = fake.setRefundStatus(gesture.id, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    const before = await t.record();

    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(retried).toMatchObject({ code: 1, err: expect.stringMatching(/REFUND_UNCLEAR: .*\(95\.00 EUR\).*more than is left to refund \(90\.00 EUR\)/) });
    expect(await t.record()).toEqual(before);
    expect(fake.totalRefunded(t.pi)).toBe(0);
  });

  it('reads the bookings again when one is cancelled between its read and its write: the refused share is asked for in full', async () => {
    const t = await refusedShare([2, 1]);
    const [first, second] = t.references as [string, string];
    const held = holdFirstCommit(t.store);

    const retrying = retryRefund({ store: held.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, t.pi, 'ana');
    await held.reached;
    // Read with the second booking confirmed (its share kept); before the retry writes, an operator cancels it.
    const cancelled = await t.cancelLater(t.store, systemClock, second);
    held.release();
    const retried = await retrying;

    expect(cancelled).toMatchObject({ ok: true, refund: { status: 'succeeded' } });
    expect(retried).toMatchObject({ ok: true, asked: [{ refundKey: `${t.shareKey(first)}-retry-3`, amount: t.shares[0] }] });
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([t.shares[1], t.shares[0]]);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });
});

describe('bookings cancel after money came back outside this service', () => {
  /** Two bookings of one payment; `outside` refunded in the Stripe Dashboard and reported by charge.refunded. */
  async function refundedInTheDashboard(outside: number) {
    const t = await bookedTrip([1, 1]);
    await fake.client().refunds.create({ payment_intent: t.pi, amount: outside });
    const reported = await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { refunded: outside, tripId: t.trip.tripId })));
    expect(reported.body.outcome).toBe('partial_refund_recorded');
    return t;
  }

  it.each([
    { name: 'a whole share (this one’s, or a gesture on the other)', outside: PRICE, asked: 0 },
    { name: 'part of a share', outside: 1_000, asked: PRICE - 1_000 },
  ])('asks only what the standing booking does not keep, and puts the rest before a person, when $name came back', async ({ outside, asked }) => {
    const t = await refundedInTheDashboard(outside);
    const [first, second] = t.references as [string, string];

    const cancelled = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);
    const again = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);

    expect(cancelled.code).toBe(1);
    expect(cancelled.out).toContain(
      `cut short: ${eur(PRICE - asked)} of its ${eur(PRICE)} may be owed or may be back already, money came back outside this service`,
    );
    expect(cancelled.err).toBe('warning: not all of the share was asked of Stripe: the payment is in front of a person (`npm run ops -- attention list`)');
    // The standing booking's money stays at Stripe: never more back than what the cancelled share can have been.
    expect(fake.totalRefunded(t.pi)).toBe(outside + asked);
    expect(fake.totalRefunded(t.pi)).toBeLessThanOrEqual(t.paid - PRICE);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear' } });
    expect(await t.bookingStatus(first)).toBe('cancelled');
    expect(await t.bookingStatus(second)).toBe('confirmed');
    expect(await t.available()).toEqual([CAPACITY, CAPACITY - 1]);
    // Run again: nothing more is asked, and it says again what a person settles.
    expect(again.code).toBe(1);
    expect(again.out).toContain('cut short');
    expect(fake.totalRefunded(t.pi)).toBe(outside + asked);
  });

  it('says the share was cut short when run again after Stripe was down the first time, and until a person resolves it', async () => {
    const t = await refundedInTheDashboard(1_000);
    const [first] = t.references as [string, string];
    fake.failNext(1);
    const whileDown = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);

    const again = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);
    const cutToNothing = await refundedInTheDashboard(PRICE);
    const [other] = cutToNothing.references as [string, string];
    expect((await ops(['bookings', 'cancel', other, '--reason', 'guide ill'], cutToNothing.gateway)).code).toBe(1);
    const otherAgain = await ops(['bookings', 'cancel', other, '--reason', 'guide ill'], cutToNothing.gateway);
    await ops(['payments', 'resolve', t.pi, '--note', 'the 10.00 was a gesture on the other booking; refunded the rest by hand']);
    const afterResolve = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);

    expect(whileDown.err).toContain('STRIPE_UNAVAILABLE');
    expect(again.code).toBe(1);
    expect(again.out).toContain(`succeeded: ${eur(PRICE - 1_000)}`);
    // The first run, stopped by Stripe, never said it; the run again says the cut (its cause was the first run's to say).
    expect(again.out).toContain(`cut short: ${eur(1_000)} of its ${eur(PRICE)} may be owed or may be back already; the payment is in front of a person`);
    expect(again.err).toBe('warning: not all of the share was asked of Stripe: the payment is in front of a person (`npm run ops -- attention list`)');
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(otherAgain.code).toBe(1);
    expect(otherAgain.out).toContain(`none (cut short: ${eur(PRICE)} of its ${eur(PRICE)} may be owed`);
    expect(otherAgain.out).not.toContain('without a refund of its own');
    expect(afterResolve).toMatchObject({ code: 0, err: '' });
    expect(afterResolve.out).not.toContain('cut short');
    // The attention list names the booking whose share is unclear.
    expect((await ops(['attention', 'list'])).out.split('\n').find((line) => line.includes(cutToNothing.pi))).toContain(other);
  });

  it('looks up a share of ours whose answer was lost before sizing the next: Stripe’s total of it is no money back outside', async () => {
    const t = await bookedTrip([1, 1, 1]);
    const [a, b, c] = t.references as [string, string, string];
    await cancelledWithAnswerLost(fake, t, a);
    const [ours] = fake.refundsOf(t.pi);
    // Stripe's own total of that refund, and nothing refunded in the Dashboard.
    const total = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: ours?.created as number };
    expect((await t.webhook.send(signedRequest(total))).body.outcome).toBe('partial_refund_recorded');

    const second = await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], t.gateway);

    expect(second).toMatchObject({ code: 0, err: '' });
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([PRICE, PRICE]);
    expect(await t.record()).toMatchObject({ status: 'booked', refunds: [{ providerCreated: ours?.created }, {}] });
    expect((await t.record()).attention).toBeUndefined();
    expect(await t.bookingStatus(c)).toBe('confirmed');
  });

  it('looks the unanswered share up by its key a day later (Stripe forgot the key), once, with two cancellations at once', async () => {
    const t = await bookedTrip([1, 1, 1, 1]);
    const [a, b, c, d] = t.references as [string, string, string, string];
    await cancelledWithAnswerLost(fake, t, a);
    const [ours] = fake.refundsOf(t.pi);
    const total = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: ours?.created as number };
    expect((await t.webhook.send(signedRequest(total))).body.outcome).toBe('partial_refund_recorded');
    fake.advance(25 * HOUR);

    const [second, third] = await Promise.all([t.cancelLater(t.store, hoursLater(25), b), t.cancelLater(t.store, hoursLater(25), c)]);

    expect([second, third]).toMatchObject([
      { ok: true, refund: { status: 'succeeded', amount: PRICE } },
      { ok: true, refund: { status: 'succeeded', amount: PRICE } },
    ]);
    // A was found by its key, never asked again; B and C once each; D keeps its money.
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([PRICE, PRICE, PRICE]);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
    expect(await t.bookingStatus(d)).toBe('confirmed');
    // A still pending at Stripe (its answer was lost while pending), found by its key; B and C made, in either order.
    const refunds = new Map((await t.record()).refunds.map((entry) => [entry.refundKey, entry.status]));
    expect(Object.fromEntries(refunds)).toEqual({ [t.shareKey(a)]: 'pending', [t.shareKey(b)]: 'succeeded', [t.shareKey(c)]: 'succeeded' });
    expect(await t.record()).toMatchObject({ status: 'booked' });
    expect((await t.record()).attention).toBeUndefined();
  });

  it.each([
    { name: 'a key of another Stripe account', code: 2, err: /^error: ACCOUNT_MISMATCH: .*booking PL-\w+ was not cancelled and nothing was asked$/ },
    {
      name: 'a key Stripe refuses',
      code: 1,
      err: /^error: STRIPE_UNAVAILABLE: Stripe could not say whether .*was not cancelled and its share was not asked; fix STRIPE_API_KEY/,
    },
  ])('cancels nothing with $name while a share of ours is unanswered: a key’s mistake is no share before a person', async ({ code, err, name }) => {
    const t = await bookedTrip([1, 1, 1]);
    const [a, b] = t.references as [string, string, string];
    await cancelledWithAnswerLost(fake, t, a);
    const [ours] = fake.refundsOf(t.pi);
    const total = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: ours?.created as number };
    expect((await t.webhook.send(signedRequest(total))).body.outcome).toBe('partial_refund_recorded');
    const otherAccount = await startStripeFake();
    fake.refuseApiKey('sk_test_revoked', 401);
    try {
      const wrong =
        name === 'a key Stripe refuses'
          ? new StripePaymentGateway(async () => fake.client('sk_test_revoked'))
          : new StripePaymentGateway(async () => otherAccount.client());

      const withWrongKey = await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], wrong);
      const [untouched, record] = [await t.bookingStatus(b), await t.record()];
      const withRightKey = await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], t.gateway);

      expect(withWrongKey.code).toBe(code);
      expect(withWrongKey.err).toMatch(err);
      expect(untouched).toBe('confirmed');
      expect(record.attention).toBeUndefined();
      expect(withRightKey).toMatchObject({ code: 0, err: '' });
      expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([PRICE, PRICE]);
    } finally {
      await otherAccount.close();
    }
  });

  it('says a waived share, not a standing booking, made it look the unanswered share up when the last booking is cancelled with a refused key', async () => {
    const t = await bookedTrip([1, 1, 1]);
    const [a, b, c] = t.references as [string, string, string];
    expect((await ops(['bookings', 'cancel', c, '--reason', 'no-show', '--no-refund'], t.gateway)).code).toBe(0);
    await cancelledWithAnswerLost(fake, t, a);
    const [ours] = fake.refundsOf(t.pi);
    const total = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: ours?.created as number };
    expect((await t.webhook.send(signedRequest(total))).body.outcome).toBe('partial_refund_recorded');
    fake.refuseApiKey('sk_test_revoked', 401);

    const refused = await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], new StripePaymentGateway(async () => fake.client('sk_test_revoked')));

    expect(refused.code).toBe(1);
    expect(refused.err).toContain('a share of the payment waived');
    expect(refused.err).not.toContain('another booking of the payment standing');
    expect(await t.bookingStatus(b)).toBe('confirmed');
  });

  it('names each booking whose share was cut in attention list, says each again, and one resolve closes both', async () => {
    const t = await bookedTrip([1, 1, 1, 1]);
    const [a, b, c, d] = t.references as [string, string, string, string];
    const dashboard = async (amount: number, total: number) => {
      await fake.client().refunds.create({ payment_intent: t.pi, amount });
      expect((await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { refunded: total, tripId: t.trip.tripId })))).body.outcome).toBe(
        'partial_refund_recorded',
      );
    };
    await dashboard(PRICE, PRICE);
    const cutA = await ops(['bookings', 'cancel', a, '--reason', 'guide ill'], t.gateway);
    await dashboard(1_000, PRICE + 1_000);
    const cutB = await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], t.gateway);
    const listed = (await ops(['attention', 'list'])).out.split('\n').find((row) => row.includes(t.pi)) ?? '';
    const again = [
      await ops(['bookings', 'cancel', a, '--reason', 'guide ill'], t.gateway),
      await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], t.gateway),
    ];
    const resolved = await ops(['payments', 'resolve', t.pi, '--note', 'settled both by hand']);
    const afterResolve = [
      await ops(['bookings', 'cancel', a, '--reason', 'guide ill'], t.gateway),
      await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], t.gateway),
    ];

    expect([cutA.code, cutB.code, ...again.map((run) => run.code)]).toEqual([1, 1, 1, 1]);
    expect(listed).toContain(`${a}, ${b}`);
    expect(fake.totalRefunded(t.pi)).toBeLessThanOrEqual(t.paid - 2 * PRICE);
    expect([await t.bookingStatus(c), await t.bookingStatus(d)]).toEqual(['confirmed', 'confirmed']);
    expect(resolved.code).toBe(0);
    expect(afterResolve.map((run) => run.code)).toEqual([0, 0]);
  });

  it('looks a share of ours Stripe has not answered up first: made after the Dashboard’s total, that total is other money, and a standing booking keeps its money', async () => {
    const t = await bookedTrip([1, 1, 1]);
    const [a, b, c] = t.references as [string, string, string];
    // Support refunds 45.00 in the Dashboard (its charge.refunded on its way, the total taken now).
    const dashboard = await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    const total = { ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: dashboard.created };
    // A minute later A is cancelled while Stripe is down for a moment: its share stays requested, with no time of Stripe's.
    fake.advance(60_000);
    fake.failNext(1);
    expect((await ops(['bookings', 'cancel', a, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect((await t.record()).refunds).toMatchObject([{ status: 'requested', amount: PRICE }]);
    expect((await t.webhook.send(signedRequest(total))).body.outcome).toBe('partial_refund_recorded');

    // B is cancelled: the 45.00 total may be A's refund (made, its answer lost) or the Dashboard's. A is looked up by its
    // key first: never made, it is asked now, after the total, so the total was the Dashboard's; B is cut for C.
    const second = await ops(['bookings', 'cancel', b, '--reason', 'guide ill'], t.gateway);

    expect(second.code).toBe(1);
    expect(second.out).toContain(`cut short: ${eur(PRICE)} of its ${eur(PRICE)} may be owed`);
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([PRICE, PRICE]);
    expect((await t.record()).refunds).toMatchObject([{ status: 'succeeded', amount: PRICE }]);
    expect(fake.totalRefunded(t.pi)).toBeLessThanOrEqual(t.paid - PRICE);
    expect(await t.bookingStatus(c)).toBe('confirmed');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear' } });
  });

  it('keeps a share waived before as it keeps a standing booking’s: only what is surely left of the last booking’s is asked', async () => {
    const t = await refundedInTheDashboard(1_000);
    const [first, second] = t.references as [string, string];
    expect((await ops(['bookings', 'cancel', second, '--reason', 'no-show', '--no-refund'], t.gateway)).code).toBe(0);
    await ops(['payments', 'resolve', t.pi, '--note', 'nothing to settle'], t.gateway);

    const cancelled = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);

    // The waived share is kept: it may be what came back outside, so only what is surely left of this one is asked.
    expect(cancelled.code).toBe(1);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid - PRICE);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear' } });
  });
});

describe('payments resolve', () => {
  it('closes a payment that needs attention, with the note and the operator in its audit trail', async () => {
    const t = await refusedShare([1, 2]);

    const resolved = await ops(['payments', 'resolve', t.pi, '--note', 'refunded by bank transfer', '--actor', 'ana']);

    expect(resolved.code).toBe(0);
    expect(resolved.out).toMatch(new RegExp(`${t.pi}\\s+resolved\\s+refunded by bank transfer`));
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: 0 });
    const audit = await t.store.listAudit('payment', t.pi);
    expect(audit.at(-1)).toMatchObject({
      eventType: 'payment.resolved',
      actorType: 'operator',
      actorId: 'ana',
      metadata: { note: 'refunded by bank transfer', code: 'charge_disputed' },
    });
    expect((await ops(['attention', 'list'])).out).not.toContain(t.pi);
    expect(fake.refundsOf(t.pi)).toEqual([]);
  });

  it('refuses while a refund of it waits for Stripe, changing nothing, and resolves once Stripe has answered it', async () => {
    // One share refused for good (the payment needs a person), the other cancelled while Stripe answers 500.
    const t = await refusedShare([1, 2]);
    const other = t.references[1] as string;
    fake.failNext(1, 500);
    const cancelled = await ops(['bookings', 'cancel', other, '--reason', 'guide ill'], t.gateway);
    const before = await t.record();

    const early = await ops(['payments', 'resolve', t.pi, '--note', 'refunded by bank transfer']);
    const unchanged = await t.record();
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);
    const resolved = await ops(['payments', 'resolve', t.pi, '--note', 'the other share by bank transfer']);

    expect(cancelled.err).toContain('STRIPE_UNAVAILABLE');
    expect(before).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed' }, { status: 'requested' }] });
    expect(early.code).toBe(1);
    expect(early.err.split('\n')[0]).toContain(`REFUNDS_IN_FLIGHT: Payment ${t.pi} still has a refund Stripe has not answered (${t.shareKey(other)})`);
    expect(unchanged).toEqual(before);
    expect(retried.code).toBe(1); // still needs attention: the refused share
    expect(resolved.code).toBe(0);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.shares[1], refunds: [{ status: 'failed' }, { status: 'succeeded' }] });
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.shares[1], status: 'succeeded' }]);
  });

  it('closes its failed refunds with it: a later retry-refund never asks Stripe for a share settled by hand', async () => {
    const t = await refusedShare([1, 2]);
    const [first, second] = t.references as [string, string];
    const resolved = await ops(['payments', 'resolve', t.pi, '--note', `share of ${first} refunded by bank transfer`]);
    // Later the other booking is cancelled, Stripe refuses that refund too, and the operator asks again for it.
    fake.refuseNext('charge_disputed');
    await ops(['bookings', 'cancel', second, '--reason', 'traveller asked'], t.gateway);
    const reopened = await t.record();
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(resolved.code).toBe(0);
    expect(reopened).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', resolvedAt: expect.any(String) }, { status: 'failed' }] });
    expect(retried.out).not.toContain(t.shareKey(first));
    expect(fake.refundsOf(t.pi).map((refund) => refund.metadata.refund_key)).toEqual([`${t.shareKey(second)}-retry-3`]);
    expect(fake.totalRefunded(t.pi)).toBe(t.shares[1]);
    expect((await t.store.listAudit('payment', t.pi)).find((entry) => entry.eventType === 'payment.resolved')?.metadata).toMatchObject({
      refundsClosed: t.shareKey(first),
    });
  });

  it('is refused through attention resolve too, while a refund of the payment waits for Stripe', async () => {
    const t = await refusedShare([1, 2]);
    fake.failNext(1, 500);
    await ops(['bookings', 'cancel', t.references[1] as string, '--reason', 'guide ill'], t.gateway);
    const before = await t.record();

    const result = await ops(['attention', 'resolve', t.pi, '--note', 'bank transfer']);

    expect(result.code).toBe(1);
    expect(result.err.split('\n')).toEqual([expect.stringContaining(`error: REFUNDS_IN_FLIGHT: Payment ${t.pi} still has a refund`)]);
    expect(await t.record()).toEqual(before);
  });

  it('refuses when a refund of it is stored between its read and its write (a cancellation while Stripe is down)', async () => {
    const t = await refusedShare([1, 2]);
    const other = t.references[1] as string;
    // Resolve reads the record; before it writes, an operator's cancellation of the other booking stores its refund.
    const racing = Object.create(t.store) as typeof t.store;
    let cancelledMeanwhile = false;
    racing.getPaymentRecord = async (paymentId) => {
      const read = await t.store.getPaymentRecord(paymentId);
      if (!cancelledMeanwhile) {
        cancelledMeanwhile = true;
        fake.failNext(1, 500);
        await cancelBooking(
          { store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds },
          { reference: other, reason: 'guide ill', refund: true },
        ).catch(() => undefined);
      }
      return read;
    };

    const resolved = await resolvePayment({ store: racing, clock: systemClock, ids: randomIds }, t.pi, 'looked', 'ana');

    expect(resolved).toMatchObject({ ok: false, errorCode: 'REFUNDS_IN_FLIGHT' });
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed' }, { status: 'requested' }] });
    expect((await t.store.listAudit('payment', t.pi)).map((entry) => entry.eventType)).not.toContain('payment.resolved');
  });

  it('closes only what it read: a refund failing between its read and its write stays open, the payment in front of a person for it', async () => {
    // The first share's refund is taken (pending); the second's is refused for good, and the person settles that one by hand.
    const t = await bookedTrip([1, 1]);
    const [first, second] = t.references as [string, string];
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_refused' } });
    // The resolution has read the payment; before it writes, the first share's refund fails at the bank.
    const held = holdFirstCommit(t.store);
    const resolving = resolvePayment({ store: held.store, clock: systemClock, ids: randomIds }, t.pi, 'second share paid by bank transfer', 'ana');
    await held.reached;
    const [pending] = fake.refundsOf(t.pi);
    const failed = fake.setRefundStatus(pending?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');
    held.release();

    const resolved = await resolving;

    // The refused share the person saw is closed; the failure nobody saw is left open, in front of a person on its own.
    expect(resolved).toMatchObject({ ok: true, record: { status: 'needs_attention' } });
    const record = await t.record();
    expect(record).toMatchObject({
      status: 'needs_attention',
      attention: { reason: 'refund_failed', code: 'expired_or_canceled_card', previousStatus: 'resolved' },
    });
    expect(record.attention?.more).toBeUndefined();
    expect(record.refunds.map((entry) => [entry.refundKey, entry.status, entry.resolvedAt !== undefined])).toEqual([
      [t.shareKey(first), 'failed', false],
      [t.shareKey(second), 'failed', true],
    ]);
    // Its trail names as resolved only what was read: the failure that came since only as still needing a person.
    expect((await t.store.listAudit('payment', t.pi)).find((entry) => entry.eventType === 'payment.resolved')?.metadata).toMatchObject({
      reason: 'refund_refused',
      code: 'charge_disputed',
      alsoReasons: null,
      refundsClosed: t.shareKey(second),
      stillNeedsAttention: 'refund_failed',
    });
    expect((await ops(['attention', 'list'])).out).toContain(t.pi);
    // Asked again, only the share still owed goes back; the one settled by hand never does.
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);
    expect(retried.code).toBe(0);
    expect(fake.totalRefunded(t.pi)).toBe(t.shares[0]);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.shares[0] });
    expect(await t.tripStatus()).toBe('cancelled');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
    // Resolved, it has nothing to ask for again, and is not told to be resolved.
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toBe(
      `error: NOTHING_TO_RETRY: Payment ${t.pi} is resolved with no refund to ask for again.`,
    );
  });

  it('leaves open a reason of the same kind found again while it ran: another booking cancelled without a share of its own', async () => {
    const t = await bookedTrip([1, 1], { withoutItemPrices: true });
    const [first, second] = t.references as [string, string];
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    const read = await t.record();
    expect(read).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unknown' } });
    // The resolution has read the payment (the first booking's share, settled by hand); before it writes, a colleague
    // cancels the second booking with a refund: its share is unknown too.
    const held = holdFirstCommit(t.store);
    const resolving = resolvePayment({ store: held.store, clock: systemClock, ids: randomIds }, t.pi, 'first share paid by bank transfer', 'ana');
    await held.reached;
    expect(await t.cancelLater(t.store, systemClock, second)).toMatchObject({ ok: true, shareUnknown: true });
    held.release();

    const resolved = await resolving;

    expect(resolved).toMatchObject({ ok: true, record: { status: 'needs_attention' } });
    const left = await t.record();
    expect(left).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unknown', previousStatus: 'resolved' } });
    // Dated from when it was found again, not as the one the person closed; the trail names that one as closed.
    expect((left.attention?.since ?? '') > (read.attention?.since ?? '')).toBe(true);
    expect(left.attention?.again).toBeUndefined();
    expect((await t.store.listAudit('payment', t.pi)).find((entry) => entry.eventType === 'payment.resolved')?.metadata).toMatchObject({
      reason: 'share_unknown',
      stillNeedsAttention: 'share_unknown',
    });
    expect((await ops(['attention', 'list'])).out).toContain(t.pi);
    expect(fake.refundsOf(t.pi)).toEqual([]);
  });

  it('leaves open what came after a faster resolution of the same payment, when two people resolve it at once', async () => {
    const t = await bookedTrip([1, 1], { withoutItemPrices: true });
    const [first, second] = t.references as [string, string];
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    const deps = { clock: systemClock, ids: randomIds };
    const held = holdFirstCommit(t.store);
    const slower = resolvePayment({ ...deps, store: held.store }, t.pi, 'first share paid by bank transfer', 'ben');
    await held.reached;
    expect(await resolvePayment({ ...deps, store: t.store }, t.pi, 'first share paid by bank transfer', 'ana')).toMatchObject({
      ok: true,
      record: { status: 'resolved' },
    });
    // Resolved; then the second booking is cancelled with a refund, its share unknown: in front of a person again.
    expect(await t.cancelLater(t.store, systemClock, second)).toMatchObject({ ok: true, shareUnknown: true });
    held.release();

    const late = await slower;

    expect(late).toMatchObject({ ok: true, record: { status: 'needs_attention' } });
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unknown', previousStatus: 'resolved' } });
  });

  it('names a refund canceled while it ran (no failure reason from Stripe) after its own kind, which a retry settles', async () => {
    const t = await bookedTrip([1, 1], { withoutItemPrices: true });
    const [first] = t.references as [string, string];
    const canceledGesture = async (amount: number) => {
      fake.nextRefundStatus('requires_action');
      const gesture = await fake.client().refunds.create({ payment_intent: t.pi, amount });
      const canceled = fake.setRefundStatus(gesture.id, 'canceled');
      return () => t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(canceled))));
    };
    expect((await (await canceledGesture(1_000))()).body.outcome).toBe('needs_attention');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect(await t.record()).toMatchObject({ attention: { reason: 'refund_failed', code: 'canceled', more: [{ reason: 'share_unknown' }] } });
    const secondCanceled = await canceledGesture(500);
    const held = holdFirstCommit(t.store);
    const resolving = resolvePayment({ store: held.store, clock: systemClock, ids: randomIds }, t.pi, 'paid by bank transfer', 'ana');
    await held.reached;
    expect((await secondCanceled()).body.outcome).toBe('needs_attention');
    held.release();

    expect(await resolving).toMatchObject({ ok: true, record: { status: 'needs_attention' } });

    expect((await t.record()).attention).toEqual({ reason: 'refund_failed', code: 'canceled', since: expect.any(String), previousStatus: 'resolved' });
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
    expect(await t.record()).toMatchObject({ status: 'resolved' });
    expect(
      fake
        .refundsOf(t.pi)
        .filter((refund) => refund.status === 'succeeded')
        .map((refund) => refund.amount),
    ).toEqual([500]);
  });

  it('says on stderr, exit 1, when what came while it ran still needs a person', async () => {
    const t = await refusedShare([1, 2]);
    const record = { ...(await t.record()), status: 'needs_attention' as const };
    const err: string[] = [];

    const code = stillNeedsAttention({ err: (line) => err.push(line) }, record);

    expect(code).toBe(1);
    expect(err).toEqual([expect.stringMatching(new RegExp(`^warning: payment ${t.pi} still needs attention .*: refund_refused \\(charge_disputed\\);`))]);
    expect(stillNeedsAttention({ err: (line) => err.push(line) }, { ...record, status: 'resolved' })).toBe(0);
  });

  it.each([
    {
      name: 'a booked payment',
      needsAttention: false,
      argv: (pi: string) => ['payments', 'resolve', pi, '--note', 'looked'],
      code: 1,
      message: 'NOT_NEEDING_ATTENTION',
    },
    { name: 'no --note', needsAttention: true, argv: (pi: string) => ['payments', 'resolve', pi], code: 2, message: '--note' },
    {
      name: 'an unknown payment',
      needsAttention: false,
      argv: () => ['payments', 'resolve', paymentIntentId(), '--note', 'looked'],
      code: 1,
      message: 'PAYMENT_NOT_FOUND',
    },
  ])('refuses to resolve $name with exit $code and one line ($message), changing nothing', async ({ needsAttention, argv, code, message }) => {
    const t = needsAttention ? await refusedShare([1, 2]) : await bookedTrip([1, 2]);
    const before = await t.record();

    const result = await ops(argv(t.pi));

    expect(result.code).toBe(code);
    expect(result.err.split('\n')[0]).toContain(message);
    expect(await t.record()).toEqual(before);
  });
});

describe('payments show', () => {
  it('prints the record’s fields, its refunds and its audit trail, and all of it as JSON', async () => {
    const t = await bookedTrip([1, 2]);
    const reference = t.references[0] as string;
    const share = t.shares[0] as number;
    await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway);
    const refundId = fake.refundsOf(t.pi)[0]?.id as string;

    const shown = await ops(['payments', 'show', t.pi]);
    const json = await ops(['payments', 'show', t.pi, '--json']);

    expect(shown.code).toBe(0);
    const lines = shown.out.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^paymentId\\s+${t.pi}$`)),
        expect.stringMatching(/^status\s+booked$/),
        expect.stringMatching(new RegExp(`^tripId\\s+${t.trip.tripId}$`)),
        expect.stringMatching(/^setAside\s+false$/),
        expect.stringMatching(new RegExp(`^paid\\s+${eur(t.paid)}$`)),
        expect.stringMatching(new RegExp(`^refunded\\s+${eur(share)}$`)),
        expect.stringMatching(/^refundKey\s+status\s+amount\s+stripeRefundId\s+failureCode\s+requestedBy\s+bookings\s+updatedAt$/),
        expect.stringMatching(new RegExp(`^${t.shareKey(reference)}\\s+succeeded\\s+${eur(share)}\\s+${refundId}\\s+operator\\s+${reference}\\s`)),
        expect.stringMatching(/^occurredAt\s+eventType\s+actorType\s+actorId\s+metadata$/),
        expect.stringMatching(/\spayment\.refund_requested\s+operator\s/),
        expect.stringMatching(/\spayment\.refund_succeeded\s/),
      ]),
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({
      payment: {
        paymentId: t.pi,
        status: 'booked',
        amountPaid: t.paid,
        amountRefunded: share,
        refunds: [{ refundKey: t.shareKey(reference), status: 'succeeded' }],
      },
      audit: [{ eventType: 'payment.refund_requested' }, { eventType: 'payment.refund_succeeded' }],
    });
  });

  it('says of a resolved payment that what it was in front of a person for is closed', async () => {
    const t = await refusedShare([1, 2]);
    const open = await ops(['payments', 'show', t.pi]);
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'refunded by bank transfer'])).code).toBe(0);

    const closed = await ops(['payments', 'show', t.pi]);

    expect(open.out.split('\n')).toContainEqual(expect.stringMatching(/^attention\s+refund_refused \(charge_disputed\) since \S+$/));
    expect(closed.out.split('\n')).toContainEqual(expect.stringMatching(/^status\s+resolved$/));
    expect(closed.out.split('\n')).toContainEqual(expect.stringMatching(/^attention\s+refund_refused \(charge_disputed\) since \S+ \(closed: resolved\)$/));
  });

  it('says so of a payment with no refunds and nothing in its audit trail yet', async () => {
    const t = await bookedTrip([1]);

    const shown = await ops(['payments', 'show', t.pi]);

    expect(shown.code).toBe(0);
    expect(shown.out.split('\n')).toEqual(expect.arrayContaining(['No refunds.', 'No audit entries.']));
  });

  it('answers an unknown payment with exit 1 and one line PAYMENT_NOT_FOUND', async () => {
    const pi = paymentIntentId();

    const shown = await ops(['payments', 'show', pi]);

    expect(shown.code).toBe(1);
    expect(shown.out).toBe('');
    expect(shown.err.split('\n')).toHaveLength(1);
    expect(shown.err).toContain(`PAYMENT_NOT_FOUND: No payment ${pi} is recorded.`);
  });
});

describe('check', () => {
  it.each([
    {
      name: 'more refunded than was paid',
      problem: 'refunded 1500 of 1000 paid',
      async arrange() {
        const store = testStore();
        const at = new Date().toISOString();
        const record: PaymentRecord = {
          paymentId: paymentIntentId(),
          status: 'refunded',
          setAside: true,
          amountPaid: 1_000,
          amountRefunded: 1_500,
          currency: 'eur',
          refunds: [],
          version: 1,
          createdAt: at,
          updatedAt: at,
        };
        expect(await store.commit({ at, paymentRecord: { record } })).toEqual({ committed: true });
        return { store, record, repaired: { ...record, amountRefunded: 1_000 } };
      },
    },
    {
      name: 'a trip still booked by a payment refunded in full',
      problem: 'trip booked while its payment was refunded in full',
      async arrange() {
        const t = await bookedTrip([2]);
        const booked = await t.record();
        const record = nextVersion({ ...booked, status: 'refunded', amountRefunded: booked.amountPaid }, new Date().toISOString());
        expect(await t.store.commit({ at: record.updatedAt, paymentRecord: { record, expectedVersion: booked.version } })).toEqual({ committed: true });
        return { store: t.store, record, repaired: { ...booked } };
      },
    },
  ])('reports a payment whose refunds do not add up ($name) with exit 1, naming it', async ({ arrange, problem }) => {
    const { store, record, repaired } = await arrange();

    const text = await ops(['check']);
    const json = await ops(['check', '--json']);
    // Put the file's table back in order, so other runs of check are not disturbed.
    const fixed = nextVersion(repaired, new Date().toISOString());
    expect(
      await store.commit({ at: fixed.updatedAt, paymentRecord: { record: { ...fixed, version: record.version + 1 }, expectedVersion: record.version } }),
    ).toEqual({ committed: true });
    const after = await ops(['check', '--json']);

    expect(text.code).toBe(1);
    expect(text.out.split('\n').find((line) => line.startsWith(record.paymentId))).toContain(problem);
    expect(text.err).toMatch(/payment problems found/);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.out) as { paymentProblems: unknown[] }).paymentProblems).toContainEqual({
      paymentId: record.paymentId,
      ...(record.tripId !== undefined && { tripId: record.tripId }),
      problem,
    });
    expect((JSON.parse(after.out) as { paymentProblems: { paymentId: string }[] }).paymentProblems.filter((row) => row.paymentId === record.paymentId)).toEqual(
      [],
    );
  });
});

describe('ops attention, for events we cannot act on', () => {
  it('refuses an id that is neither a payment nor an event it holds, in one line naming both', async () => {
    const t = await bookedTrip([1]);
    const reference = t.references[0] as string;

    const result = await ops(['attention', 'resolve', reference, '--note', 'looked']);

    expect(result.code).toBe(1);
    expect(result.err.split('\n')).toEqual([
      `error: NOT_NEEDING_ATTENTION: No payment or unusable event ${reference} is recorded: give an id that \`attention list\` prints.`,
    ]);
  });

  it('lists an unusable event beside the payments, and resolves it once with a note in its audit trail', async () => {
    const webhook = webhookHarness(fake);
    const event = stripeEvent('checkout.session.completed', {
      id: 'cs_test_unusable',
      object: 'checkout.session',
      metadata: { pulau_trip_id: 'trip-x' },
      payment_status: 'requires_review',
      amount_total: 100,
      currency: 'eur',
    });
    expect((await webhook.send(signedRequest(event))).body).toMatchObject({ outcome: 'needs_attention', reason: 'unusable_event' });

    const listed = await ops(['attention', 'list']);
    const resolved = await ops(['attention', 'resolve', event.id, '--note', 'a test event from the dashboard', '--actor', 'ana']);
    const again = await ops(['attention', 'resolve', event.id, '--note', 'twice']);

    expect(listed.out).toMatch(new RegExp(`event\\s+${event.id}\\s+unusable checkout.session.completed`));
    expect(resolved.code).toBe(0);
    expect(again).toMatchObject({ code: 1, err: expect.stringContaining('NOT_NEEDING_ATTENTION') });
    expect((await ops(['attention', 'list'])).out).not.toContain(event.id);
    expect((await testStore().listAudit('event', event.id)).map((entry) => [entry.eventType, entry.actorId ?? null])).toEqual([
      ['stripe_event.unusable', null],
      ['stripe_event.resolved', 'ana'],
    ]);
  });
});

describe('payments list', () => {
  it('finds what the PaymentsSetAside and OverdueRefunds alarms are about: a payment set aside, one whose refund Stripe has not answered', async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const booked = await bookedTrip([1, 2]);
    // A paid session naming a trip this table never had: set aside and refunded.
    const strayPi = paymentIntentId();
    fake.registerPayment(strayPi, booked.paid);
    const stray = checkoutSession({ ...booked.trip, tripId: `trip-${paymentIntentId().slice(3)}` }, { paymentIntent: strayPi });
    expect(await booked.webhook.send(signedRequest(stripeEvent('checkout.session.completed', stray)))).toMatchObject({ body: { setAside: true } });
    // A share whose refund Stripe did not answer (down): stored, still requested.
    fake.failNext(1);
    expect((await ops(['bookings', 'cancel', booked.references[0] as string, '--reason', 'guide ill'], booked.gateway)).code).toBe(1);

    const setAside = await ops(['payments', 'list', '--set-aside', '--since', since]);
    const due = await ops(['payments', 'list', '--refund-due', '--since', since, '--json']);
    const refunded = await ops(['payments', 'list', '--status', 'refunded', '--since', since]);

    expect(setAside.code).toBe(0);
    expect(setAside.out.split('\n')[0]).toMatch(/^updatedAt\s+paymentId\s+status\s+tripId\s+setAside\s+reason\s+paid\s+refunded\s+dueSince$/);
    expect(setAside.out).toContain(strayPi);
    expect(setAside.out).not.toContain(booked.pi);
    // Other test files share the table (and may run at once): only these two payments are looked for.
    const dueIds = (JSON.parse(due.out) as PaymentRecord[]).map((record) => record.paymentId);
    expect(dueIds).toContain(booked.pi);
    expect(dueIds).not.toContain(strayPi);
    expect((await booked.record()).refunds).toMatchObject([{ status: 'requested' }]);
    expect(refunded.out).toContain(strayPi);
    expect(refunded.out).not.toContain(booked.pi);
  });

  it('refuses a status it does not know, naming the ones it does (exit 2), and says when nothing matches', async () => {
    const bogus = await ops(['payments', 'list', '--status', 'paid']);
    // A table of its own: the file's table holds payments its other tests wrote with clocks ahead.
    const empty = await storeOnOwnTable();
    const none = await ops(['payments', 'list', '--since', new Date().toISOString().slice(0, 10)], undefined, {}, empty.tableName);

    expect(bogus.code).toBe(2);
    expect(bogus.err).toMatch(/--status must be one of booked, .*, got "paid"/);
    expect(none).toMatchObject({ code: 0, out: 'No payment matches.' });
  });
});
