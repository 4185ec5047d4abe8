import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPayments } from '../../lambdas/shared/domain/payment-operations';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { testStore } from '../support/store';

describe('review11: check skip', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  it('flags trip A still booked when the claim was resolved with the money kept and the whole charge refunded only after', async () => {
    const store = testStore();
    const { paying, paid, paymentId, other, booked } = await paymentClaimedForAnotherTrip(store, fake);
    expect(booked.success).toBe(true);
    const webhook = webhookHarness(fake, { store });
    expect((await webhook.send(signedRequest(paid))).body).toMatchObject({ reason: 'paid_for_another_trip' });
    // A person resolves the claim with nothing refunded (the charge kept; A kept booked).
    const r = await ops(['payments', 'resolve', paymentId, '--note', 'kept: A and B settled offline']);
    expect(r.code).toBe(0);
    const problemsBefore = (await checkPayments(store)).problems.filter((p) => p.paymentId === paymentId);
    // Later, the whole charge goes back (Dashboard), delivered after the resolution.
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: paymentId });
    for (const event of fake.events.slice(before)) expect((await webhook.send(signedRequest(event))).status).toBe(200);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'resolved', amountRefunded: paying.amount });
    const problems = (await checkPayments(store)).problems.filter((p) => p.paymentId === paymentId);
    expect(problemsBefore).toEqual([]);
    expect((await store.getTrip(other.tripId))?.status).toBe('booked');
    expect(problems.map((p) => p.problem)).toContain('trip booked while its payment was refunded in full');
  });
});
