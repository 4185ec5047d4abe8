// A whole payment refunded in the Dashboard before our record of it, its refund failing later: the money Stripe holds again is never read as back.
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { ops } from '../support/ops';
import { paymentScenario } from '../support/payment-scenario';
import { testReconciler } from '../support/reconciler';
import { deps, testDocumentClient, testStore, testTableName } from '../support/store';
import { Logger } from '@aws-lambda-powertools/logger';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import type { Trip } from '../../lambdas/shared/domain/model';
import { reasonsOf } from '../../lambdas/shared/domain/payment-ledger';
import { checkedOutTrip } from '../support/checked-out';
import { webhookHarness } from '../support/webhook';
import { servedStripeFake } from '../support/webhook-server';

const HOUR = 3_600_000;

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/**
 * The whole payment refunded in the Dashboard (pending, as a card refund is), Stripe's own charge.refunded carrying our
 * checkout's mark as the PaymentIntent's metadata is copied to its charge, and the refund.failed Stripe sends when the
 * bank returns it a second later.
 */
async function dashboardRefundFailingLater(s: Awaited<ReturnType<typeof paymentScenario>>) {
  fake.nextRefundStatus('pending');
  const made = await fake.client().refunds.create({ payment_intent: s.paymentIntent });
  const total = fake.events.filter((event) => event.type === 'charge.refunded').at(-1) as FakeEvent;
  (total.data.object as unknown as { metadata: Record<string, string> }).metadata = { [TRIP_MARK]: s.trip.tripId };
  const failed = fake.setRefundStatus(made.id, 'failed', 'expired_or_canceled_card');
  const failure = { ...stripeEvent('refund.failed', refundObject(failed), `evt_failed_${made.id}`), created: made.created + 1 };
  return { made, total, failure };
}

/** The whole payment refunded in the Dashboard and failed, then 30.00 refunded there, that newer partial total delivered: the trip keeps it. */
async function keptNewerPartial(s: Awaited<ReturnType<typeof paymentScenario>>) {
  const whole = await dashboardRefundFailingLater(s);
  fake.advance(4_000);
  fake.nextRefundStatus('pending');
  await fake.client().refunds.create({ payment_intent: s.paymentIntent, amount: 3_000 });
  const partial = fake.events.filter((event) => event.type === 'charge.refunded').at(-1) as FakeEvent;
  (partial.data.object as unknown as { metadata: Record<string, string> }).metadata = { [TRIP_MARK]: s.trip.tripId };
  expect((await s.webhook.send(signedRequest(partial))).body.outcome).toBe('partial_refund_recorded');
  return whole;
}

const retryRefund = (s: Awaited<ReturnType<typeof paymentScenario>>) => ops(['payments', 'retry-refund', s.paymentIntent, '--actor', 'ana'], s.gateway);

describe('a full refund made in the Dashboard before the confirmation, failed at the bank later', () => {
  it('no longer counts the failed refund as back: the payment is before a person, and the retry asks Stripe for all of it once, run twice at once and again a day later', async () => {
    const s = await paymentScenario(fake);
    const { made, total, failure } = await dashboardRefundFailingLater(s);

    expect((await s.webhook.send(signedRequest(total))).body.outcome).toBe('refund_recorded');
    expect((await s.pay()).body.outcome).toBe('already_refunded');
    expect((await s.webhook.send(signedRequest(failure))).body).toMatchObject({ outcome: 'needs_attention', reason: 'expired_or_canceled_card' });

    expect(fake.totalRefunded(s.paymentIntent)).toBe(0);
    expect(await s.record()).toMatchObject({
      status: 'needs_attention',
      reason: 'refunded_before_confirmation',
      amountRefunded: 0,
      attention: { reason: 'refund_failed', code: 'expired_or_canceled_card', previousStatus: 'refund_pending' },
      refunds: [{ status: 'failed', stripeRefundId: made.id, amount: s.trip.amount }],
    });
    expect(await s.tripStatus()).toBe('refunded');
    expect(await s.available()).toEqual([5, 5]);

    const [first, second] = await Promise.all([retryRefund(s), retryRefund(s)]);

    // Whichever reads second finds the retry asked already (its answer shown again) or the payment settled: asked once either way.
    expect([first.code, second.code]).toContain(0);
    expect([first.code, second.code].every((code) => code === 0 || code === 1)).toBe(true);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect(fake.refundsOf(s.paymentIntent).filter((refund) => refund.status === 'succeeded')).toHaveLength(1);
    expect(await s.record()).toMatchObject({ status: 'refunded', amountRefunded: s.trip.amount });

    // A day later Stripe has forgotten the key: the payment settled, nothing is asked again.
    fake.advance(25 * HOUR);
    const later = await retryRefund(s);
    expect(later).toMatchObject({ code: 1, err: expect.stringContaining('NOTHING_TO_RETRY') });
    expect(fake.refundsOf(s.paymentIntent).filter((refund) => refund.status === 'succeeded')).toHaveLength(1);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
  });

  it('keeps the payment before a person when Stripe refuses the retry for good, nothing counted back', async () => {
    const s = await paymentScenario(fake);
    const { total, failure } = await dashboardRefundFailingLater(s);
    await s.webhook.send(signedRequest(total));
    await s.pay();
    await s.webhook.send(signedRequest(failure));
    fake.refuseNext('charge_disputed');

    const retried = await retryRefund(s);

    expect(retried.code).toBe(1);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(0);
    expect(await s.record()).toMatchObject({
      status: 'needs_attention',
      amountRefunded: 0,
      attention: { code: 'charge_disputed' },
      refunds: [{ status: 'failed' }, { status: 'failed', failureCode: 'charge_disputed' }],
    });
  });

  it('is found by the sweep when the failure was delivered before the total, and is then counted as not back', async () => {
    const s = await paymentScenario(fake);
    const { total, failure } = await dashboardRefundFailingLater(s);
    // Stripe lists it as it lists every event of the account.
    fake.events.push(failure as unknown as FakeEvent);

    expect((await s.webhook.send(signedRequest(failure))).body.outcome).toBe('no_change');
    expect((await s.webhook.send(signedRequest(total))).body.outcome).toBe('refund_recorded');
    expect((await s.pay()).body.outcome).toBe('already_refunded');
    await testReconciler(fake, s.store).run();

    expect(fake.totalRefunded(s.paymentIntent)).toBe(0);
    expect(await s.record()).toMatchObject({ status: 'needs_attention', amountRefunded: 0, attention: { code: 'expired_or_canceled_card' } });
    expect((await retryRefund(s)).code).toBe(0);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
  });
});

