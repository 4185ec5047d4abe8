// `payments resume-refunds` against DynamoDB Local and the Stripe fake: every refund Stripe has not answered asked for now, each once, the sweep's turn left alone.
import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import type { Trip } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { DUE_LIST_LIMIT, resumeRequestedRefunds } from '../../lambdas/shared/domain/resume-refunds';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { STRIPE_CURSOR } from '../../lambdas/stripe-reconciler/reconciler';
import { checkoutSession, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { BOOKED_TRIP_PRICE, bookedTripAt, cancelledWithAnswerLost } from '../support/booked-trip';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { timeFromNow } from '../support/reconciler';
import { deps, seedSlot, testDocumentClient, testStore, testTableName, type TestStore } from '../support/store';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';

const HOUR = 3_600_000;

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

const eur = (amount: number): string => `${(amount / 100).toFixed(2)} EUR`;
const posts = (pi: string) => fake.calls.filter((call) => call.method === 'POST' && call.path === '/v1/refunds' && call.idempotencyKey?.includes(pi));

/** `real` with some of its methods replaced, the others its own (the tests' Object.create idiom). */
const overriding = (real: PaymentGateway, methods: Partial<PaymentGateway>): PaymentGateway => Object.assign(Object.create(real) as PaymentGateway, methods);

/** A booked trip of one booking whose cancellation met Stripe down: seats back, its refund stored as `requested`. */
async function cancelledWhileStripeDown() {
  const t = await bookedTripAt(fake, [2]);
  const reference = t.references[0] as string;
  fake.failNext(1, 500);
  const down = await ops(['bookings', 'cancel', reference, '--reason', 'guide ill'], t.gateway);
  expect(down).toMatchObject({ code: 1, err: expect.stringContaining('STRIPE_UNAVAILABLE') });
  expect(await t.record()).toMatchObject({ status: 'cancelled', refunds: [{ status: 'requested', amount: t.paid }] });
  return { ...t, reference };
}

/** Nothing left due, and finding so asks Stripe nothing. */
async function expectNothingAskedAgain(gateway: StripePaymentGateway): Promise<void> {
  const callsBefore = fake.calls.length;
  await expectNothingDue(gateway);
  expect(fake.calls.length).toBe(callsBefore);
}

/** Asks for what is due (with the right key), then checks nothing is left: the next test's fake is another account. */
async function expectNothingDueOnceResumed(gateway: StripePaymentGateway): Promise<void> {
  expect((await ops(['payments', 'resume-refunds'], gateway)).code).toBe(0);
  await expectNothingDue(gateway);
}

/** Nothing left due in the file's table: the next test's fake (another Stripe account) is asked only for its own. */
async function expectNothingDue(gateway: StripePaymentGateway): Promise<void> {
  expect(await ops(['payments', 'resume-refunds'], gateway)).toEqual({ code: 0, out: 'No payment has a refund Stripe has not answered.', err: '' });
}

describe('payments resume-refunds', () => {
  it('asks Stripe now for every refund it has not answered, however young, each once; the sweep’s place in the list is left as it was', async () => {
    const first = await cancelledWhileStripeDown();
    const second = await cancelledWhileStripeDown();
    // The sweep's last run stopped after the first: its next run begins at the second. The command begins at the oldest.
    const firstDue = (await first.record()).refunds[0]?.requestedAt as string;
    const place = { sweep: STRIPE_CURSOR, after: { paymentId: first.pi, requestedAt: firstDue }, updatedAt: '2026-01-01T00:00:00.000Z' };
    await first.store.keepRefundsDuePosition(place);

    const resumed = await ops(['payments', 'resume-refunds'], first.gateway);

    expect(resumed.code).toBe(0);
    expect(resumed.err).toBe('');
    const lines = resumed.out.split('\n');
    expect(lines[0]).toMatch(/^paymentId\s+result\s+status\s+refunded\s+dueSince\s+error$/);
    // Oldest first: the first cancellation's refund was stored first.
    expect(lines[2]).toMatch(new RegExp(`^${first.pi}\\s+answered\\s+refunded\\s+${eur(first.paid).replace('.', '\\.')}`));
    expect(lines[3]).toMatch(new RegExp(`^${second.pi}\\s+answered\\s+refunded`));
    expect(lines[4]).toBe('2 payments with refunds due: 2 answered, 0 answered before this run, 0 not made (in front of a person), 0 still due, 0 failed.');
    for (const t of [first, second]) {
      expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid, idempotencyKey: t.shareKey(t.reference), status: 'succeeded' }]);
      expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid, refunds: [{ status: 'succeeded' }] });
      expect(await t.tripStatus()).toBe('refunded');
    }
    expect(await first.store.getRefundsDuePosition(STRIPE_CURSOR)).toEqual(place);
  });

  it('run twice at once, then again 25 hours later when Stripe has forgotten the keys: each refund made once, nothing asked the day after', async () => {
    const t = await cancelledWhileStripeDown();

    const both = await Promise.all([ops(['payments', 'resume-refunds'], t.gateway), ops(['payments', 'resume-refunds'], t.gateway)]);

    expect(both.map((run) => run.code)).toEqual([0, 0]);
    // One asked and recorded; the other asked under the same key (Stripe answered the same refund) or found it answered.
    expect(both.map((run) => run.out).join('\n')).toMatch(new RegExp(`${t.pi}\\s+answered`));
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid, idempotencyKey: t.shareKey(t.reference) }]);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid, refunds: [{ status: 'succeeded' }] });

    fake.advance(25 * HOUR);
    await expectNothingAskedAgain(t.gateway);
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
  });

  it('records one refund when an operator’s retry commits between its read and its write', async () => {
    const t = await cancelledWhileStripeDown();
    const held = holdFirstCommit(t.store);
    // The command's use case, run as the command runs it, on a store whose first commit waits.
    const resuming = resumeRequestedRefunds(
      { store: held.store, gateway: t.gateway, clock: systemClock, ids: randomIds },
      { olderThanMs: 0, limit: DUE_LIST_LIMIT },
    );
    await held.reached;
    // It has asked Stripe and is about to record the answer: the operator's retry asks under the same key and records it first.
    const retried = await ops(['payments', 'retry-refund', t.pi], t.gateway);
    held.release();
    const resumed = await resuming;

    expect(retried.code).toBe(0);
    // Its own ask was answered with the refund the retry recorded (the same key): its answer, recorded once.
    expect(resumed.payments).toMatchObject([{ status: 'answered', record: { status: 'refunded' } }]);
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid, idempotencyKey: t.shareKey(t.reference) }]);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid, refunds: [{ status: 'succeeded' }] });
    expect((await t.store.listAudit('payment', t.pi)).map((entry) => entry.eventType)).toEqual(['payment.refund_requested', 'payment.refund_succeeded']);
    await expectNothingDue(t.gateway);
  });

  it('says which refunds are still due while Stripe is down (REFUNDS_DUE, exit 1) and asks again when run again', async () => {
    const t = await cancelledWhileStripeDown();
    fake.failNext(1, 500);

    const down = await ops(['payments', 'resume-refunds'], t.gateway);

    expect(down.code).toBe(1);
    expect(down.out.split('\n')[2]).toMatch(new RegExp(`^${t.pi}\\s+still_due\\s+\\S+Z\\s+`));
    expect(down.err.split('\n')).toEqual([
      `error: REFUNDS_DUE: the refunds of ${t.pi} are still due: the reconciliation sweep asks again every run; run the same command again to ask now`,
    ]);
    expect(fake.refundsOf(t.pi)).toEqual([]);
    expect(await t.record()).toMatchObject({ status: 'cancelled', refunds: [{ status: 'requested' }] });

    const again = await ops(['payments', 'resume-refunds'], t.gateway);

    expect(again.code).toBe(0);
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid }]);
    expect(posts(t.pi)).toHaveLength(3);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
  });

  it('puts a refund Stripe refuses for good in front of a person (warning, exit 1), and never asks for it again', async () => {
    const t = await cancelledWhileStripeDown();
    fake.refuseNext('charge_disputed');

    const refused = await ops(['payments', 'resume-refunds'], t.gateway);

    expect(refused.code).toBe(1);
    expect(refused.out.split('\n')[2]).toMatch(new RegExp(`^${t.pi}\\s+needs_attention\\s+needs_attention\\s+0\\.00 EUR`));
    expect(refused.err.split('\n')).toEqual([
      `warning: a refund of ${t.pi} was not made (refused for good, or priced in another currency than the charge): each needs a person (attention list)`,
    ]);
    expect(await t.record()).toMatchObject({
      status: 'needs_attention',
      attention: { code: 'charge_disputed' },
      refunds: [{ status: 'failed', failureCode: 'charge_disputed' }],
    });
    expect((await ops(['attention', 'list'])).out).toMatch(new RegExp(`${t.pi}.*charge_disputed`));

    await expectNothingAskedAgain(t.gateway);
    expect(fake.refundsOf(t.pi)).toEqual([]);
  });

  it('leaves a refund Stripe made and then failed (refund.failed) to a person: nothing asked again', async () => {
    const t = await cancelledWhileStripeDown();
    fake.nextRefundStatus('pending');
    expect((await ops(['payments', 'resume-refunds'], t.gateway)).code).toBe(0);
    const made = fake.refundsOf(t.pi)[0];
    expect(made).toMatchObject({ status: 'pending', amount: t.paid });

    const failed = fake.setRefundStatus(made?.id as string, 'failed', 'expired_or_canceled_card');
    const delivered = await t.webhook.send(signedRequest(stripeEvent('refund.failed', refundObject(failed))));

    expect(delivered.status).toBe(200);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', failureCode: 'expired_or_canceled_card' }] });
    await expectNothingAskedAgain(t.gateway);
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
  });

  it('stops at a key Stripe refuses (STRIPE_KEY_REJECTED), and with a working key the same command refunds', async () => {
    const t = await cancelledWhileStripeDown();
    fake.refuseApiKey('sk_test_fake');

    const rejected = await ops(['payments', 'resume-refunds'], t.gateway);

    expect(rejected.code).toBe(1);
    expect(rejected.err.split('\n')).toEqual([
      expect.stringMatching(/^error: STRIPE_KEY_REJECTED: .*set STRIPE_API_KEY to a working key of the account.*then run the same command again$/),
    ]);
    expect(await t.record()).toMatchObject({ status: 'cancelled', refunds: [{ status: 'requested' }] });

    const working = new StripePaymentGateway(async () => fake.client('sk_test_rolled'));
    const resumed = await ops(['payments', 'resume-refunds'], working);

    expect(resumed.code).toBe(0);
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid, idempotencyKey: t.shareKey(t.reference) }]);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
  });

  it('says STRIPE_KEY_REJECTED for a key that may read refunds but not make them: the refund stays requested', async () => {
    const t = await cancelledWhileStripeDown();
    fake.refuseApiKey('rk_test_read_only', 403);
    const readOnly = new StripePaymentGateway(async () => fake.client('rk_test_read_only'));
    // Reads through a key that may read; asks for refunds through the one that may not.
    const gateway = overriding(t.gateway, { refund: (request) => readOnly.refund(request) });

    const rejected = await ops(['payments', 'resume-refunds'], gateway);

    expect(rejected.code).toBe(1);
    expect(rejected.out.split('\n')[2]).toMatch(new RegExp(`^${t.pi}\\s+still_due\\s+`));
    expect(rejected.err.split('\n')).toEqual([expect.stringMatching(/^error: STRIPE_KEY_REJECTED: .*then run the same command again$/)]);
    expect(fake.refundsOf(t.pi)).toEqual([]);
    expect(await t.record()).toMatchObject({ status: 'cancelled', refunds: [{ status: 'requested' }] });
    expect((await ops(['payments', 'resume-refunds'], t.gateway)).code).toBe(0);
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
  });

  it('refuses a key of another Stripe account of the same mode (ACCOUNT_MISMATCH, exit 2): nothing asked or written, and the right key refunds', async () => {
    const first = await cancelledWhileStripeDown();
    const second = await cancelledWhileStripeDown();
    const otherAccount = await startStripeFake();
    const before = await Promise.all([first.record(), second.record()]);

    const wrong = await ops(['payments', 'resume-refunds'], new StripePaymentGateway(async () => otherAccount.client())).finally(() => otherAccount.close());

    expect(wrong.code).toBe(2);
    expect(wrong.err.split('\n')).toEqual([
      `error: ACCOUNT_MISMATCH: the Stripe account of STRIPE_API_KEY holds none of ${first.pi}, ${second.pi} (the oldest payments with a refund due): ` +
        "is it a key of this deployment's account? nothing was asked or written",
    ]);
    expect(otherAccount.calls.filter((call) => call.method === 'POST')).toEqual([]);
    expect(await Promise.all([first.record(), second.record()])).toEqual(before);

    expect((await ops(['payments', 'resume-refunds'], first.gateway)).code).toBe(0);
    expect(fake.refundsOf(first.pi)).toHaveLength(1);
    expect(fake.refundsOf(second.pi)).toHaveLength(1);
  });

  it('asks for a payment the account does not hold as before whatever its turn, once the account is found to hold the table’s', async () => {
    const own = { STRIPE_API_KEY: 'sk_test_fake', STRIPE_API_BASE: fake.url };
    const elsewhere = await startStripeFake();
    try {
      // Due first: a payment of another account (a record no account of this key holds), its refund stored while down.
      const stray = await bookedTripAt(elsewhere, [1]);
      elsewhere.failNext(3, 500);
      await ops(['bookings', 'cancel', stray.references[0] as string, '--reason', 'guide ill'], undefined, { ...own, STRIPE_API_BASE: elsewhere.url });
      const ours = await bookedTripAt(fake, [1]);
      fake.failNext(3, 500);
      await ops(['bookings', 'cancel', ours.references[0] as string, '--reason', 'guide ill'], undefined, own);

      const resumed = await ops(['payments', 'resume-refunds'], undefined, own);

      expect(resumed.err).not.toMatch(/ACCOUNT_MISMATCH/);
      expect(resumed.err).toContain(`warning: a refund of ${stray.pi} was not made`);
      expect(await ours.record()).toMatchObject({ status: 'refunded' });
      expect(await stray.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', failureCode: 'resource_missing' }] });
    } finally {
      await elsewhere.close();
    }
  });

  it('goes on past one payment the account does not hold, among payments it does: that one is put in front of a person', async () => {
    const t = await cancelledWhileStripeDown();
    const stranger = await bookedTripAt(fake, [1]);
    fake.failNext(1, 500);
    expect((await ops(['bookings', 'cancel', stranger.references[0] as string, '--reason', 'guide ill'], stranger.gateway)).code).toBe(1);
    // Its payment is one this account never held (a record of another deployment's, say): the fake forgets it.
    const other = await startStripeFake();
    const strangerGateway = new StripePaymentGateway(async () => other.client());
    const gateway: PaymentGateway = {
      refundable: (paymentId) => t.gateway.refundable(paymentId),
      holdsPayment: (paymentId) => (paymentId === stranger.pi ? strangerGateway : t.gateway).holdsPayment(paymentId),
      refundedSoFar: (paymentId) => t.gateway.refundedSoFar(paymentId),
      findRefund: (paymentId, refundKey) => (paymentId === stranger.pi ? strangerGateway : t.gateway).findRefund(paymentId, refundKey),
      refund: (request) => (request.paymentId === stranger.pi ? strangerGateway : t.gateway).refund(request),
    };

    const resumed = await ops(['payments', 'resume-refunds'], gateway).finally(() => other.close());

    expect(resumed.code).toBe(1);
    expect(resumed.out).toMatch(new RegExp(`${t.pi}\\s+answered\\s+refunded`));
    expect(resumed.out).toMatch(new RegExp(`${stranger.pi}\\s+needs_attention`));
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(await stranger.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', failureCode: 'resource_missing' }] });
  });

  it('asks for a refund stamped by a clock up to a minute ahead of its own', async () => {
    const t = await bookedTripAt(fake, [2]);
    fake.failNext(1, 500);
    await expect(
      cancelBooking(
        { store: t.store, gateway: t.gateway, clock: timeFromNow(30_000), ids: randomIds },
        { reference: t.references[0] as string, reason: 'guide ill', actorId: 'ana', refund: true },
      ),
    ).rejects.toThrow();

    const resumed = await ops(['payments', 'resume-refunds'], t.gateway);

    expect(resumed.code).toBe(0);
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.paid }]);
    expect(await t.record()).toMatchObject({ status: 'refunded' });
  });

  it('run twice at once while Stripe refuses for good: one refusal recorded, and neither run says the refund was made', async () => {
    const t = await cancelledWhileStripeDown();
    fake.refuseNext('charge_disputed');

    const both = await Promise.all([ops(['payments', 'resume-refunds'], t.gateway), ops(['payments', 'resume-refunds'], t.gateway)]);

    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', failureCode: 'charge_disputed' }] });
    // A run that asked (the second one to ask gets the refusal Stripe kept under the key) says so, exit 1; one that read
    // the payment once the other had recorded the refusal asked nothing, and says what it found: in front of a person by
    // then, exit 1 too. Which of the two the second run is depends on when it read.
    const rows = both.map((run) => run.out.split('\n')[2] ?? '');
    expect(rows.filter((row) => new RegExp(`^${t.pi}\\s+needs_attention\\s+needs_attention`).test(row))).not.toHaveLength(0);
    for (const [index, run] of both.entries()) {
      expect(run.code).toBe(1);
      if (new RegExp(`^${t.pi}\\s+answered_before\\s`).test(rows[index] ?? '')) {
        expect(rows[index]).toMatch(new RegExp(`^${t.pi}\\s+answered_before\\s+needs_attention`));
        expect(run.err).toContain(`warning: ${t.pi}, answered before this run, needs a person`);
      } else expect(run.err).toContain(`warning: a refund of ${t.pi} was not made`);
    }
    expect(fake.refundsOf(t.pi)).toEqual([]);
  });

  it('says the payment needs a person when refund.failed is recorded between its lookup and its write (exit 1)', async () => {
    const t = await bookedTripAt(fake, [2]);
    await cancelledWithAnswerLost(fake, t, t.references[0] as string);
    const made = fake.refundsOf(t.pi)[0];
    const gateway = overriding(t.gateway, {
      findRefund: async (paymentId, refundKey) => {
        const found = await t.gateway.findRefund(paymentId, refundKey);
        const failed = fake.setRefundStatus(made?.id as string, 'failed', 'expired_or_canceled_card');
        expect((await t.webhook.send(signedRequest(stripeEvent('refund.failed', refundObject(failed))))).status).toBe(200);
        return found;
      },
    });

    const resumed = await ops(['payments', 'resume-refunds'], gateway);

    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', failureCode: 'expired_or_canceled_card' }] });
    expect(resumed.code).toBe(1);
    expect(resumed.out.split('\n')[2]).toMatch(new RegExp(`^${t.pi}\\s+needs_attention`));
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
  });

  it('answers a payment already in front of a person for an earlier refund by the refund it asked for: made, not refused', async () => {
    const t = await bookedTripAt(fake, [2, 3]);
    fake.refuseNext('charge_disputed');
    await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway);
    fake.failNext(1, 500);
    await ops(['bookings', 'cancel', t.references[1] as string, '--reason', 'guide ill'], t.gateway);
    expect((await t.record()).refunds.map((entry) => entry.status)).toEqual(['failed', 'requested']);

    const resumed = await ops(['payments', 'resume-refunds'], t.gateway);

    expect(fake.refundsOf(t.pi)).toMatchObject([{ status: 'succeeded', amount: t.shares[1] }]);
    expect(resumed).toMatchObject({ code: 0, err: '' });
    expect(resumed.out.split('\n')[2]).toMatch(new RegExp(`^${t.pi}\\s+answered\\s+needs_attention`));
    expect(resumed.out).toContain('1 answered, 0 answered before this run, 0 not made');
  });

  it('needs a Stripe key: without one it says so (exit 2) and changes nothing', async () => {
    const t = await cancelledWhileStripeDown();

    const keyless = await ops(['payments', 'resume-refunds']);

    expect(keyless).toMatchObject({ code: 2, out: '' });
    expect(keyless.err).toMatch(/^error: USAGE: payments resume-refunds needs STRIPE_API_KEY/);
    expect(await t.record()).toMatchObject({ status: 'cancelled', refunds: [{ status: 'requested' }] });
    await ops(['payments', 'resume-refunds'], t.gateway);
    expect(await t.record()).toMatchObject({ status: 'refunded' });
  });

  it('asks for the oldest --limit payments, says more may be due (exit 1), and the next run asks for the rest', async () => {
    const trips = [await cancelledWhileStripeDown(), await cancelledWhileStripeDown(), await cancelledWhileStripeDown()];

    const some = await ops(['payments', 'resume-refunds', '--limit', '2'], trips[0]?.gateway);

    expect(some.code).toBe(1);
    expect(some.err.split('\n')).toEqual(['warning: 2 payments were asked for, and more may be due: run it again']);
    expect(trips.map((t) => fake.refundsOf(t.pi).length)).toEqual([1, 1, 0]);

    const rest = await ops(['payments', 'resume-refunds', '--limit', '2'], trips[0]?.gateway);

    expect(rest).toMatchObject({ code: 0, err: '' });
    expect(rest.out.split('\n')[2]).toMatch(new RegExp(`^${trips[2]?.pi}\\s+answered`));
    expect(trips.map((t) => fake.refundsOf(t.pi).length)).toEqual([1, 1, 1]);
  });

  it.each(['0', '1001', 'all', '-1'])('refuses --limit %s (exit 2) before asking anything', async (limit) => {
    const t = await cancelledWhileStripeDown();

    const refused = await ops(['payments', 'resume-refunds', `--limit=${limit}`], t.gateway);

    expect(refused).toMatchObject({ code: 2, out: '' });
    expect(refused.err).toMatch(/^error: USAGE: --limit must be/);
    expect(fake.calls.filter((call) => call.path.startsWith('/v1/refunds') && call.method === 'POST')).toHaveLength(1);
    expect(await t.record()).toMatchObject({ refunds: [{ status: 'requested' }] });
    await ops(['payments', 'resume-refunds'], t.gateway);
  });

  it('prints what it did as JSON with --json', async () => {
    const t = await cancelledWhileStripeDown();

    const resumed = await ops(['payments', 'resume-refunds', '--json'], t.gateway);

    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.out)).toEqual([{ paymentId: t.pi, result: 'answered', status: 'refunded', refunded: eur(t.paid) }]);
  });
});

