// A late charge.refunded whose full total may count a refund that failed since (taken before the failure's second, or
// before a failure learned by looking the refund up): nothing is released or settled by it, and a person is told, over
// DynamoDB Local and the Stripe fake.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Clock, randomIds } from '../../lambdas/shared/domain/collaborators';
import { retryRefund } from '../../lambdas/shared/domain/payment-operations';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { chargeRefunded, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { BOOKED_TRIP_PRICE, bookedTripAt, cancelledWithAnswerLost } from '../support/booked-trip';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';

const PRICE = BOOKED_TRIP_PRICE;

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

const now = (): number => Math.floor(Date.now() / 1000);

/** An event as Stripe created it `seconds` from now (negative: earlier), for deliveries out of order. */
function createdAt<E extends { created: number }>(event: E, seconds: number): E {
  return { ...event, created: now() + seconds };
}

/** A clock `seconds` ahead of this machine's (behind when negative): an operator's laptop. */
const skewed = (seconds: number): Clock => ({ now: () => new Date(Date.now() + seconds * 1000) });

/**
 * Two bookings of 45.00; the first is cancelled with a refund Stripe takes (pending) but whose answer is lost (the share
 * stays `requested`); then it fails at the bank. With `gestureFirst`, support had paid 45.00 back in the Dashboard before
 * the failure, so Stripe's total was the whole charge: `fullTotal`, a snapshot not delivered yet.
 */
async function lostShareThatFailed({ gestureFirst = false } = {}) {
  const t = await bookedTripAt(fake, [1, 1]);
  const [first, second] = t.references as [string, string];
  await cancelledWithAnswerLost(fake, t, first);
  expect((await t.record()).refunds.map((entry) => entry.status)).toEqual(['requested']);
  if (gestureFirst) await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
  const fullTotal = createdAt(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), -30);
  const [ours] = fake.refundsOf(t.pi);
  fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
  return { t, second, fullTotal };
}

/**
 * A full refund made in the Dashboard fails at second S; an operator asks again at once, and Stripe takes the whole charge
 * back within S: its total of S (`answer`, delivered) may count either refund, so the payment is in front of a person.
 */
async function retriedThenTotalOfTheFailuresSecond() {
  const t = await bookedTripAt(fake, [1, 2]);
  fake.nextRefundStatus('pending');
  const made = await fake.client().refunds.create({ payment_intent: t.pi });
  const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
  const S = now();
  await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(failed)), created: S }));
  expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
  expect((await t.record()).status).not.toBe('needs_attention');
  const answer = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: S }));
  return { t, S, answer };
}

async function listed(paymentId: string): Promise<boolean> {
  return (await ops(['attention', 'list'])).out.includes(paymentId);
}

describe('a full refund made in the Dashboard that failed, its charge.refunded delivered after the failure', () => {
  it('keeps the bookings and the seats: the failure is newer than the total, and the person already looking decides', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi });
    // Stripe's total of the refund's creation counts it; the refund fails 30 s later, and its event comes first.
    const snapshot = { ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: made.created };
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(failed)), created: made.created + 30 }))).body.outcome).toBe(
      'needs_attention',
    );

    const late = await t.webhook.send(signedRequest(snapshot));
    const again = await t.webhook.send(signedRequest(snapshot));

    expect(late.status).toBe(200);
    expect(late.body.outcome).toBe('refund_recorded');
    expect(again.body.outcome).toBe('duplicate');
    for (const reference of t.references) expect(await t.bookingStatus(reference)).toBe('confirmed');
    expect(await t.available()).toEqual([4, 3]);
    expect(await t.tripStatus()).toBe('booked');
    // The older total is not believed over the failure: nothing counts as back.
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' }, amountRefunded: 0 });
    expect(fake.totalRefunded(t.pi)).toBe(0);
    expect(await listed(t.pi)).toBe(true);
  });

  it('still releases on a full refund made after the failure: its total is newer', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi });
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
    await t.webhook.send(signedRequest(createdAt(stripeEvent('refund.updated', refundObject(failed)), -30)));
    await t.webhook.send(signedRequest(createdAt(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), -60)));

    await fake.client().refunds.create({ payment_intent: t.pi });
    const again = await t.webhook.send(signedRequest(createdAt(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), 0)));

    expect(again.body.outcome).toBe('released');
    for (const reference of t.references) expect(await t.bookingStatus(reference)).toBe('cancelled');
    expect(await t.available()).toEqual([5, 5]);
    expect(await t.tripStatus()).toBe('refunded');
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
  });

  it('tells a person when the retry has already cleared the payment and the total is of the failure’s own second', async () => {
    const { t, S, answer } = await retriedThenTotalOfTheFailuresSecond();

    // Whether that total counts the failed refund or the retry cannot be told: nothing moves, and a person looks.
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(answer.body.outcome).toBe('needs_attention');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'full_refund_stale' } });
    for (const reference of t.references) expect(await t.bookingStatus(reference)).toBe('confirmed');
    expect(await t.available()).toEqual([4, 3]);
    expect(await listed(t.pi)).toBe(true);
    // Redelivered, it finds the person looking and moves nothing: the older total is not believed.
    const redelivered = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: S }));
    expect(redelivered.body.outcome).toBe('refund_recorded');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'full_refund_stale' } });
    expect(await t.available()).toEqual([4, 3]);
    expect((await t.store.listAudit('payment', t.pi)).filter((entry) => entry.metadata.reason === 'full_refund_stale')).toHaveLength(1);

    // The person finds all of it back in the Dashboard: the bookings are cancelled without a refund, then the payment resolved.
    for (const reference of t.references)
      expect((await ops(['bookings', 'cancel', reference, '--reason', 'refunded in full', '--no-refund'], t.gateway)).code).toBe(0);
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'all of it back at Stripe'])).code).toBe(0);
    expect(await t.available()).toEqual([5, 5]);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await listed(t.pi)).toBe(false);
  });
});

