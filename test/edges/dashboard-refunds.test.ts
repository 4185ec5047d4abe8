// Refunds made in the Stripe Dashboard, followed through their events over DynamoDB Local and the Stripe fake: one entry
// per refund whatever events name it, and a failed one asked again after its release settles the payment.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { chargeRefunded, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { BOOKED_TRIP_PRICE, bookedTripAt } from '../support/booked-trip';
import { ops } from '../support/ops';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

describe('a refund made in the Dashboard, reported by refund.created (pending) and then refund.updated', () => {
  it('keeps one entry for the one refund, named by Stripe’s id from its first event', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi, amount: BOOKED_TRIP_PRICE });
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.created', refundObject(fake.refundsOf(t.pi)[0] as never))))).status).toBe(200);
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');

    const updated = await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))));

    expect(updated.body.outcome).toBe('needs_attention');
    expect((await t.record()).refunds.map((entry) => [entry.stripeRefundId, entry.status, entry.amount])).toEqual([[made.id, 'failed', BOOKED_TRIP_PRICE]]);
  });

  it('settles once when it succeeds: nothing left open, nothing in front of a person', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi, amount: BOOKED_TRIP_PRICE });
    await t.webhook.send(signedRequest(stripeEvent('refund.created', refundObject(fake.refundsOf(t.pi)[0] as never))));
    const succeeded = fake.setRefundStatus(made.id, 'succeeded');

    await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(succeeded))));

    const record = await t.record();
    expect(record.refunds.map((entry) => [entry.stripeRefundId, entry.status])).toEqual([[made.id, 'succeeded']]);
    expect(record).toMatchObject({ status: 'booked', amountRefunded: BOOKED_TRIP_PRICE });
    expect((await ops(['attention', 'list'])).out.includes(t.pi)).toBe(false);
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
