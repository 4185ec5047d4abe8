// A partial refund (one made in the Dashboard) of a payment whose confirmation commits between the refund event's read and its write: the total lands on the record the confirmation wrote.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import type { FakeEvent, StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { testStore } from '../support/store';
import { committingFirst } from '../support/held-store';
import { webhookHarness } from '../support/webhook';
import { servedStripeFake } from '../support/webhook-server';

let fake: StripeFake;
let stop: () => Promise<void>;
const store = testStore();
beforeEach(async () => {
  ({ fake, stop } = await servedStripeFake(store));
});
afterEach(() => stop());

const DASHBOARD_REFUND = 3_000;

/** A checked-out trip paid, then refunded in part in the Dashboard; none of the three events delivered yet. */
async function paidThenRefundedInPart() {
  const trip = await checkedOutTrip(store, fake);
  fake.dropNextDeliveries(3);
  const completion = await trip.pay();
  const paymentId = trip.paymentIntent();
  await fake.client().refunds.create({ payment_intent: paymentId, amount: DASHBOARD_REFUND });
  const total = fake.events.find((event) => event.type === 'charge.refunded') as FakeEvent;
  return { ...trip, paymentId, completion, total };
}

describe('a partial refund of a payment with no record yet', () => {
  it('is recorded on the record when the confirmation commits between the refund event’s read and its write', async () => {
    const trip = await paidThenRefundedInPart();
    let confirmedFirst = false;
    const racing = committingFirst(store, async (write) => {
      if (confirmedFirst || !write.audits?.some((entry) => entry.eventType === 'payment.partially_refunded')) return;
      confirmedFirst = true;
      expect((await webhookHarness(fake, { store }).send(signedRequest(trip.completion))).body).toMatchObject({ outcome: 'booked' });
    });

    const answered = await webhookHarness(fake, { store: racing }).send(signedRequest(trip.total));
    const again = await webhookHarness(fake, { store }).send(signedRequest(trip.total));

    expect(confirmedFirst).toBe(true);
    expect(answered.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect(again.body).toMatchObject({ outcome: 'duplicate' });
    expect(await store.getPaymentRecord(trip.paymentId)).toMatchObject({
      status: 'booked',
      chargeRefunded: DASHBOARD_REFUND,
      amountRefunded: DASHBOARD_REFUND,
    });
    expect((await store.listAudit('payment', trip.paymentId)).filter((entry) => entry.eventType === 'payment.partially_refunded')).toHaveLength(1);
  });

  it('is audited once when no record comes in between, and the confirmation’s record starts with what Stripe counts back', async () => {
    const trip = await paidThenRefundedInPart();

    const first = await webhookHarness(fake, { store }).send(signedRequest(trip.total));
    const twice = await Promise.all([0, 1].map(() => webhookHarness(fake, { store }).send(signedRequest(trip.total))));
    const booked = await webhookHarness(fake, { store }).send(signedRequest(trip.completion));

    expect(first.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect(twice.map((answer) => answer.body.outcome)).toEqual(['duplicate', 'duplicate']);
    expect(booked.body).toMatchObject({ outcome: 'booked' });
    expect((await store.listAudit('payment', trip.paymentId)).map((entry) => entry.eventType)).toEqual(['payment.partially_refunded']);
    expect(await store.getPaymentRecord(trip.paymentId)).toMatchObject({
      status: 'booked',
      chargeRefunded: DASHBOARD_REFUND,
      amountRefunded: DASHBOARD_REFUND,
    });
  });
});
