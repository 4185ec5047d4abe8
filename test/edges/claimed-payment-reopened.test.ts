import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import type { Slot } from '../../lambdas/shared/domain/model';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { readSlot, testStore } from '../support/store';

describe('a claimed payment, resolved with trip A kept, reopened by a failed refund', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  async function claimedAndResolved() {
    const store = testStore();
    // Trip B: 90.00; trip A: 45.00, its traveller paid create-booking's caller.
    const { paying, paid, paymentId, other, slots, booked } = await paymentClaimedForAnotherTrip(store, fake);
    const [slot] = slots as [Slot];
    expect(booked.success).toBe(true);
    const webhook = webhookHarness(fake, { store });
    const gateway = new StripePaymentGateway(async () => fake.client());

    // pi_B's completed event: in front of a person for paid_for_another_trip.
    expect((await webhook.send(signedRequest(paid))).body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
    // README remedy: refund the whole charge in the Dashboard (trip A keeps its bookings: its traveller paid for them), resolve.
    const t0 = Math.floor(Date.now() / 1000);
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: paymentId });
    for (const event of fake.events.slice(before)) expect((await webhook.send(signedRequest({ ...event, created: t0 }))).status).toBe(200);
    expect((await store.getTrip(other.tripId))?.status).toBe('booked');
    expect((await ops(['payments', 'resolve', paymentId, '--note', 'B refunded in full; A paid the caller, kept'])).code).toBe(0);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(4);

    // Days later the Dashboard refund fails at the bank: back in front of a person.
    const [refund] = fake.refundsOf(paymentId);
    const failed = fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');
    const failure = await webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(failed)), created: t0 + 10 }));
    expect(failure.body.outcome).toBe('needs_attention');
    return { store, webhook, gateway, paymentId, other, slot, t0, paying };
  }

  async function expectTripAUntouched(t: Awaited<ReturnType<typeof claimedAndResolved>>) {
    // Trip A's bookings were paid by its own traveller (through create-booking's caller), not by this charge: a refund of
    // this charge must not release them (ef07c79; docs/payment-flow.md row full-refund-booked).
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('booked');
    expect((await readSlot(t.store, t.slot.slotId))?.availableCount).toBe(4);
    const record = await t.store.getPaymentRecord(t.paymentId);
    // Still known as a payment claimed for another trip.
    expect(record?.paidForTripId).toBe(t.paying.tripId);
  }

  it('the person refunds it again in the Dashboard: the full refund must not release trip A', async () => {
    const t = await claimedAndResolved();
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    for (const event of fake.events.slice(before)) expect((await t.webhook.send(signedRequest({ ...event, created: t.t0 + 30 }))).status).toBe(200);
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    await expectTripAUntouched(t);
  });

  it('the person runs payments retry-refund: the full refund that follows must not release trip A', async () => {
    const t = await claimedAndResolved();
    const before = fake.events.length;
    const retried = await ops(['payments', 'retry-refund', t.paymentId], t.gateway);
    expect(retried.code).toBe(0);
    for (const event of fake.events.slice(before)) expect((await t.webhook.send(signedRequest({ ...event, created: t.t0 + 30 }))).status).toBe(200);
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    await expectTripAUntouched(t);
  });
});