describe('a payment of a stale full total resolved first, its bookings still confirmed cancelled after', () => {
  it.each([{ flags: ['--no-refund'] }, { flags: [] as string[] }])(
    'ends with its trip refunded, as cancelling first does: all of the money is back ($flags)',
    async ({ flags }) => {
      const { t } = await retriedThenTotalOfTheFailuresSecond();
      expect(await t.record()).toMatchObject({ status: 'needs_attention', amountRefunded: t.paid, attention: { reason: 'full_refund_stale' } });

      expect((await ops(['payments', 'resolve', t.pi, '--note', 'all of it back at Stripe'])).code).toBe(0);
      for (const reference of t.references)
        expect((await ops(['bookings', 'cancel', reference, '--reason', 'refunded in full', ...flags], t.gateway)).code).toBe(0);

      // Nothing was left to refund: the cancellations asked Stripe for nothing more.
      expect(fake.totalRefunded(t.pi)).toBe(t.paid);
      expect(fake.refundsOf(t.pi).filter((refund) => refund.status !== 'failed')).toHaveLength(1);
      expect(await t.available()).toEqual([5, 5]);
      expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.paid });
      expect(await t.tripStatus()).toBe('refunded');
      expect(await listed(t.pi)).toBe(false);
    },
  );

  it('ends with its trip cancelled when the money was settled another way (not all of it back at Stripe)', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.refuseNext('charge_disputed');
    const [first, second] = t.references as [string, string];
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_refused' } });
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'paid back by bank transfer'])).code).toBe(0);

    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill', '--no-refund'], t.gateway)).code).toBe(0);

    expect(fake.totalRefunded(t.pi)).toBe(0);
    expect(await t.tripStatus()).toBe('cancelled');
  });
});

