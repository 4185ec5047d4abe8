import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { testStore } from '../support/store';

describe('a claimed payment whose record a person resolved before its completed event came', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  it('pi_B’s completed event still puts the kept money in front of a person', async () => {
    const store = testStore();
    // Trip B: 90.00; trip A: 45.00.
    const { paying, paid, paymentId, booked } = await paymentClaimedForAnotherTrip(store, fake, { capacity: 4 });
    const reference = booked.bookings?.[0]?.reference as string;
    const webhook = webhookHarness(fake, { store });
    const gateway = new StripePaymentGateway(async () => fake.client());

    // pi_B's webhook is late (a failed or lost delivery). A's traveller cancels; Stripe refuses the share's refund.
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', reference, '--reason', 'traveller cancelled'], gateway)).code).toBe(1);
    expect((await store.getPaymentRecord(paymentId))?.attention?.reason).toBe('refund_refused');
    // The person, seeing a refused share of trip A's payment, settles A's traveller another way and resolves.
    expect((await ops(['payments', 'resolve', paymentId, '--note', 'A settled by bank transfer'])).code).toBe(0);

    const late = await webhook.send(signedRequest(paid));

    // B's traveller paid 90.00, nothing went back, nothing is booked for them: nobody has seen this yet.
    expect(fake.totalRefunded(paymentId)).toBe(0);
    expect((await paying.trip())?.status).toBe('pending_payment');
    expect(late.body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
    expect((await store.listPaymentsNeedingAttention()).map((record) => record.paymentId)).toContain(paymentId);
  });
});
