// Refunds made in the Stripe Dashboard, followed through their events over DynamoDB Local and the Stripe fake: one entry
// per refund whatever events name it, and a failed one asked again after its release settles the payment.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PaymentRecord, RefundEntry } from '../../lambdas/shared/domain/model';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { chargeRefunded, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { BOOKED_TRIP_PRICE, bookedTripAt } from '../support/booked-trip';
import { ops } from '../support/ops';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** A refund made in the Stripe Dashboard, and Stripe's refund.created of it delivered: the refund and the webhook's answer. */
async function madeInTheDashboard(t: Awaited<ReturnType<typeof bookedTripAt>>, amount: number) {
  const made = await fake.client().refunds.create({ payment_intent: t.pi, amount });
  const created = await t.webhook.send(
    signedRequest(stripeEvent('refund.created', refundObject(fake.refundsOf(t.pi).find((refund) => refund.id === made.id) as never))),
  );
  return { made, created };
}

describe('a refund made in the Dashboard, reported by refund.created (pending) and then refund.updated', () => {
  it('keeps one entry for the one refund, named by Stripe’s id from its first event', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const { made, created } = await madeInTheDashboard(t, BOOKED_TRIP_PRICE);
    expect(created.status).toBe(200);
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');

    const updated = await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))));

    expect(updated.body.outcome).toBe('needs_attention');
    expect((await t.record()).refunds.map((entry) => [entry.stripeRefundId, entry.status, entry.amount])).toEqual([[made.id, 'failed', BOOKED_TRIP_PRICE]]);
  });

  it('settles once when it succeeds: nothing left open, nothing in front of a person', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const { made } = await madeInTheDashboard(t, BOOKED_TRIP_PRICE);
    const succeeded = fake.setRefundStatus(made.id, 'succeeded');

    await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(succeeded))));

    const record = await t.record();
    expect(record.refunds.map((entry) => [entry.stripeRefundId, entry.status])).toEqual([[made.id, 'succeeded']]);
    expect(record).toMatchObject({ status: 'booked', amountRefunded: BOOKED_TRIP_PRICE });
    expect((await ops(['attention', 'list'])).out.includes(t.pi)).toBe(false);
  });
});

describe('a refund made in the Dashboard that waits on the customer', () => {
  it('is recorded in its state, requires_action, and moves on from it', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    fake.nextRefundStatus('requires_action');
    const { made } = await madeInTheDashboard(t, 2_000);

    const waiting = (await t.record()).refunds.map((entry) => entry.status);
    await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(fake.setRefundStatus(made.id, 'succeeded')))));

    expect(waiting).toEqual(['requires_action']);
    expect(await t.record()).toMatchObject({ refunds: [{ status: 'succeeded', stripeRefundId: made.id }], amountRefunded: 2_000 });
  });
});

describe('a Dashboard refund stored twice before its entry kept Stripe’s id (a pending twin without it)', () => {
  it('is read as one refund: both bookings cancelled with their refunds give all of the rest back', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    fake.nextRefundStatus('pending');
    const { made } = await madeInTheDashboard(t, 2_000);
    await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(fake.setRefundStatus(made.id, 'succeeded')))));
    // What the same two events left before: the refund, then a twin under its key, pending, without Stripe's id.
    const stored = await t.record();
    const [real] = stored.refunds as [RefundEntry];
    const twin: RefundEntry = {
      refundKey: real.refundKey,
      amount: 2_000,
      status: 'pending',
      requestedBy: 'stripe',
      reason: 'refunded outside this service',
      bookingReferences: [],
      requestedAt: real.updatedAt,
      updatedAt: real.updatedAt,
    };
    const at = new Date().toISOString();
    const legacy: PaymentRecord = { ...stored, refunds: [real, twin], version: stored.version + 1, updatedAt: at };
    expect((await t.store.commit({ at, paymentRecord: { record: legacy, expectedVersion: stored.version } })).committed).toBe(true);

    // The first share is asked less the 20.00 (was it this share's, or a gesture on the other booking?), the rest before a
    // person; the last share in full.
    const [first, second] = t.references as [string, string];
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);

    // 20.00 in the Dashboard, then 25.00 and 45.00: all of it back, the twin read as one refund and gone from the record.
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([2_000, 2_500, 4_500]);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect((await t.record()).refunds.filter((entry) => entry.refundKey === real.refundKey)).toHaveLength(1);
    // Nothing is owed any more; the person closes it, and the trip is refunded.
    expect(await t.tripStatus()).toBe('cancelled');
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'all of it is back'])).code).toBe(0);
    expect(await t.tripStatus()).toBe('refunded');
  });
});

describe('a full refund made in the Dashboard, released, then failed and asked again', () => {
  it('settles the payment when the retry’s total arrives, the trip already refunded (never 500 for ever)', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi });
    const released = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: made.created }));
    expect(released.body.outcome).toBe('released');
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
    await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(failed)), created: made.created + 5 }));
    fake.nextRefundStatus('pending');
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).code).toBe(0);
    expect(await t.tripStatus()).toBe('refunded');

    const retryTotal = await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), created: made.created + 20 }));
    const retry = fake.refundsOf(t.pi).find((refund) => refund.id !== made.id);
    const succeeded = fake.setRefundStatus(retry?.id as string, 'succeeded');
    const retrySucceeded = await t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(succeeded)), created: made.created + 30 }));

    expect(retryTotal.status).toBe(200);
    expect(retrySucceeded.status).toBe(200);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expect(await t.available()).toEqual([5, 5]);
    expect((await ops(['attention', 'list'])).out.includes(t.pi)).toBe(false);
  });
});

describe('a payment resolved, back in front of a person when a refund pending then fails, resolved again', () => {
  it('moves its cancelled trip to refunded once all of the money is back, as the first resolution would have', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    const [first, second] = t.references as [string, string];
    const [shareA, shareB] = t.shares as [number, number];
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect(await t.tripStatus()).toBe('cancelled');
    // The refused share is paid back in the Dashboard, then the payment resolved while the first share's refund is pending.
    await madeInTheDashboard(t, shareB);
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'second share paid back in the Dashboard'])).code).toBe(0);
    // That refund fails at the bank: in front of a person again.
    const [pending] = fake.refundsOf(t.pi);
    const failed = fake.setRefundStatus(pending?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed', previousStatus: 'resolved' } });

    // Paid back in the Dashboard too, as REFUND_UNCLEAR's advice says, and resolved again.
    const { made: byHandA } = await madeInTheDashboard(t, shareA);
    expect((await ops(['payments', 'resolve', t.pi, '--note', 'first share paid back in the Dashboard'])).code).toBe(0);

    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'resolved', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expect((await t.store.getTrip(t.trip.tripId))?.refundId).toBe(byHandA.id);
  });
});
