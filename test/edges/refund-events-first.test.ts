// A refund's own events reaching the webhook before the call that asked for it has Stripe's answer (the stand-in delivers them before it answers, as Stripe may): what that call counts, and what the record keeps.
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { refundObject, refundStatusChange, signedRequest } from '../../scripts/dev-kit/stripe-events';
import type { FakeEvent, StripeFake } from '../../scripts/local/stripe-fake';
import { bookedTripAt } from '../support/booked-trip';
import { checkedOutTrip } from '../support/checked-out';
import { gatewayLosingRefundAnswers } from '../support/gateways';
import { ops } from '../support/ops';
import { minutesLater, testReconciler } from '../support/reconciler';
import { overwriteSlot, readSlot, testStore } from '../support/store';
import { webhookHarness } from '../support/webhook';
import { servedStripeFake } from '../support/webhook-server';
import type { Slot } from '../../lambdas/shared/domain/model';

let fake: StripeFake;
let stop: () => Promise<void>;
const store = testStore();
beforeEach(async () => {
  ({ fake, stop } = await servedStripeFake(store));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await stop();
});

/** A checked-out trip whose slot an operator blocked before it was paid; its event held back for the test to deliver. */
async function paidForBlockedSlot() {
  const trip = await checkedOutTrip(store, fake);
  await overwriteSlot({ ...((await readSlot(store, trip.slot.slotId)) as Slot), isBlocked: true });
  fake.dropNextDeliveries(1);
  const event = await trip.pay();
  return { trip, event };
}

/** Every count of every Metrics made here: the served webhook's, the harnesses', the sweep's. */
function everyMetric(): (name: string) => number {
  const added = vi.spyOn(Metrics.prototype, 'addMetric');
  return (name) => added.mock.calls.filter(([metric]) => metric === name).reduce((sum, [, , value]) => sum + Number(value ?? 1), 0);
}

/** How many times `name` was counted on a harness's metrics. */
function counted(added: { mock: { calls: unknown[][] } }, name: string): number {
  return added.mock.calls.filter(([metric]) => metric === name).length;
}

describe('a refund made by a call whose write its own events beat', () => {
  it('counts in Refunds when a redelivery makes the refund a first delivery stored and Stripe failed (500)', async () => {
    const { trip, event } = await paidForBlockedSlot();
    fake.failNext(1, 500);
    expect((await webhookHarness(fake, { store }).send(signedRequest(event))).status).toBe(500);
    const redelivery = webhookHarness(fake, { store });
    const added = vi.spyOn(redelivery.metrics, 'addMetric');

    const answer = await redelivery.send(signedRequest(event));

    expect(answer).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    // refund.created recorded the refund before the redelivery had Stripe's answer: the refund is still the redelivery's.
    expect(fake.deliveries.map((delivery) => delivery.type)).toEqual(['refund.created', 'charge.refunded']);
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(counted(added, 'Refunds')).toBe(1);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
  });

  it('refunds once when two redeliveries ask for the same stored refund at once, the refund’s events between them', async () => {
    const { trip, event } = await paidForBlockedSlot();
    fake.failNext(1, 500);
    expect((await webhookHarness(fake, { store }).send(signedRequest(event))).status).toBe(500);
    const both = [webhookHarness(fake, { store }), webhookHarness(fake, { store })];

    const answers = await Promise.all(both.map((redelivery) => redelivery.send(signedRequest(event))));

    // One made the refund, the other found it by its key or got Stripe's replay of it.
    expect(answers.map((answer) => [answer.status, answer.body.outcome])).toEqual([
      [200, 'refunded'],
      [200, 'refunded'],
    ]);
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({
      status: 'refunded',
      amountRefunded: trip.amount,
      refunds: [{ status: 'succeeded', stripeRefundId: fake.refundsOf(trip.paymentIntent())[0]?.id }],
    });
  });

  it('is one the sweep resumed (RefundsResumed) when it asks again for a share Stripe failed', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    fake.failNext(1, 500);
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway)).code).not.toBe(0);
    const sweep = testReconciler(fake, store, { clock: minutesLater(10) });

    const summary = await sweep.run();

    expect(fake.deliveries.map((delivery) => delivery.type)).toEqual(['refund.created', 'charge.refunded']);
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(fake.totalRefunded(t.pi)).toBe(t.shares[0]);
    expect(summary).toMatchObject({ refundsResumed: 1 });
    expect(sweep.metric('RefundsResumed')).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'booked', amountRefunded: t.shares[0], refunds: [{ status: 'succeeded' }] });
  });
});