describe('a cancelled payment resolved by a person while its retried refund was still pending', () => {
  /** Its only booking cancelled, the refund failed at S and asked again at once, a stale total of S, resolved while pending. */
  /** Its only booking cancelled, our refund taken (pending) and then failed at the second it answers, reported by Stripe. */
  async function cancelledAndFailed() {
    const t = await bookedTripAt(fake, [2]);
    const [only] = t.references as [string];
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', only, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const [ours] = fake.refundsOf(t.pi);
    const failedAt = now();
    await t.webhook.send(
      signedRequest({ ...stripeEvent('refund.updated', refundObject(fake.setRefundStatus(ours?.id as string, 'failed'))), created: failedAt }),
    );
    return { t, failedAt };
  }

  async function resolvedWhileRetryPending() {
    const { t, failedAt: S } = await cancelledAndFailed();
    fake.nextRefundStatus('pending');
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
    expect((await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: S }))).body.outcome).toBe(
      'needs_attention',
    );
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'the retry is on its way'])).code).toBe(0);
    expect(await t.tripStatus()).toBe('cancelled');
    return { t, S };
  }

  it('records Stripe’s later full total and moves its trip to refunded, when that total comes before the refund’s own event', async () => {
    const { t, S } = await resolvedWhileRetryPending();
    const retry = fake.refundsOf(t.pi)[1];
    fake.setRefundStatus(retry?.id as string, 'succeeded');

    const total = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: S + 60 }));
    const again = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: S + 60 }));

    expect(total.body.outcome).toBe('refund_recorded');
    expect(again.body.outcome).toBe('duplicate');
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expect(await t.available()).toEqual([5]);
    const tripTrail = await t.store.listAudit('trip', t.trip.tripId);
    expect(tripTrail.filter((entry) => entry.eventType === 'trip.refunded')).toHaveLength(1);
  });

  it('names no refund that failed as the one that brought the money back, when only Stripe’s total shows it back', async () => {
    const { t, failedAt: F } = await cancelledAndFailed();
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'paid back by bank transfer'])).code).toBe(0);
    // The whole charge is then refunded in the Dashboard; Stripe's total arrives before that refund's own event.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: t.paid });

    const total = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: F + 60 }));

    expect(total.body.outcome).toBe('refund_recorded');
    expect(await t.tripStatus()).toBe('refunded');
    expect((await t.store.getTrip(t.trip.tripId))?.refundId).toBeUndefined();
    const trail = (await t.store.listAudit('trip', t.trip.tripId)).filter((entry) => entry.eventType === 'trip.refunded');
    expect(trail.map((entry) => entry.metadata.refundId)).toEqual([null]);
  });

  it('moves its trip to refunded when Stripe then reports the refund succeeded: all of the money is back', async () => {
    const { t, S } = await resolvedWhileRetryPending();

    const retry = fake.refundsOf(t.pi)[1];
    const succeeded = fake.setRefundStatus(retry?.id as string, 'succeeded');
    await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(succeeded)), created: S + 60 }));

    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expect((await t.store.getTrip(t.trip.tripId))?.refundId).toBe(retry?.id);
    const tripTrail = await t.store.listAudit('trip', t.trip.tripId);
    expect(tripTrail.filter((entry) => entry.eventType === 'trip.refunded')).toEqual([
      expect.objectContaining({ actorType: 'stripe', metadata: expect.objectContaining({ paymentId: t.pi, refundId: retry?.id }) }),
    ]);
  });
});

describe('our refund of a cancelled booking that failed, its charge.refunded delivered after the failure', () => {
  it('does not settle the payment or the trip as refunded: the money went back to the merchant', async () => {
    const t = await bookedTripAt(fake, [2]);
    const [only] = t.references as [string];
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', only, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const before = await t.record();
    const [ours] = fake.refundsOf(t.pi);
    // Stripe's total of the refund's creation counts it; the refund fails 30 s later, and its event comes first.
    const snapshot = { ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: ours?.created as number };
    const failed = fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
    const failure = { ...stripeEvent('refund.failed', refundObject(failed)), created: (ours?.created as number) + 30 };
    expect((await t.webhook.send(signedRequest(failure))).body.outcome).toBe('needs_attention');

    const late = await t.webhook.send(signedRequest(snapshot));

    expect(before.status).toBe('cancelled');
    expect(late.body.outcome).toBe('refund_recorded');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' }, amountRefunded: 0 });
    expect(await t.tripStatus()).toBe('cancelled');
    expect(await t.bookingStatus(only)).toBe('cancelled');
    expect(fake.totalRefunded(t.pi)).toBe(0);
  });
});

