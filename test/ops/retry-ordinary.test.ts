// payments retry-refund in ordinary operator life, over DynamoDB Local and the Stripe fake: every refund made by this
// service, Stripe's events in their usual order (each refund's charge.refunded in the second Stripe created the refund,
// carrying the running total; refund.updated later). A refund refused or failed is asked again in full, never answered
// REFUND_UNCLEAR (nothing came back outside this service) nor NOTHING_TO_RETRY.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOOKED_TRIP_CAPACITY, BOOKED_TRIP_PRICE, bookedTripAt, type BookedTripOptions } from '../support/booked-trip';
import type { PaymentRecord } from '../../lambdas/shared/domain/model';
import type { PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { startStripeFake, type FakeRefund, type StripeFake } from '../../scripts/local/stripe-fake';
import {
  chargeRefunded,
  checkoutSession,
  paymentIntentId,
  refundObject,
  refundStatusChange,
  signedRequest,
  stripeEvent,
} from '../../scripts/dev-kit/stripe-events';
import { overwriteSlot, readSlot, seedSlot, testStore } from '../support/store';
import { createPendingTrip } from '../support/trips';
import { gatewayLosingRefundAnswers } from '../support/gateways';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';

/** Each slot's price a guest, and its capacity, as the shared booked trip seeds them. */
const PRICE = BOOKED_TRIP_PRICE;
const CAPACITY = BOOKED_TRIP_CAPACITY;
/** How long after the refund's creation Stripe tells us it failed (refund.updated), in seconds. */
const LATER = 3_600;

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** The shared booked trip (test/support/booked-trip.ts), with the events of Stripe this file sends about its payment. */
async function bookedTrip(guests: readonly number[], options: BookedTripOptions = {}) {
  const t = await bookedTripAt(fake, guests, options);
  return { ...handles(t.store, t.webhook, t.trip.tripId, t.pi, t.paid), trip: t.trip, slots: t.slots, references: t.references, shares: t.shares };
}

/** What every case reads and sends, for a payment `pi` of `paid` on trip `tripId`. */
function handles(store: ReturnType<typeof testStore>, webhook: ReturnType<typeof webhookHarness>, tripId: string, pi: string, paid: number) {
  return {
    store,
    webhook,
    pi,
    paid,
    gateway: new StripePaymentGateway(async () => fake.client()),
    tripStatus: async () => (await store.getTrip(tripId))?.status,
    record: async () => (await store.getPaymentRecord(pi)) as PaymentRecord,
    bookingStatus: async (reference: string) => (await store.getBookings([reference]))[0]?.status,
    shareKey: (reference: string) => `refund-${pi}-${reference}`,
    /** Stripe's charge.refunded for `refund`: created in the second of the refund, with the charge's running total. */
    chargeRefundedFor: async (refund: FakeRefund | undefined) => {
      expect(refund).toBeDefined();
      const event = { ...chargeRefunded(pi, paid, { refunded: fake.totalRefunded(pi), tripId }), created: (refund as FakeRefund).created };
      return (await webhook.send(signedRequest(event))).body.outcome;
    },
    /** Stripe's refund.updated of `refund`'s change from pending to its status now, `LATER` seconds after its creation. */
    refundUpdated: async (refund: FakeRefund) => {
      const event = { ...refundStatusChange(refundObject(refund), 'pending'), created: refund.created + LATER };
      return (await webhook.send(signedRequest(event))).body.outcome;
    },
  };
}

/** The newest refund of the payment at the fake. */
const newest = (pi: string): FakeRefund | undefined => fake.refundsOf(pi).at(-1);

/** Money at the fake: never more back than paid, and each booking's share (retries included) back at most once. */
function expectEachShareRefundedAtMostOnce(pi: string, paid: number): void {
  expect(fake.totalRefunded(pi)).toBeLessThanOrEqual(paid);
  const live = fake.refundsOf(pi).filter((refund) => refund.status !== 'failed' && refund.status !== 'canceled');
  const shares = live.map((refund) => (refund.metadata.refund_key ?? '').replace(/-retry-\d+$/, ''));
  expect(new Set(shares).size).toBe(shares.length);
}

/** What a retry said and did, in one object so a failure shows all of it at once. */
async function retried(t: { pi: string; gateway: PaymentGateway }) {
  const before = fake.refundsOf(t.pi).length;
  const result = await ops(['payments', 'retry-refund', t.pi, '--actor', 'ana'], t.gateway);
  return {
    ...result,
    askedAtStripe: fake
      .refundsOf(t.pi)
      .slice(before)
      .map((refund) => refund.amount),
  };
}

describe('payments retry-refund in ordinary operator life (every refund ours, Stripe’s events in their usual order)', () => {
  it('1. asks in full a share refused for good (charge_disputed) on a 2-booking trip, the other booking confirmed', async () => {
    const t = await bookedTrip([1, 2]);
    const [first, second] = t.references as [string, string];
    const [share, otherShare] = t.shares as [number, number];
    fake.refuseNext('charge_disputed');
    const cancelled = await ops(['bookings', 'cancel', first, '--reason', 'guide ill', '--actor', 'ana'], t.gateway);
    expect(cancelled.code).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', failureCode: 'charge_disputed' }] });

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('partial_refund_recorded');

    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [share] });
    expect(fake.totalRefunded(t.pi)).toBe(share);
    expect(await t.record()).toMatchObject({ status: 'booked', amountPaid: t.paid, amountRefunded: share });
    expect((await t.record()).attention).toBeUndefined();
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.bookingStatus(second)).toBe('confirmed');
    expect(t.paid - share).toBe(otherShare);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('2. asks in full a refused share after the other booking was cancelled and refunded (its charge.refunded delivered): trip and record refunded', async () => {
    const t = await bookedTrip([1, 2]);
    const [first, second] = t.references as [string, string];
    const [share, otherShare] = t.shares as [number, number];
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    const other = await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway);
    expect(other.code).toBe(0);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('partial_refund_recorded');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', amountRefunded: otherShare, chargeRefunded: otherShare });

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBeDefined();

    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [share] });
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountPaid: t.paid, amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expect(await t.bookingStatus(first)).toBe('cancelled');
    expect(await t.bookingStatus(second)).toBe('cancelled');
    expect(await Promise.all(t.slots.map(async (slot) => (await readSlot(t.store, slot.slotId))?.availableCount))).toEqual([CAPACITY, CAPACITY]);
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('3. asks in full a share whose pending refund was counted by charge.refunded, then failed (refund.updated): the other booking confirmed', async () => {
    const t = await bookedTrip([1, 2]);
    const [first, second] = t.references as [string, string];
    const share = t.shares[0] as number;
    fake.nextRefundStatus('pending');
    const cancelled = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway);
    expect(cancelled.code).toBe(0);
    const ours = newest(t.pi) as FakeRefund;
    expect(await t.chargeRefundedFor(ours)).toBe('partial_refund_recorded');
    expect(await t.record()).toMatchObject({ chargeRefunded: share, refunds: [{ status: 'pending' }] });
    const failed = fake.setRefundStatus(ours.id, 'failed', 'expired_or_canceled_card');
    expect(await t.refundUpdated(failed)).toBe('needs_attention');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed' }] });

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('partial_refund_recorded');

    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [share] });
    expect(fake.totalRefunded(t.pi)).toBe(share);
    expect(await t.record()).toMatchObject({ status: 'booked', amountRefunded: share });
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.bookingStatus(second)).toBe('confirmed');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('3b. as 3, with the other booking cancelled and refunded while the first refund was still pending: asked in full, trip and record refunded', async () => {
    const t = await bookedTrip([1, 2]);
    const [first, second] = t.references as [string, string];
    const [share, otherShare] = t.shares as [number, number];
    fake.nextRefundStatus('pending');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const ours = newest(t.pi) as FakeRefund;
    expect(await t.chargeRefundedFor(ours)).toBe('partial_refund_recorded');
    // The operator's second command a moment later: its refund, and Stripe's total of it, of a later second than the first.
    fake.advance(2_000);
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    // Stripe's total of the second refund still counts the first, pending then.
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('refund_recorded');
    const failed = fake.setRefundStatus(ours.id, 'failed', 'expired_or_canceled_card');
    expect(await t.refundUpdated(failed)).toBe('needs_attention');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', chargeRefunded: otherShare, amountRefunded: otherShare });

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBeDefined();

    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [share] });
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('4. asks in full a share whose create answer was lost, counted by charge.refunded, then found failed by looking it up: the other booking confirmed', async () => {
    const t = await bookedTrip([1, 2]);
    const [first, second] = t.references as [string, string];
    const share = t.shares[0] as number;
    // Stripe makes the refund (pending); its answer is lost on the way back: the share stays requested.
    const answerLost = gatewayLosingRefundAnswers(fake);
    fake.nextRefundStatus('pending');
    const cancelled = await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], answerLost);
    expect(cancelled).toMatchObject({ code: 1, err: expect.stringContaining('STRIPE_UNAVAILABLE') });
    expect(await t.record()).toMatchObject({ refunds: [{ status: 'requested', amount: share }] });
    const ours = newest(t.pi) as FakeRefund;
    expect(await t.chargeRefundedFor(ours)).toBe('partial_refund_recorded');
    // It fails at the bank; the operator's first retry looks it up by its key and learns so.
    fake.setRefundStatus(ours.id, 'failed', 'expired_or_canceled_card');
    const lookup = await retried(t);
    expect(lookup.askedAtStripe).toEqual([]);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', stripeRefundId: ours.id }] });

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('partial_refund_recorded');

    expect(lookup.err).not.toContain('REFUND_UNCLEAR');
    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [share] });
    expect(fake.totalRefunded(t.pi)).toBe(share);
    expect(await t.record()).toMatchObject({ status: 'booked', amountRefunded: share });
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.bookingStatus(second)).toBe('confirmed');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('5. asks in full the refused whole refund of an unbookable trip (its slot blocked before payment): the trip refunded', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: CAPACITY, priceAmount: PRICE });
    const trip = await createPendingTrip(store, [[slot, 2]]);
    await overwriteSlot({ ...slot, isBlocked: true });
    const pi = paymentIntentId();
    fake.registerPayment(pi, trip.amount);
    const t = handles(store, webhookHarness(fake, { store }), trip.tripId, pi, trip.amount);
    fake.refuseNext('charge_disputed');
    const paid = await t.webhook.send(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: pi }))));
    expect(paid.body.outcome).toBe('needs_attention');
    expect(await t.record()).toMatchObject({ status: 'needs_attention', refunds: [{ status: 'failed', amount: t.paid }] });

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBeDefined();

    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [t.paid] });
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(await t.record()).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
    expect(await t.tripStatus()).toBe('refunded');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('6. asks in full a refused share of a discounted payment (amount_subtotal, total_details.amount_discount)', async () => {
    const t = await bookedTrip([1, 2], { discount: 1_500 });
    const [first, second] = t.references as [string, string];
    const [share, otherShare] = t.shares as [number, number];
    expect(t.paid).toBe(3 * PRICE - 1_500);
    expect(share + otherShare).toBe(t.paid);
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(1);

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('partial_refund_recorded');

    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [share] });
    expect(fake.totalRefunded(t.pi)).toBe(share);
    expect(await t.record()).toMatchObject({ status: 'booked', amountRefunded: share });
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.bookingStatus(second)).toBe('confirmed');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });

  it('7. asks the refused share in full on a three-booking trip: one refunded fine (charge.refunded delivered), one refused, one confirmed', async () => {
    const t = await bookedTrip([1, 1, 1]);
    const [first, second, third] = t.references as [string, string, string];
    const [firstShare, secondShare] = t.shares as [number, number, number];
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('partial_refund_recorded');
    fake.refuseNext('charge_disputed');
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(1);
    expect(await t.record()).toMatchObject({ status: 'needs_attention', amountRefunded: firstShare });

    const retry = await retried(t);
    expect(await t.chargeRefundedFor(newest(t.pi))).toBe('partial_refund_recorded');

    expect(retry.err).not.toContain('REFUND_UNCLEAR');
    expect(retry).toMatchObject({ code: 0, askedAtStripe: [secondShare] });
    expect(fake.totalRefunded(t.pi)).toBe(firstShare + secondShare);
    expect(await t.record()).toMatchObject({ status: 'booked', amountRefunded: firstShare + secondShare });
    expect(await t.tripStatus()).toBe('booked');
    expect(await t.bookingStatus(third)).toBe('confirmed');
    expectEachShareRefundedAtMostOnce(t.pi, t.paid);
  });
});
