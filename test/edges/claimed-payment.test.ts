// A payment create-booking claimed for another trip, whatever became of that trip's record before the payment's own
// event: refunded, cancelled, partly refunded or already in front of a person, the event still puts it in front of one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import type { Slot } from '../../lambdas/shared/domain/model';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { testStore } from '../support/store';

describe('a payment create-booking claimed for another trip', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  /** Trip B checked out and paid (2 x 45.00 = 90.00), trip A on two slots priced above it (1 + 2 guests x 45.00 = 135.00), booked by create-booking with pi_B. */
  async function claimed() {
    const store = testStore();
    const { paying, paid, paymentId, other, slots, booked } = await paymentClaimedForAnotherTrip(store, fake, { guests: [1, 2] });
    const [first, second] = slots as [Slot, Slot];
    expect(booked.success).toBe(true);
    expect(other.amount).toBeGreaterThan(paying.amount);
    return { store, paying, paid, paymentId, other, first, second, webhook: webhookHarness(fake, { store }) };
  }

  async function deliverSince(webhook: ReturnType<typeof webhookHarness>, before: number) {
    for (const event of fake.events.slice(before)) expect((await webhook.send(signedRequest(event))).status).toBe(200);
  }

  it('the Dashboard refund’s events delivered before the session’s completed event: the payment still goes in front of a person', async () => {
    const { store, paying, paid, paymentId, other, webhook } = await claimed();

    // Stripe delivers the refund's events first (the completed event's delivery failed and is retried later, or is
    // recovered by the reconciliation sweep).
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: paymentId });
    await deliverSince(webhook, before);
    const late = await webhook.send(signedRequest(paid));

    // Trip A (whose own traveller paid create-booking's caller) lost its bookings, released as an ordinary full refund
    // before anyone knew; once the claim is raised it no longer reads refunded (that money was B's), and trip B's session
    // paid for nothing booked: a person must be told, as in the in-order case.
    expect((await store.getTrip(other.tripId))?.status).toBe('cancelled');
    expect(late.body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
    const record = await store.getPaymentRecord(paymentId);
    expect(record?.status).toBe('needs_attention');
    // Never more refunded on the record than Stripe charged.
    expect(record?.amountRefunded).toBeLessThanOrEqual(paying.amount);
  });

  it('a partial Dashboard refund recorded before the completed event: the record the person reads counts all the money back', async () => {
    // Here trip A is priced BELOW what pi_B charged: 45.00 booked by create-booking, 90.00 charged.
    const store = testStore();
    const { paying, paid, paymentId, booked } = await paymentClaimedForAnotherTrip(store, fake, { guests: [1], capacity: 4 });
    expect(booked.success).toBe(true);
    const webhook = webhookHarness(fake, { store });

    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: paymentId, amount: 6_000 });
    await deliverSince(webhook, before);
    expect((await webhook.send(signedRequest(paid))).body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });

    const record = await store.getPaymentRecord(paymentId);
    expect(record).toMatchObject({ amountPaid: paying.amount, chargeRefunded: 6_000 });
    // 60.00 of 90.00 is back at Stripe; `payments show` must not say 45.00.
    expect(record?.amountRefunded).toBe(6_000);
    const shown = await ops(['payments', 'show', paymentId]);
    expect(shown.out).toContain('60.00');
  });

  it.each([
    ['with its share refunded', [] as string[]],
    ['with --no-refund', ['--no-refund']],
  ])('trip A’s booking cancelled %s before pi_B’s completed event: that event still puts the kept money in front of a person', async (_, flags) => {
    // Trip A priced BELOW what pi_B charged: 45.00 booked by create-booking with pi_B, 90.00 charged to B's traveller.
    const store = testStore();
    const { paying, paid, paymentId, booked } = await paymentClaimedForAnotherTrip(store, fake, { guests: [1], capacity: 4 });
    const reference = booked.bookings?.[0]?.reference as string;
    const webhook = webhookHarness(fake, { store });

    // A's traveller cancels; the operator cancels A's booking (pi_B's webhook is late: a failed or lost delivery).
    const before = fake.events.length;
    const cancelled = await ops(
      ['bookings', 'cancel', reference, '--reason', 'traveller cancelled', ...flags],
      new StripePaymentGateway(async () => fake.client()),
    );
    expect(cancelled.code).toBe(0);
    await deliverSince(webhook, before);
    const late = await webhook.send(signedRequest(paid));

    // B's traveller paid 90.00, nothing is booked for them, and at most 45.00 of it went back: a person must be told.
    expect(fake.totalRefunded(paymentId)).toBeLessThan(paying.amount);
    expect((await paying.trip())?.status).toBe('pending_payment');
    expect(late.body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
    expect((await store.listPaymentsNeedingAttention()).map((record) => record.paymentId)).toContain(paymentId);
  });

  it('a record already in front of a person for another reason when the completed event comes: it still learns the charge and the claim', async () => {
    // Trip A priced ABOVE what pi_B charged, one booking: 135.00 booked by create-booking with pi_B, 90.00 charged.
    const store = testStore();
    const { paying, paid, paymentId, booked } = await paymentClaimedForAnotherTrip(store, fake, { guests: [3], capacity: 4 });
    const reference = booked.bookings?.[0]?.reference as string;
    const webhook = webhookHarness(fake, { store });

    // Cancelled with its share before pi_B's webhook: the share is the record's 135.00, which Stripe refuses on a 90.00 charge.
    await ops(['bookings', 'cancel', reference, '--reason', 'traveller cancelled'], new StripePaymentGateway(async () => fake.client()));
    const late = await webhook.send(signedRequest(paid));

    expect(late.body.outcome).toBe('needs_attention');
    const record = await store.getPaymentRecord(paymentId);
    // What Stripe charged, and why: the person must see that this payment was someone else's, for 90.00.
    expect(record?.amountPaid).toBe(paying.amount);
    expect([record?.attention?.reason, ...(record?.attention?.more ?? []).map((more) => more.reason)]).toContain('paid_for_another_trip');
    // And asking again never asks Stripe for more than it charged.
    await ops(['payments', 'retry-refund', paymentId], new StripePaymentGateway(async () => fake.client()));
    const retried = (await store.getPaymentRecord(paymentId))?.refunds.filter((entry) => entry.refundKey.includes('-retry-')) ?? [];
    expect(retried.every((entry) => entry.amount <= paying.amount)).toBe(true);
  });
});
