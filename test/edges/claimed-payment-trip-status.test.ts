import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { testStore } from '../support/store';

describe('a claimed payment: B’s money coming back marks trip A refunded', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  /** Trip B paid 90.00 (pi_B); trip A (45.00, one booking) booked by create-booking with pi_B; pi_B's completed event raised the claim. */
  async function claimed() {
    const store = testStore();
    const { paying, paid, paymentId, other, booked } = await paymentClaimedForAnotherTrip(store, fake);
    expect(booked.success).toBe(true);
    const reference = booked.bookings?.[0]?.reference as string;
    const webhook = webhookHarness(fake, { store });
    const gateway = new StripePaymentGateway(async () => fake.client());
    expect((await webhook.send(signedRequest(paid))).body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
    expect((await store.getPaymentRecord(paymentId))?.paidForTripId).toBe(paying.tripId);
    const deliver = async (before: number) => {
      for (const event of fake.events.slice(before)) expect((await webhook.send(signedRequest(event))).status).toBe(200);
    };
    return { store, paying, paymentId, other, reference, webhook, gateway, deliver };
  }

  it('README remedy, "nothing else paid for that trip": Dashboard refund, cancel A --no-refund, resolve → trip A must stay cancelled (its share waived, nothing went back to it)', async () => {
    const t = await claimed();
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    const cancelled = await ops(['bookings', 'cancel', t.reference, '--reason', 'nothing paid for trip A', '--no-refund'], t.gateway);
    expect(cancelled.code).toBe(0);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('cancelled');
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full; A cancelled, nothing paid for it'])).code).toBe(0);

    // All of pi_B went back to B's card; trip A's only booking was cancelled with its share waived.
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    const tripA = await t.store.getTrip(t.other.tripId);
    // docs/payment-flow.md: trip `cancelled` = "every booking was cancelled by an operator and not all of the money went
    // back (a share waived…)"; `refunded` = "the money went back in full". Nothing went back to trip A.
    expect({ status: tripA?.status, refundId: tripA?.refundId }).toEqual({ status: 'cancelled', refundId: undefined });
  });

  it('claim resolved with trip A kept, then A’s traveller cancels (bookings cancel, refund asked): no refund is made, yet trip A is marked refunded', async () => {
    const t = await claimed();
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full; A paid the caller, kept'])).code).toBe(0);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('booked');

    const refundsBefore = fake.refundsOf(t.paymentId).length;
    const cancelled = await ops(['bookings', 'cancel', t.reference, '--reason', 'A traveller cancelled'], t.gateway);
    expect(cancelled.code).toBe(0);
    // Nothing was refunded for trip A's booking (pi_B is all back, to B's card)...
    expect(fake.refundsOf(t.paymentId).length).toBe(refundsBefore);
    // ...yet the trip says its money went back in full.
    expect((await t.store.getTrip(t.other.tripId))?.status).not.toBe('refunded');
  });

  it('A cancelled WITH refund after the claim: A’s "share" goes to B’s card; after the Dashboard rest and resolve, trip A is marked refunded', async () => {
    const t = await claimed();
    const cancelled = await ops(['bookings', 'cancel', t.reference, '--reason', 'A traveller cancelled'], t.gateway);
    expect(cancelled.code).toBe(0);
    const record = await t.store.getPaymentRecord(t.paymentId);
    // The record says a 45.00 refund for booking A; Stripe made it on pi_B, i.e. to trip B's traveller's card.
    const share = record?.refunds.find((entry) => entry.bookingReferences.includes(t.reference));
    expect(share).toMatchObject({ amount: 4_500, status: 'succeeded' });
    expect(fake.refundsOf(t.paymentId).map((refund) => refund.amount)).toEqual([4_500]);
    expect(record?.status).toBe('needs_attention');
    expect(cancelled.out).toContain('45.00');

    // The remedy: the rest of the charge refunded in the Dashboard, then resolve.
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full'])).code).toBe(0);
    // All 90.00 went to B; none of it to A's traveller, whose trip is now said to be refunded in full.
    expect((await t.store.getTrip(t.other.tripId))?.status).not.toBe('refunded');
  });
  it('webhook path: A cancelled --no-refund and the claim resolved first, B refunded in the Dashboard after → Stripe’s events mark trip A refunded', async () => {
    const t = await claimed();
    expect((await ops(['bookings', 'cancel', t.reference, '--reason', 'nothing paid for trip A', '--no-refund'], t.gateway)).code).toBe(0);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'A cancelled; refunding B in the Dashboard now'])).code).toBe(0);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('cancelled');

    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    // Trip A's share was waived and nothing went back to it: the charge.refunded / refund.* of B's refund moved it.
    expect((await t.store.getTrip(t.other.tripId))?.status).not.toBe('refunded');
  });
});