/** A trip of two bookings at BOOKED_TRIP_PRICE, booked by create-booking with a payment the fake says was charged in yen. */
async function bookedChargedInYen(store: TestStore) {
  const a = await seedSlot(store, { capacity: 5, priceAmount: BOOKED_TRIP_PRICE });
  const b = await seedSlot(store, { capacity: 5, priceAmount: BOOKED_TRIP_PRICE });
  const trip = await createPendingTrip(store, [
    [a, 1],
    [b, 1],
  ]);
  const paymentId = paymentIntentId();
  fake.registerPayment(paymentId, trip.amount, 'jpy');
  const invoke = createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) });
  expect((await invoke({ paymentId, tripId: trip.tripId, userId: trip.userId, tripItems: trip.items.map((item) => ({ ...item })) })).success).toBe(true);
  return { trip: (await store.getTrip(trip.tripId)) as Trip, paymentId };
}

describe('payments resume-refunds, what it says of each payment', () => {
  it('says a share priced in another currency than the charge was not made (exit 1): never asked, in front of a person', async () => {
    const store = testStore();
    const { trip, paymentId } = await bookedChargedInYen(store);
    const gateway = new StripePaymentGateway(async () => fake.client());
    fake.failNext(1, 500);
    await expect(
      cancelBooking(
        { store, gateway, clock: systemClock, ids: randomIds },
        { reference: trip.bookingReferences[0] as string, reason: 'guide ill', refund: true },
      ),
    ).rejects.toThrow();
    // The session, delivered late, says the charge was in yen: the share stored in euros is no share of it.
    const session = {
      ...checkoutSession(trip, { paymentIntent: paymentId, amount: trip.amount }),
      amount_subtotal: trip.amount,
      currency: 'jpy',
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    };
    await webhookHarness(fake, { store }).send(signedRequest(stripeEvent('checkout.session.completed', session)));
    expect((await store.getPaymentRecord(paymentId))?.refunds).toMatchObject([{ status: 'requested', pricedIn: 'eur' }]);

    const resumed = await ops(['payments', 'resume-refunds'], gateway);

    expect(fake.refundsOf(paymentId)).toEqual([]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({
      status: 'needs_attention',
      amountRefunded: 0,
      refunds: [{ status: 'superseded', failureCode: 'share_in_another_currency' }],
    });
    expect(resumed.code).toBe(1);
    expect(resumed.out.split('\n')[2]).toMatch(new RegExp(`^${paymentId}\\s+needs_attention\\s+needs_attention`));
    expect(resumed.err).toContain(`warning: a refund of ${paymentId} was not made`);
  });

  it('says answered, exit 0, when a person retried and made the refund its own ask found refused', async () => {
    const t = await cancelledWhileStripeDown();
    let first = true;
    const gateway = overriding(t.gateway, {
      findRefund: async (paymentId, refundKey) => {
        if (first) {
          // Between the run's read and its ask: another operator's retry is refused, and their next retry is made.
          first = false;
          fake.refuseNext('charge_disputed');
          expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(1);
          expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
        }
        return t.gateway.findRefund(paymentId, refundKey);
      },
    });

    const resumed = await ops(['payments', 'resume-refunds'], gateway);

    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(resumed).toMatchObject({ code: 0, err: '' });
    expect(resumed.out.split('\n')[2]).toMatch(new RegExp(`^${t.pi}\\s+answered\\s+refunded`));
  });
  it('says a payment answered before it read it, and in front of a person by then, needs a person (exit 1)', async () => {
    const t = await cancelledWhileStripeDown();
    const client = testDocumentClient();
    const key = keys.paymentRecord(t.pi);
    const listed = (await client.send(new GetCommand({ TableName: testTableName(), Key: key }))).Item as Record<string, unknown>;
    // Another call asks first and records Stripe's refusal: the payment leaves the list of refunds due...
    fake.refuseNext('charge_disputed');
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed' }] });
    // ...which this run still reads it in, as an index a moment behind would hold it.
    await client.send(
      new UpdateCommand({
        TableName: testTableName(),
        Key: key,
        UpdateExpression: 'SET gsi2pk = :pk, gsi2sk = :sk',
        ExpressionAttributeValues: { ':pk': listed.gsi2pk, ':sk': listed.gsi2sk },
      }),
    );

    const resumed = await ops(['payments', 'resume-refunds'], t.gateway);

    expect(resumed.code).toBe(1);
    expect(resumed.out.split('\n')[2]).toMatch(new RegExp(`^${t.pi}\\s+answered_before\\s+needs_attention`));
    expect(resumed.err.split('\n')).toEqual([`warning: ${t.pi}, answered before this run, needs a person (attention list)`]);
    expect(fake.refundsOf(t.pi)).toEqual([]);
    await client.send(new UpdateCommand({ TableName: testTableName(), Key: key, UpdateExpression: 'REMOVE gsi2pk, gsi2sk' }));
  });
});

describe('payments retry-refund, Stripe unable to tell whose the payment is', () => {
  it('stops (STRIPE_UNAVAILABLE, exit 1) with nothing asked or written, so a key of another account cannot go on unchecked', async () => {
    const t = await cancelledWhileStripeDown();
    const otherAccount = await startStripeFake();
    const wrong = new StripePaymentGateway(async () => otherAccount.client());
    const gateway = overriding(wrong, {
      holdsPayment: async (paymentId) => {
        throw new PaymentGatewayUnavailableError(`Stripe did not list the refunds of ${paymentId} (invalid_request_error: rate_limit)`);
      },
    });

    const retried = await ops(['payments', 'retry-refund', t.pi], gateway).finally(() => otherAccount.close());

    expect(retried.code).toBe(1);
    expect(retried.err.split('\n')).toEqual([
      expect.stringMatching(/^error: STRIPE_UNAVAILABLE: .*; nothing was asked or written: run the same command again$/),
    ]);
    expect(await t.record()).toMatchObject({ status: 'cancelled', refunds: [{ status: 'requested' }] });
    expect(otherAccount.calls).toEqual([]);
    await expectNothingDueOnceResumed(t.gateway);
  });
});
