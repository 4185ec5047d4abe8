// A refund Stripe answered with a server error it keeps under the idempotency key (replayed to every retry for a day):
// asked again under a new key once Stripe holds no refund under its own, once, whoever asks, at once or a day later.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking, checkPayments, retryRefund } from '../../lambdas/shared/domain/payment-operations';
import { chargeRefunded, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { bookedTripAt } from '../support/booked-trip';
import { holdFirstCommit } from '../support/held-store';
import { paymentScenario } from '../support/payment-scenario';
import { minutesLater, resumeRefundsAt, testReconciler, timeFromNow } from '../support/reconciler';
import { overwriteSlot } from '../support/store';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** A paid trip whose first slot sold out meanwhile: its confirmation is refused and the whole payment is refunded. */
async function unbookablePaidTrip() {
  const s = await paymentScenario(fake);
  await overwriteSlot({ ...s.slots[0], availableCount: 0 });
  const key = `refund-${s.paymentIntent}`;
  /** The refund requests Stripe got for this payment: the key each was sent under, and Stripe's status code. */
  const asked = () =>
    fake.calls
      .filter((call) => call.method === 'POST' && call.path === '/v1/refunds' && call.idempotencyKey?.startsWith(key))
      .map((call) => [call.idempotencyKey, call.status]);
  return { ...s, key, asked };
}

describe('a refund whose key Stripe keeps a server error under', () => {
  it('is asked again under a new key by the next delivery, at once: refunded once, still found by its own key, the renewal audited', async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey();

    const first = await s.pay();
    const redelivered = await s.pay();

    expect(first.status).toBe(500);
    expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    // The first ask's 500, replayed to the redelivery under the same key, then the next key, which Stripe carries out.
    expect(s.asked()).toEqual([
      [s.key, 500],
      [s.key, 500],
      [`${s.key}~1`, 200],
    ]);
    expect(fake.refundsOf(s.paymentIntent)).toMatchObject([{ amount: s.trip.amount, metadata: { refund_key: s.key } }]);
    expect(await s.record()).toMatchObject({ status: 'refunded', refunds: [{ refundKey: s.key, keyRenewals: 1, status: 'succeeded' }] });
    expect(await s.tripStatus()).toBe('refunded');
    expect((await s.store.listAudit('payment', s.paymentIntent)).map((entry) => entry.eventType)).toContain('payment.refund_key_renewed');
  });

  it('delivered twice at once after the kept error: one renewal, one refund', async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey();
    expect((await s.pay()).status).toBe(500);

    const answers = await Promise.all([s.pay(), s.pay()]);

    expect(answers.some((answer) => answer.status === 200)).toBe(true);
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect((await s.record())?.refunds).toMatchObject([{ keyRenewals: 1, status: 'succeeded' }]);
    // Whichever answered 500 (Stripe still busy with the new key for the other), the next delivery is a duplicate.
    expect((await s.pay()).body.outcome).toBe('refunded');
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
  });

  it("the other delivery renews the key and refunds between this one's read and its write: this one renews nothing more and asks nothing", async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey();
    expect((await s.pay()).status).toBe(500);
    const held = holdFirstCommit(s.store);
    const late = webhookHarness(fake, { store: held.store });
    const event = signedRequest(stripeEvent('checkout.session.completed', s.session()));

    // This delivery got the kept error and is about to record the renewal; the other one does all of it first.
    const lateAnswer = late.send(event);
    await held.reached;
    expect(await s.pay()).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    held.release();

    expect((await lateAnswer).status).toBe(200);
    expect(s.asked()).toEqual([
      [s.key, 500],
      [s.key, 500],
      [s.key, 500],
      [`${s.key}~1`, 200],
    ]);
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect((await s.record())?.refunds).toMatchObject([{ keyRenewals: 1, status: 'succeeded' }]);
  });

  it('kept under the new key too: the delivery fails and the next one asks under a third key; a day later nothing is asked again', async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey(2);

    expect((await s.pay()).status).toBe(500);
    // The old key's error again, then the new key's own error (kept too): nothing more in this delivery.
    expect((await s.pay()).status).toBe(500);
    expect((await s.record())?.refunds).toMatchObject([{ keyRenewals: 1, status: 'requested' }]);
    expect(await s.pay()).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    // Stripe forgets the keys after 24 hours: the spent ones would now execute, but nothing asks under them.
    fake.advance(25 * 3_600_000);
    expect(await s.pay()).toMatchObject({ status: 200, body: { outcome: 'refunded' } });

    expect(s.asked()).toEqual([
      [s.key, 500],
      [s.key, 500],
      [`${s.key}~1`, 500],
      [`${s.key}~1`, 500],
      [`${s.key}~2`, 200],
    ]);
    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect((await s.record())?.refunds).toMatchObject([{ keyRenewals: 2, status: 'succeeded' }]);
  });

  it('left to the sweep (Stripe stopped redelivering): its refunds due ask under the new key', async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey();
    expect((await s.pay()).status).toBe(500);

    await resumeRefundsAt(fake, s.store, { clock: minutesLater(60) });

    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(1);
    expect(await s.record()).toMatchObject({ status: 'refunded', refunds: [{ keyRenewals: 1, status: 'succeeded' }] });
    expect(await s.tripStatus()).toBe('refunded');
  });

  it('refused for good under the new key: failed, in front of a person, nothing refunded', async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey();
    expect((await s.pay()).status).toBe(500);
    fake.refuseNext('charge_disputed', { message: 'This charge is disputed.' });

    expect((await s.pay()).body.outcome).toBe('needs_attention');

    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(0);
    expect(await s.record()).toMatchObject({ status: 'needs_attention', refunds: [{ keyRenewals: 1, status: 'failed', failureCode: 'charge_disputed' }] });
  });

  it('made under the renewed key, then failed (refund.failed): matched to its refund, in front of a person, retried once under a retry key', async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey();
    expect((await s.pay()).status).toBe(500);
    fake.nextRefundStatus('pending');
    expect((await s.pay()).status).toBe(200);
    const [made] = fake.refundsOf(s.paymentIntent);
    const failed = fake.setRefundStatus(made?.id as string, 'failed', 'expired_or_canceled_card');

    expect((await s.send('refund.failed', refundObject(failed))).body.outcome).toBe('needs_attention');
    expect(await s.record()).toMatchObject({ status: 'needs_attention', refunds: [{ refundKey: s.key, keyRenewals: 1, status: 'failed' }] });
    expect(await retryRefund(s.ops, s.paymentIntent, 'ana')).toMatchObject({ ok: true });

    expect(fake.refundsOf(s.paymentIntent)).toHaveLength(2);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect((await s.record())?.refunds.map((entry) => entry.status)).toEqual(['failed', 'succeeded']);
  });

  it('the whole charge refunded in the Dashboard before the next delivery: nothing is asked again', async () => {
    const s = await unbookablePaidTrip();
    fake.failNextKeptUnderKey();
    expect((await s.pay()).status).toBe(500);
    await fake.client().refunds.create({ payment_intent: s.paymentIntent, amount: s.trip.amount });
    await s.webhook.send(signedRequest(chargeRefunded(s.paymentIntent, s.trip.amount, { tripId: s.trip.tripId })));

    await s.pay();

    expect(s.asked()).toEqual([[s.key, 500]]);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect((await s.record())?.refunds).toMatchObject([{ status: 'superseded' }]);
  });

  it("an operator's cancellation with a refund, its first ask answered with an error another ask kept: renewed and refunded in the same command", async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.failNextKeptUnderKey();
    const key = `refund-${t.pi}-${t.references[0]}`;
    // Another ask under the share's key got there first (a cancellation retried from a second terminal): kept, its 500.
    const same = { payment_intent: t.pi, amount: t.shares[0] as number, metadata: { refund_key: key, tripId: t.trip.tripId } };
    await expect(fake.client().refunds.create(same, { idempotencyKey: key })).rejects.toMatchObject({ statusCode: 500, type: 'StripeAPIError' });

    const cancelled = await cancelBooking(
      { store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds },
      { reference: t.references[0] as string, reason: 'guide ill', actorId: 'ana', refund: true },
    );

    expect(cancelled).toMatchObject({ ok: true });
    expect(fake.refundsOf(t.pi)).toMatchObject([{ amount: t.shares[0], metadata: { refund_key: key } }]);
    expect((await t.store.getPaymentRecord(t.pi))?.refunds).toMatchObject([{ refundKey: key, keyRenewals: 1, status: 'succeeded' }]);
  });
});

