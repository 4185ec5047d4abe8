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
import { deps, readSlot, seedSlot, testStore } from '../support/store';

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
