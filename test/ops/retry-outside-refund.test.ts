// A refund made in the Dashboard, failed, and asked again by `payments retry-refund` (under a key of its own shape,
// stripe-<re>-retry-N), whose refund.created reaches the webhook before the retry's answer is written: one refund on the record.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { BOOKED_TRIP_PRICE, bookedTripAt } from '../support/booked-trip';
import { gatewayWithRefund } from '../support/gateways';
import { ops } from '../support/ops';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

describe('a failed Dashboard refund asked again, its refund.created before the answer', () => {
  it('is one refund on the record, and the other booking is still refunded in full when cancelled', async () => {
    const t = await bookedTripAt(fake, [1, 1]); // two bookings of 45.00, 90.00 paid
    const [, second] = t.references as [string, string];

    // A person refunds 45.00 in the Dashboard; it is reported pending, then fails.
    fake.nextRefundStatus('pending');
    const made = await fake.client().refunds.create({ payment_intent: t.pi, amount: BOOKED_TRIP_PRICE });
    await t.webhook.send(signedRequest(stripeEvent('refund.created', refundObject(fake.refundsOf(t.pi)[0] as never))));
    const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
    expect((await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))))).body.outcome).toBe('needs_attention');

    // The operator asks again. Stripe makes the refund and its refund.created reaches the webhook before the answer.
    fake.nextRefundStatus('pending');
    const eventFirst = gatewayWithRefund(fake, async (request, real) => {
      const answer = await real.refund(request);
      const retry = fake.refundsOf(t.pi).find((refund) => refund.id !== made.id);
      const delivered = await t.webhook.send(signedRequest(stripeEvent('refund.created', refundObject(retry as never))));
      expect(delivered.status).toBe(200);
      return answer;
    });
    const retried = await ops(['payments', 'retry-refund', t.pi], eventFirst);
    expect(retried.code).toBe(0);
    const retry = fake.refundsOf(t.pi).find((refund) => refund.id !== made.id);
    // Its key begins with the Dashboard refund's own (stripe-<re>), not refund-<pi>: read as ours all the same.
    expect(retry?.metadata?.refund_key).toMatch(/^stripe-re_/);

    const record = await t.record();

    // The retry succeeds; the second booking is cancelled with its refund.
    const succeeded = fake.setRefundStatus(retry?.id as string, 'succeeded');
    await t.webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(succeeded))));
    const cancelled = await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway);
    expect(cancelled.code).toBe(0);

    // One refund at Stripe is one entry on the record.
    expect(record.refunds.filter((entry) => entry.stripeRefundId === retry?.id || entry.refundKey === `stripe-${retry?.id}`)).toHaveLength(1);
    // Both bookings cancelled or refunded: the traveller has all 90.00 back.
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ amountRefunded: t.paid });
  });
});