describe("payments check, once a refund's key was renewed", () => {
  it('still reports a refund requested two hours ago and never answered, once the sweep renewed its key', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    const reference = t.references[0] as string;
    const key = t.shareKey(reference);
    // Cancelled two hours ago; Stripe kept a 500 under the share's key.
    fake.failNextKeptUnderKey();
    await expect(
      cancelBooking(
        { store: t.store, gateway: t.gateway, clock: timeFromNow(-2 * 3_600_000), ids: randomIds },
        { reference, reason: 'guide ill', actorId: 'ana', refund: true },
      ),
    ).rejects.toThrow(PaymentGatewayUnavailableError);
    const unanswered = async () =>
      (await checkPayments(t.store)).problems.filter((problem) => problem.paymentId === t.pi && problem.problem.includes('still unanswered'));
    expect(await unanswered()).toHaveLength(1);

    // The sweep now: the old key's 500 again (renewed), and the new key's own 500 (kept too): still requested.
    fake.failNextKeptUnderKey();
    await resumeRefundsAt(fake, t.store, { clock: minutesLater(0) });
    expect((await t.record()).refunds).toMatchObject([{ refundKey: key, status: 'requested', keyRenewals: 1 }]);
    expect(fake.refundsOf(t.pi)).toHaveLength(0);

    // Two hours unanswered, no money back: the check must still say so.
    expect(await unanswered()).toHaveLength(1);
  });
});

