// Operator commands overtaken, between their read and their write, by Stripe's events, a checkout or the same command:
// money asked for once, seats back once, held seats never removed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { setSlotCapacity } from '../../lambdas/shared/domain/operations';
import { cancelBooking, retryRefund } from '../../lambdas/shared/domain/payment-operations';
import { checkoutOn } from '../support/checked-out';
import { chargeRefunded, signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { bookedTripAt } from '../support/booked-trip';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { deps, readSlot, seedSlot, testStore, uniqueId } from '../support/store';
import { confirmationOf, createPendingTrip } from '../support/trips';
import { confirmTrip } from '../../lambdas/shared/domain/confirm-trip';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';

/** `store`, whose first getPaymentRecord waits until `meanwhile` (another cancellation of the same booking) has run to its end. */
function readingRecordAfter<S extends BookingStore>(store: S, meanwhile: () => Promise<unknown>): S {
  let first = true;
  return new Proxy(store, {
    get(target, property) {
      if (property === 'getPaymentRecord') {
        return async (id: string) => {
          if (first) {
            first = false;
            await meanwhile();
          }
          return target.getPaymentRecord(id);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

describe('operator commands racing Stripe, checkouts and themselves', () => {
  it('bookings cancel whose write is overtaken by a Dashboard full refund (charge.refunded): seats back once, nothing more refunded', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    const held = holdFirstCommit(t.store);
    const cancelling = cancelBooking(
      { store: held.store, gateway: t.gateway, clock: systemClock, ids: randomIds },
      { reference: t.references[0] as string, reason: 'guide ill', actorId: 'ana', refund: true },
    );
    await held.reached;
    await fake.client().refunds.create({ payment_intent: t.pi, amount: t.paid });
    const delivered = await t.webhook.send(signedRequest(chargeRefunded(t.pi, t.paid, { tripId: t.trip.tripId })));
    expect(delivered.body.outcome).toBe('released');
    held.release();
    const cancelled = await cancelling;

    expect(cancelled).toMatchObject({ ok: true, alreadyReleased: true });
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(await t.available()).toEqual([5, 5]);
    expect(await t.tripStatus()).toBe('refunded');
  });

  it('payments retry-refund run twice at once: the refused share is asked for again once', async () => {
    const t = await bookedTripAt(fake, [1, 2]);
    fake.refuseNext('charge_disputed');
    await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'guide ill'], t.gateway);
    const held = holdFirstCommit(t.store);
    const first = retryRefund({ store: held.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, t.pi, 'ana');
    await held.reached;
    const second = await retryRefund({ store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, t.pi, 'ben');
    held.release();
    const answers = [await first, second];

    expect(answers.filter((answer) => answer.ok)).toHaveLength(1);
    expect(fake.refundsOf(t.pi).filter((refund) => refund.status !== 'failed')).toHaveLength(1);
    expect(fake.totalRefunded(t.pi)).toBe(t.shares[0]);
  });

  it('bookings cancel that read its booking before another cancellation of it and the payment after: the share is asked and recorded once', async () => {
    const t = await bookedTripAt(fake, [2, 1]);
    const [reference, other] = t.references as [string, string];
    const d = { store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds };
    const input = { reference, reason: 'guide ill', actorId: 'ana', refund: true };

    const late = await cancelBooking({ ...d, store: readingRecordAfter(t.store, () => cancelBooking(d, input)) }, input);

    expect(late).toMatchObject({ ok: true, released: [], alreadyReleased: true, refund: { status: 'succeeded', amount: t.shares[0] } });
    expect(fake.refundsOf(t.pi).map((refund) => [refund.amount, refund.status])).toEqual([[t.shares[0], 'succeeded']]);
    const record = await t.record();
    expect(record.refunds.filter((entry) => entry.refundKey === t.shareKey(reference))).toMatchObject([{ status: 'succeeded', amount: t.shares[0] }]);
    expect(record).toMatchObject({ status: 'booked', amountRefunded: t.shares[0] });
    const requested = (await t.store.listAudit('payment', t.pi)).filter((entry) => entry.eventType === 'payment.refund_requested');
    expect(requested).toHaveLength(1);
    expect(await t.bookingStatus(other)).toBe('confirmed');
    expect(await t.available()).toEqual([5, 4]);
  });

  it('bookings cancel of a share Stripe cannot refund, overtaken the same way: the payment goes before a person once, audited once', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 8, priceAmount: 8_000 });
    const otherSlot = await seedSlot(store, { capacity: 8, priceAmount: 8_000 });
    // Two bookings: the one cancelled is not the trip's last, so no move of the trip refuses the late write.
    const trip = await createPendingTrip(store, [
      [slot, 3],
      [otherSlot, 2],
    ]);
    const paymentId = `pay-${uniqueId('desk')}`;
    const booked = await confirmTrip(deps(store), confirmationOf(trip, paymentId));
    if (!booked.ok) expect.fail(booked.message);
    const reference = booked.bookings.find((booking) => booking.slotId === slot.slotId)!.reference;
    const d = { store, gateway: new StripePaymentGateway(async () => fake.client()), clock: systemClock, ids: randomIds };
    const input = { reference, reason: 'guide ill', actorId: 'ana', refund: true };

    const late = await cancelBooking({ ...d, store: readingRecordAfter(store, () => cancelBooking(d, input)) }, input);

    expect(late).toMatchObject({ ok: true, released: [], alreadyReleased: true });
    // Run as a second cancellation, it says again what the first left to a person.
    expect(late).toMatchObject({ notRefundable: true });
    const audits = (await store.listAudit('payment', paymentId)).filter((entry) => entry.eventType === 'payment.needs_attention');
    expect(audits.map((entry) => entry.metadata)).toEqual([{ reason: 'not_refundable', reference, cancellation: 'guide ill' }]);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'needs_attention', attention: { reason: 'not_refundable' } });
    expect((await store.getPaymentRecord(paymentId))?.attention).not.toHaveProperty('again');
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(8);
    expect((await readSlot(store, otherSlot.slotId))?.availableCount).toBe(6);
  });

  it('slots set-capacity overtaken by a checkout holding seats: refused, no held seat removed', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 10, priceAmount: 4_500 });
    const held = holdFirstCommit(store);
    const shrinking = setSlotCapacity(deps(held.store), slot.slotId, 4, 'ana');
    await held.reached;
    await checkoutOn(store, fake, slot, 8);
    held.release();
    expect(await shrinking).toMatchObject({ ok: false, errorCode: 'CAPACITY_BELOW_BOOKED' });
    expect(await readSlot(store, slot.slotId)).toMatchObject({ capacity: 10, availableCount: 10, unheldCount: 2 });
  });
});