describe('a full refund made in the Dashboard and failed, then a partial one, their totals delivered newest first', () => {
  it('takes the older full total for what it is: the trip is booked on the payment Stripe holds, and the failure goes before a person', async () => {
    const s = await paymentScenario(fake);
    const whole = await keptNewerPartial(s);
    expect(fake.totalRefunded(s.paymentIntent)).toBe(3_000);

    // Taken before the partial total the trip keeps: Stripe has said since that only 30.00 is back.
    expect((await s.webhook.send(signedRequest(whole.total))).body.outcome).toBe('partial_refund_recorded');
    expect(await s.record()).toBeUndefined();
    expect(await s.tripStatus()).toBe('pending_payment');
    expect((await s.pay()).body.outcome).toBe('booked');
    expect((await s.webhook.send(signedRequest(whole.failure))).body).toMatchObject({ outcome: 'needs_attention', reason: 'expired_or_canceled_card' });

    expect(await s.record()).toMatchObject({
      status: 'needs_attention',
      amountRefunded: 3_000,
      attention: { reason: 'refund_failed', previousStatus: 'booked' },
    });
    expect(await s.tripStatus()).toBe('booked');
    // Asking the failed full refund again would take back money that pays for the bookings: a person decides.
    const retried = await retryRefund(s);
    expect(retried).toMatchObject({ code: 1, err: expect.stringContaining('REFUND_UNCLEAR') });
    expect(fake.totalRefunded(s.paymentIntent)).toBe(3_000);
  });
});

describe('an old full total beside a newer partial one, delivered twice or overtaken by the confirmation', () => {
  it('delivered twice at once, then once more: one of them is recorded, the others are duplicates, and nothing moves', async () => {
    const s = await paymentScenario(fake);
    const { total } = await keptNewerPartial(s);

    const both = await Promise.all([s.webhook.send(signedRequest(total)), s.webhook.send(signedRequest(total))]);
    const again = await s.webhook.send(signedRequest(total));

    expect(both.map((response) => response.body.outcome).sort()).toEqual(['duplicate', 'partial_refund_recorded']);
    expect(again.body.outcome).toBe('duplicate');
    expect(await s.record()).toBeUndefined();
    expect(await s.tripStatus()).toBe('pending_payment');
    expect((await s.store.getTrip(s.trip.tripId))?.chargeRefundedEarly).toMatchObject([{ paymentId: s.paymentIntent, amount: 3_000 }]);
    expect((await s.pay()).body.outcome).toBe('booked');
  });

  it('overtaken between its read and its write by the confirmation: decided again on the record, nothing released, before a person', async () => {
    const s = await paymentScenario(fake);
    const { total } = await keptNewerPartial(s);
    const held = s.faults.hold('TransactWriteItemsCommand');

    const old = s.webhook.send(signedRequest(total));
    await held.reached;
    const confirmed = await webhookHarness(fake, { store: testStore() }).send(signedRequest(stripeEvent('checkout.session.completed', s.session())));
    held.release();
    const decided = await old;

    expect(confirmed.body.outcome).toBe('booked');
    expect(decided.body).toMatchObject({ outcome: 'needs_attention' });
    expect(await s.tripStatus()).toBe('booked');
    expect(await s.available()).toEqual([3, 4]);
    const record = await s.record();
    expect(record).toMatchObject({ status: 'needs_attention', amountRefunded: 3_000 });
    expect(reasonsOf(record?.attention).map((known) => known.reason)).toContain('full_refund_stale');
    expect(fake.totalRefunded(s.paymentIntent)).toBe(3_000);
  });
});

