// A late charge.refunded whose full total is older than a refund failure already recorded: the money is not back, so
// nothing is released, over DynamoDB Local and the Stripe fake.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bookedTripAt } from '../support/booked-trip';
import { ops } from '../support/ops';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { chargeRefunded, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

function createdAt<E extends { created: number }>(event: E, seconds: number): E {
  return { ...event, created: Math.floor(Date.now() / 1000) + seconds };
}

describe('a full refund made in the Dashboard that failed, its charge.refunded delivered after the failure', () => {
  it('keeps the bookings and the seats: the failure is newer than the total, and a person decides', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi });
    const snapshot = createdAt(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), -30);
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(createdAt(stripeEvent('refund.updated', refundObject(failed)), 0)))).body.outcome).toBe('needs_attention');

    const late = await t.webhook.send(signedRequest(snapshot));

    expect(late.status).toBe(200);
    expect(late.body.outcome).toBe('no_change');
    for (const reference of t.references) expect(await t.bookingStatus(reference)).toBe('confirmed');
    expect(await t.available()).toEqual([4, 3]);
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' } });
    expect(fake.totalRefunded(t.pi)).toBe(0);
    expect((await t.webhook.send(signedRequest(snapshot))).body.outcome).toBe('no_change');
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
});

describe('our refund of a cancelled booking that failed, its charge.refunded delivered after the failure', () => {
  it('does not settle the payment or the trip as refunded: the money went back to the merchant', async () => {
    const t = await bookedTripAt(fake, [2]);
    const [only] = t.references as [string];
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', only, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const before = await t.record();
    const snapshot = createdAt(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId }), -30);
    const [ours] = fake.refundsOf(t.pi);
    const failed = fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(createdAt(stripeEvent('refund.updated', refundObject(failed)), 0)))).body.outcome).toBe('needs_attention');

    const late = await t.webhook.send(signedRequest(snapshot));

    expect(before.status).toBe('cancelled');
    expect(late.body.outcome).toBe('no_change');
    const record = await t.record();
    expect(record).toMatchObject({ status: 'needs_attention', attention: { reason: 'refund_failed' }, amountRefunded: 0 });
    expect(record.chargeRefunded ?? 0).toBe(0);
    expect(await t.tripStatus()).not.toBe('refunded');
    expect(await t.bookingStatus(only)).toBe('cancelled');
    expect(fake.totalRefunded(t.pi)).toBe(0);
  });
});