describe('a refund failure learned by looking the refund up (no time of Stripe’s), then a late full total', () => {
  it('keeps the booking still confirmed and its seat: the total may count the failed share', async () => {
    const { t, second, fullTotal } = await lostShareThatFailed({ gestureFirst: true });
    // The operator's retry looks the requested share up and finds it failed.
    await ops(['payments', 'retry-refund', t.pi], t.gateway);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' } });

    const late = await t.webhook.send(signedRequest(fullTotal));

    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(late.body.outcome).toBe('refund_recorded');
    expect(await t.bookingStatus(second)).toBe('confirmed');
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.available()).toEqual([5, 4]);
    expect(await t.record()).toMatchObject({ status: 'needs_attention' });
    // What that total counts cannot be told apart from money paid back in the Dashboard: the retry sends a person there.
    expect(await ops(['payments', 'retry-refund', t.pi], t.gateway)).toMatchObject({ code: 1, err: expect.stringContaining('REFUND_UNCLEAR') });
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
  });

  it('does not cut the last booking’s share short in silence once the payment is resolved: a person is told, the trip stays cancelled', async () => {
    const { t, second, fullTotal } = await lostShareThatFailed({ gestureFirst: true });
    await ops(['payments', 'retry-refund', t.pi], t.gateway);
    // The total was taken once the share's refund existed (the second Stripe created it), before its failure was learned.
    const share = (await t.record()).refunds[0];
    expect(share).toMatchObject({ status: 'failed', providerCreated: expect.any(Number), failedNoLaterThan: expect.any(Number) });
    await t.webhook.send(signedRequest({ ...fullTotal, created: share?.providerCreated as number }));
    expect(await ops(['payments', 'retry-refund', t.pi], t.gateway)).toMatchObject({ code: 1, err: expect.stringContaining('REFUND_UNCLEAR') });
    // The person finds 45.00 back in the Dashboard, the gesture that stood for the first share, and resolves.
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'the Dashboard refund was the first share'])).code).toBe(0);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.paid });

    // The second traveller cancels: the total held says all of it is back, which may be the failed share.
    const cancelled = await ops(['bookings', 'cancel', second, '--reason', 'traveller asked'], t.gateway);

    expect(cancelled.code).toBe(1);
    expect(cancelled.out).toContain(`none (cut short: 45.00 EUR of its 45.00 EUR may be owed or may be back already`);
    expect(await t.bookingStatus(second)).toBe('cancelled');
    expect(await t.available()).toEqual([5, 5]);
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear', previousStatus: 'resolved' } });
    expect(await t.tripStatus()).toBe('cancelled');
    expect(await listed(t.pi)).toBe(true);

    // The person refunds the second share in the Dashboard, Stripe reports it, and the payment is resolved: all of it back.
    const byHand = await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(fake.refundsOf(t.pi).find((refund) => refund.id === byHand.id) as never))));
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'second share refunded in the Dashboard'])).code).toBe(0);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.tripStatus()).toBe('refunded');
  });

  it('leaves a share to a person while a Dashboard refund larger than it may be a standing booking’s, and cuts the last share short in silence', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    const [first, second] = t.references as [string, string];
    // Support refunds 50.00 in the Dashboard; Stripe's total (50.00) arrives, taken now.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: 5_000 });
    await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: 5_000, tripId: t.trip.tripId }), created: now() }));
    // A minute later the first booking is cancelled: the 40.00 Stripe holds may all pay for the second, still standing.
    fake.advance(60_000);
    const firstCancel = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);
    expect(firstCancel.code).toBe(1);
    expect(firstCancel.out).toContain('cut short: 45.00 EUR of its 45.00 EUR may be owed or may be back already, money came back outside this service');
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'share_unclear' } });
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'the 50.00 was the first booking’s and a gesture'])).code).toBe(0);

    const secondCancel = await ops(['bookings', 'cancel', second, '--reason', 'traveller asked'], t.gateway);

    // The last booking: what Stripe still holds is owed, cut short by the Dashboard refund, in a total no refund of ours
    // can be counted in: nothing is in doubt.
    expect(secondCancel.code).toBe(0);
    expect(secondCancel.out).not.toContain('cut short');
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'resolved' });
  });

  it('takes the failed share off a total it was left in once Stripe’s own event says when it failed: the last share is asked in full', async () => {
    const { t, second } = await lostShareThatFailed({ gestureFirst: true });
    const [ours] = fake.refundsOf(t.pi);
    const created = ours?.created as number;
    // A minute later the operator's retry looks the share up: failed, no time of its own.
    fake.advance(60_000);
    await ops(['payments', 'retry-refund', t.pi], t.gateway);
    const looked = (await t.record()).refunds[0];
    expect(looked).toMatchObject({ status: 'failed', providerCreated: created });
    // A minute after its creation by Stripe's clock (the second may have turned meanwhile).
    expect((looked?.failedNoLaterThan ?? 0) - created).toBeOneOf([60, 61]);
    // The whole charge back in a total taken after the share's creation, before the lookup: it may count the share.
    await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: created + 30 }));
    expect(await t.record()).toMatchObject({ chargeRefunded: t.paid, amountRefunded: t.paid });

    // Stripe's refund.failed says it failed at +40: that total, of +30, counted it.
    const dated = await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(ours as never)), created: created + 40 }));
    const again = await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(ours as never)), created: created + 40 }));

    expect(dated.body.outcome).toBe('refund_updated');
    expect(again.body.outcome).toBe('duplicate');
    const record = await t.record();
    expect(record).toMatchObject({ chargeRefunded: PRICE, amountRefunded: PRICE, chargeRefundedAsOf: created + 41 });
    expect(record.refunds[0]?.failedNoLaterThan).toBeUndefined();
    // The second traveller's share is asked for in full: 45.00 of 90.00 was left at Stripe.
    const cancelled = await ops(['bookings', 'cancel', second, '--reason', 'traveller asked'], t.gateway);
    expect(cancelled.out).not.toContain('cut short');
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    const reasons = [record.attention, ...(record.attention?.more ?? [])].map((reason) => reason?.reason);
    expect(reasons).not.toContain('share_unclear');
    expect((await t.record()).attention?.more?.map((reason) => reason.reason) ?? []).not.toContain('share_unclear');
  });

  it('releases on a full total taken after the failure was learned', async () => {
    const { t, second } = await lostShareThatFailed({ gestureFirst: true });
    await ops(['payments', 'retry-refund', t.pi], t.gateway);
    // Support then refunds the rest in the Dashboard; that total is taken after the lookup.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });

    const answer = await t.webhook.send(signedRequest(createdAt(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), 2)));

    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(answer.body.outcome).toBe('released');
    expect(await t.bookingStatus(second)).toBe('cancelled');
    expect(await t.available()).toEqual([5, 5]);
  });
});