describe('a refund whose charge.refunded comes before its refund.created (Stripe does not order its events)', () => {
  it('the only booking cancelled: the refund is recorded as the one Stripe made, not as superseded by its own total', async () => {
    const t = await bookedTripAt(fake, [2]);
    // Stripe's refund.created of the refund about to be made does not get through (yet); its charge.refunded does.
    fake.dropNextDeliveries(1);

    const cancelled = await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway);

    const [refund] = fake.refundsOf(t.pi);
    expect(cancelled.code).toBe(0);
    expect(cancelled.out).toContain(`succeeded: ${(t.paid / 100).toFixed(2)} EUR as ${refund?.id}`);
    expect(fake.deliveries.map((delivery) => delivery.type)).toEqual(['charge.refunded']);
    expect(await t.record()).toMatchObject({
      status: 'refunded',
      amountRefunded: t.paid,
      refunds: [{ status: 'succeeded', stripeRefundId: refund?.id, amount: t.paid }],
    });
    expect((await t.record()).refunds[0]).not.toHaveProperty('failureCode');
    expect(await t.tripStatus()).toBe('refunded');
  });

  it('the last booking cancelled, its refund.created delivered late: the late event names the refund, once', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    fake.dropNextDeliveries(1);
    // Stripe's answer to the second refund is lost: only its charge.refunded, in full, tells of it.
    const answerLost = gatewayLosingRefundAnswers(fake);
    expect((await ops(['bookings', 'cancel', t.references[1] as string, '--reason', 'guide ill'], answerLost)).code).not.toBe(0);
    const superseded = await t.record();
    const late = fake.events.filter((event) => event.type === 'refund.created').at(-1) as FakeEvent;

    const answers = [await webhookHarness(fake, { store }).send(signedRequest(late)), await webhookHarness(fake, { store }).send(signedRequest(late))];

    const [first, second] = fake.refundsOf(t.pi);
    expect(superseded).toMatchObject({ status: 'refunded', refunds: [{ status: 'succeeded' }, { status: 'superseded' }] });
    expect(answers.map((answer) => answer.body.outcome)).toEqual(['refund_updated', 'duplicate']);
    expect(await t.record()).toMatchObject({
      status: 'refunded',
      amountRefunded: t.paid,
      refunds: [
        { status: 'succeeded', stripeRefundId: first?.id },
        { status: 'succeeded', stripeRefundId: second?.id },
      ],
    });
    expect(fake.refundsOf(t.pi)).toHaveLength(2);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
  });

  it('a checkout refunded for want of seats: the delivery that asked records Stripe’s answer on the refund superseded meanwhile', async () => {
    const { trip, event } = await paidForBlockedSlot();
    fake.dropNextDeliveries(1);

    const answer = await webhookHarness(fake, { store }).send(signedRequest(event));

    const [refund] = fake.refundsOf(trip.paymentIntent());
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.deliveries.map((delivery) => delivery.type)).toEqual(['charge.refunded']);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({
      status: 'refunded',
      amountRefunded: trip.amount,
      refunds: [{ status: 'succeeded', stripeRefundId: refund?.id }],
    });
    expect(await trip.trip()).toMatchObject({ status: 'refunded' });
  });

  it('a superseded refund that Stripe made and that fails later is taken back and asked for again once', async () => {
    const t = await bookedTripAt(fake, [2]);
    fake.dropNextDeliveries(1);
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const [refund] = fake.refundsOf(t.pi);
    const named = await t.record();
    const failed = fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');

    const answer = await webhookHarness(fake, { store }).send(
      signedRequest({ ...refundStatusChange(refundObject(failed), 'pending'), created: failed.created + 3_600 }),
    );
    const retry = await ops(['payments', 'retry-refund', t.pi], t.gateway);

    expect(named).toMatchObject({ refunds: [{ status: 'pending', stripeRefundId: refund?.id }] });
    expect(answer.body.outcome).toBe('needs_attention');
    expect(retry.code).toBe(0);
    expect(fake.refundsOf(t.pi).map((made) => made.status)).toEqual(['failed', 'succeeded']);
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
  });
});