/** Two shares due: the first with a 500 kept under its key, then under its next one; the second refused for good. */
async function twoSharesDue() {
  const t = await bookedTripAt(fake, [1, 1, 1]);
  const cancel = (reference: string) =>
    cancelBooking({ store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, { reference, reason: 'guide ill', actorId: 'ana', refund: true });
  // The first share: Stripe kept a 500 under its key. The second: Stripe down (nothing kept).
  fake.failNextKeptUnderKey();
  await expect(cancel(t.references[0] as string)).rejects.toThrow(PaymentGatewayUnavailableError);
  fake.failNext(1, 500);
  await expect(cancel(t.references[1] as string)).rejects.toThrow(PaymentGatewayUnavailableError);
  expect((await t.record()).refunds.map((entry) => entry.status)).toEqual(['requested', 'requested']);
  // The sweep's round one: the first share's key is spent (renewed), the second is refused for good. Its round two: the
  // first share's new key meets a 500 of its own.
  fake.refuseNext('charge_disputed', { message: 'This charge is disputed.' });
  fake.failNextKeptUnderKey();
  return t;
}

describe('a second round that fails after the first one settled other refunds', () => {
  it('the sweep run that put the payment in front of a person counts PaymentsNeedingAttention', async () => {
    const t = await twoSharesDue();
    const sweep = testReconciler(fake, t.store, { clock: minutesLater(10) });

    await sweep.run();

    // Recorded by this run: the second share refused, the payment in front of a person, the first share renewed.
    expect(await t.record()).toMatchObject({
      status: 'needs_attention',
      refunds: [
        { status: 'requested', keyRenewals: 1 },
        { status: 'failed', failureCode: 'charge_disputed' },
      ],
    });
    expect(sweep.metric('PaymentsNeedingAttention')).toBe(1);
  });

  it('the sweep reports what it recorded, not "Stripe could not answer"', async () => {
    const t = await twoSharesDue();

    const resumed = await resumeRefundsAt(fake, t.store, { clock: minutesLater(10) });

    expect((await t.record()).status).toBe('needs_attention');
    expect(resumed.payments).toMatchObject([{ status: 'answered', record: { status: 'needs_attention' } }]);
  });
});

/**
 * Two shares whose keys Stripe kept a 500 under, each renewed once by its cancellation; another ask has spent the second
 * share's next key too. The sweep's round one renews the first share's key; its round two settles that share and meets
 * the second share's spent key again.
 */
async function twoSharesKept(secondRound: 'refused' | 'made') {
  const t = await bookedTripAt(fake, [1, 1, 1]);
  const cancel = (reference: string) =>
    cancelBooking({ store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, { reference, reason: 'guide ill', actorId: 'ana', refund: true });
  for (const reference of t.references.slice(0, 2) as string[]) {
    fake.failNextKeptUnderKey();
    await expect(cancel(reference)).rejects.toThrow(PaymentGatewayUnavailableError);
  }
  const secondKey = t.shareKey(t.references[1] as string);
  fake.failNextKeptUnderKey();
  await expect(
    fake
      .client()
      .refunds.create(
        { payment_intent: t.pi, amount: t.shares[1] as number, metadata: { refund_key: secondKey, tripId: t.trip.tripId } },
        { idempotencyKey: `${secondKey}~1` },
      ),
  ).rejects.toMatchObject({ statusCode: 500 });
  if (secondRound === 'refused') fake.refuseNext('charge_disputed', { message: 'This charge is disputed.' });
  return t;
}

describe('a second round that settles a refund and meets a kept error again', () => {
  it('the sweep run that put the payment in front of a person counts PaymentsNeedingAttention', async () => {
    const t = await twoSharesKept('refused');
    const sweep = testReconciler(fake, t.store, { clock: minutesLater(10) });

    await sweep.run();

    expect(await t.record()).toMatchObject({
      status: 'needs_attention',
      refunds: [
        { status: 'failed', keyRenewals: 1 },
        { status: 'requested', keyRenewals: 2 },
      ],
    });
    expect(sweep.metric('PaymentsNeedingAttention')).toBe(1);
  });

  it('the sweep reports the refund it made as answered, not "Stripe could not answer"', async () => {
    const t = await twoSharesKept('made');

    const resumed = await resumeRefundsAt(fake, t.store, { clock: minutesLater(10) });

    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect((await t.record()).refunds).toMatchObject([
      { status: 'succeeded', keyRenewals: 1 },
      { status: 'requested', keyRenewals: 2 },
    ]);
    expect(resumed.payments).toMatchObject([{ status: 'answered' }]);
  });
});