describe('a full total already acted on, delivered again after a failure and a retry', () => {
  it('answers duplicate and leaves the payment alone', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    // Support refunds everything in the Dashboard (pending); its charge.refunded releases the trip.
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi });
    const full = { ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: made.created };
    expect((await t.webhook.send(signedRequest(full))).body.outcome).toBe('released');
    // The refund fails at the bank; the operator asks again and Stripe takes it (pending).
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
    await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(failed)), created: made.created + 5 }));
    fake.nextRefundStatus('pending');
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
    expect((await t.record()).status).toBe('refund_pending');

    // Stripe delivers the first event again (our 200 was lost), or a reconcile range processes it again.
    const redelivered = await t.webhook.send(signedRequest(full));

    expect(redelivered.body.outcome).toBe('duplicate');
    expect((await t.record()).status).toBe('refund_pending');
    expect(await listed(t.pi)).toBe(false);
  });
});

describe('a stale total racing a newer one', () => {
  it('is decided again when the newer one commits first: nothing is put in front of a person', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi });
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
    const S = made.created;
    await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(failed)), created: S }));
    fake.nextRefundStatus('pending');
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
    expect((await t.record()).status).toBe('booked');
    const stale = { ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: S };
    const fresh = { ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: S + 3 };
    // The stale delivery has read the record (booked) and decided; the fresh one releases the trip before its write.
    let raced = false;
    const racing = new Proxy(t.store, {
      get(target, prop, receiver) {
        if (prop === 'commit') {
          return async (write: Parameters<typeof target.commit>[0]) => {
            if (!raced) {
              raced = true;
              expect((await t.webhook.send(signedRequest(fresh))).body.outcome).toBe('released');
            }
            return target.commit(write);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    const answer = await webhookHarness(fake, { store: racing }).send(signedRequest(stale));

    expect(raced).toBe(true);
    expect(answer.body.outcome).toBe('duplicate');
    expect(await t.tripStatus()).toBe('refunded');
    expect((await t.record()).status).toBe('refunded');
    expect(await listed(t.pi)).toBe(false);
  });
});

describe('a failure learned by a lookup, on an operator’s laptop whose clock is off', () => {
  it('dates the failure by Stripe’s clock: two minutes ahead, a total taken after the lookup still settles', async () => {
    const { t, second } = await lostShareThatFailed();
    const looked = await retryRefund({ store: t.store, gateway: t.gateway, clock: skewed(120), ids: randomIds }, t.pi, 'ana');
    expect(looked).toMatchObject({ ok: true, record: { status: 'needs_attention' } });
    const lookedAt = (await t.record()).refunds[0]?.failedNoLaterThan as number;
    expect(Math.abs(lookedAt - now())).toBeLessThanOrEqual(1);
    // Asked again, Stripe takes it; the second booking is cancelled with its refund: all 90.00 is back.
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);

    const total = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: lookedAt + 1 }));

    expect(total.body.outcome).not.toBe('needs_attention');
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expect(await listed(t.pi)).toBe(false);
  });

  it('dates the failure by Stripe’s clock: two minutes behind, a total taken before the lookup still releases nothing', async () => {
    const { t, second, fullTotal } = await lostShareThatFailed({ gestureFirst: true });
    const looked = await retryRefund({ store: t.store, gateway: t.gateway, clock: skewed(-120), ids: randomIds }, t.pi, 'ana');
    expect(looked).toMatchObject({ ok: true, record: { status: 'needs_attention' } });

    await t.webhook.send(signedRequest(fullTotal));

    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(await t.bookingStatus(second)).toBe('confirmed');
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.available()).toEqual([5, 4]);
  });
});