describe('what such a refund counts, whichever of its events comes first', () => {
  it('Refunds once when the charge.refunded in full of a redelivery’s refund comes before its refund.created and its answer', async () => {
    const { trip, event } = await paidForBlockedSlot();
    fake.failNext(1, 500);
    expect((await webhookHarness(fake, { store }).send(signedRequest(event))).status).toBe(500);
    const metric = everyMetric();
    fake.dropNextDeliveries(1);

    const answer = await webhookHarness(fake, { store }).send(signedRequest(event));

    // The total settled the payment (and counted it); the redelivery then named the refund it had superseded.
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.deliveries.map((delivery) => [delivery.type, JSON.parse(delivery.body).outcome])).toEqual([['charge.refunded', 'refunded']]);
    expect(metric('Refunds')).toBe(1);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({
      status: 'refunded',
      refunds: [{ status: 'succeeded', stripeRefundId: fake.refundsOf(trip.paymentIntent())[0]?.id }],
    });
  });

  it('PaymentsNeedingAttention once when Stripe makes a redelivery’s refund already failed and its refund.created comes first', async () => {
    const { trip, event } = await paidForBlockedSlot();
    fake.failNext(1, 500);
    expect((await webhookHarness(fake, { store }).send(signedRequest(event))).status).toBe(500);
    const metric = everyMetric();
    fake.nextRefundStatus('failed');

    const answer = await webhookHarness(fake, { store }).send(signedRequest(event));

    expect(answer.body.outcome).toBe('needs_attention');
    expect(fake.deliveries.map((delivery) => [delivery.type, JSON.parse(delivery.body).outcome])[0]).toEqual(['refund.created', 'needs_attention']);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed' }] });
    expect(metric('PaymentsNeedingAttention')).toBe(1);
    expect(metric('Refunds')).toBe(0);
  });

  it('PaymentsNeedingAttention once when the sweep asks again and Stripe makes the refund already failed, its refund.created first', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    fake.failNext(1, 500);
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway)).code).not.toBe(0);
    const metric = everyMetric();
    fake.nextRefundStatus('failed');
    const sweep = testReconciler(fake, store, { clock: minutesLater(10) });

    const summary = await sweep.run();

    expect(fake.deliveries.map((delivery) => [delivery.type, JSON.parse(delivery.body).outcome])[0]).toEqual(['refund.created', 'needs_attention']);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed' }] });
    expect(metric('PaymentsNeedingAttention')).toBe(1);
    // Its event answered for it: the refund is not one the sweep counts as resumed.
    expect(summary).toMatchObject({ refundsResumed: 0 });
  });

  it('RefundsResumed when the sweep’s refund brings the charge back in full before its refund.created: the sweep names it', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    fake.failNext(1, 500);
    expect((await ops(['bookings', 'cancel', t.references[1] as string, '--reason', 'guide ill'], t.gateway)).code).not.toBe(0);
    fake.dropNextDeliveries(1);
    const sweep = testReconciler(fake, store, { clock: minutesLater(10) });

    const summary = await sweep.run();

    const [, second] = fake.refundsOf(t.pi);
    expect(summary).toMatchObject({ refundsResumed: 1 });
    expect(sweep.metric('RefundsResumed')).toBe(1);
    expect(await t.record()).toMatchObject({
      status: 'refunded',
      amountRefunded: t.paid,
      refunds: [{ status: 'succeeded' }, { status: 'succeeded', stripeRefundId: second?.id }],
    });
    expect(await t.tripStatus()).toBe('refunded');
  });
});

describe('a refund superseded by a total that is not its own', () => {
  it('stays superseded and is never asked for when a Dashboard refund brought the charge back in full while Stripe failed ours', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    fake.failNext(1, 500);
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway)).code).not.toBe(0);
    const dashboard = await fake.client().refunds.create({ payment_intent: t.pi, amount: t.paid });
    const sweep = testReconciler(fake, store, { clock: minutesLater(10) });

    const summary = await sweep.run();
    for (const event of fake.events) await webhookHarness(fake, { store }).send(signedRequest(event));

    const ours = (await t.record()).refunds.find((entry) => entry.refundKey === t.shareKey(t.references[0] as string));
    expect(ours).toMatchObject({ status: 'superseded' });
    expect(ours).not.toHaveProperty('stripeRefundId');
    expect(fake.refundsOf(t.pi).map((refund) => refund.id)).toEqual([dashboard.id]);
    expect(summary).toMatchObject({ refundsResumed: 0 });
    expect(await t.record()).toMatchObject({ amountRefunded: t.paid });
  });
});