describe('a full refund of a trip booked before payment records existed, failed at the bank later', () => {
  it('no longer counts the failed refund as back, and the retry asks Stripe for all of it once', async () => {
    const s = await paymentScenario(fake);
    expect((await s.pay()).body).toMatchObject({ outcome: 'booked' });
    // Booked by the old code: no payment record, only the trip indexed under its payment.
    await testDocumentClient().send(new DeleteCommand({ TableName: testTableName(), Key: keys.paymentRecord(s.paymentIntent) }));
    const { total, failure } = await dashboardRefundFailingLater(s);

    expect((await s.webhook.send(signedRequest(total))).body.outcome).toBe('released');
    expect((await s.webhook.send(signedRequest(failure))).body.outcome).toBe('needs_attention');

    expect(await s.record()).toMatchObject({ status: 'needs_attention', amountRefunded: 0, attention: { previousStatus: 'refund_pending' } });
    expect(await s.available()).toEqual([5, 5]);
    expect((await retryRefund(s)).code).toBe(0);
    expect(await retryRefund(s)).toMatchObject({ code: 1, err: expect.stringContaining('NOTHING_TO_RETRY') });
    expect(fake.totalRefunded(s.paymentIntent)).toBe(s.trip.amount);
    expect(fake.refundsOf(s.paymentIntent).filter((refund) => refund.status === 'succeeded')).toHaveLength(1);
  });
});

describe('the older full total, delivered late, of a booked payment whose trip keeps a newer partial total', () => {
  let served: StripeFake;
  let stop: () => Promise<void>;
  const store = testStore();
  beforeEach(async () => {
    ({ fake: served, stop } = await servedStripeFake(store));
  });
  afterEach(() => stop());

  /**
   * The whole payment refunded in the Dashboard (pending; its refund.created and charge.refunded held back, Stripe sending
   * them later), failed at the bank a second later (its refund.failed delivered while no record exists), then 30.00
   * refunded there and delivered: no record yet, so the trip keeps that newer partial total.
   */
  async function fullFailedThenPartial(trip: { trip(): Promise<Trip | undefined> }, paymentId: string) {
    served.nextRefundStatus('pending');
    served.dropNextDeliveries(2);
    const whole = await served.client().refunds.create({ payment_intent: paymentId });
    const fullTotal = served.events.findLast((event) => event.type === 'charge.refunded') as FakeEvent;
    const failed = {
      ...stripeEvent('refund.failed', refundObject(served.setRefundStatus(whole.id, 'failed', 'expired_or_canceled_card'))),
      created: fullTotal.created + 1,
    };
    expect((await webhookHarness(served, { store }).send(signedRequest(failed))).body).toMatchObject({ outcome: 'no_change' });
    served.advance(4_000);
    await served.client().refunds.create({ payment_intent: paymentId, amount: 3_000 });
    expect((await trip.trip())?.chargeRefundedEarly).toMatchObject([{ paymentId, amount: 3_000 }]);
    return fullTotal;
  }

  it('booked by create-booking in between: nothing is released, and the payment goes before a person', async () => {
    const checked = await checkedOutTrip(store, served);
    served.dropNextDeliveries(1);
    const completion = await checked.pay();
    const paymentId = checked.paymentIntent();
    const fullTotal = await fullFailedThenPartial(checked, paymentId);
    const stored = (await checked.trip()) as Trip;
    const direct = await createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) })({
      paymentId,
      tripId: checked.tripId,
      userId: stored.userId,
      tripItems: stored.items.map((item) => ({ ...item })),
    });
    expect(direct.success).toBe(true);

    const late = await webhookHarness(served, { store }).send(signedRequest(fullTotal));
    const completed = await webhookHarness(served, { store }).send(signedRequest(completion));

    expect(late.body).toMatchObject({ outcome: 'needs_attention' });
    expect(completed.status).toBe(200);
    expect((await checked.bookings()).map((booking) => booking.status)).toEqual(['confirmed']);
    expect(served.totalRefunded(paymentId)).toBe(3_000);
    const record = await store.getPaymentRecord(paymentId);
    expect(record).toMatchObject({ status: 'needs_attention', amountRefunded: 3_000 });
    expect(reasonsOf(record?.attention).map((known) => known.reason)).toContain('full_refund_stale');
  });

  it('booked before payment records existed: nothing is released, the trip stays booked', async () => {
    const checked = await checkedOutTrip(store, served);
    await checked.pay();
    const paymentId = checked.paymentIntent();
    await testDocumentClient().send(new DeleteCommand({ TableName: testTableName(), Key: keys.paymentRecord(paymentId) }));
    const fullTotal = await fullFailedThenPartial(checked, paymentId);

    const late = await webhookHarness(served, { store }).send(signedRequest(fullTotal));

    expect(late.body).toMatchObject({ outcome: 'partial_refund_recorded' });
    expect((await checked.trip())?.status).toBe('booked');
    expect((await checked.bookings()).map((booking) => booking.status)).toEqual(['confirmed']);
    expect(served.totalRefunded(paymentId)).toBe(3_000);
    expect(await store.getPaymentRecord(paymentId)).toBeUndefined();
  });
});
