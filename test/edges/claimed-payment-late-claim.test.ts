import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConsistency } from '../../lambdas/shared/domain/operations';
import { checkPayments } from '../../lambdas/shared/domain/payment-operations';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { paymentClaimedForAnotherTrip } from '../support/claimed-payment';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';
import { LOCAL_INDEXES, testStore } from '../support/store';

describe('review10: claimed payment', () => {
  let fake: StripeFake;
  beforeAll(async () => {
    fake = await startStripeFake();
  });
  afterAll(() => fake.close());

  /** Trip B paid 90.00 (pi_B); trip A (45.00 x guests on one slot) booked by create-booking with pi_B; B's event NOT delivered yet. */
  async function setup(slotsGuests: number[] = [1]) {
    const store = testStore();
    const { paying, paid, paymentId, other, slots, booked } = await paymentClaimedForAnotherTrip(store, fake, { guests: slotsGuests });
    expect(booked.success).toBe(true);
    const references = (booked.bookings ?? []).map((b) => b.reference as string);
    const webhook = webhookHarness(fake, { store });
    const gateway = new StripePaymentGateway(async () => fake.client());
    const deliver = async (before: number) => {
      for (const event of fake.events.slice(before)) expect((await webhook.send(signedRequest(event))).status).toBe(200);
    };
    const claim = async () => {
      expect((await webhook.send(signedRequest(paid))).body).toMatchObject({ outcome: 'needs_attention', reason: 'paid_for_another_trip' });
      expect((await store.getPaymentRecord(paymentId))?.paidForTripId).toBe(paying.tripId);
    };
    const drift = async () => {
      const report = await checkConsistency(store, LOCAL_INDEXES);
      return report.drifted.filter((d) => slots.some((s) => s.slotId === d.slotId));
    };
    const paymentProblems = async () => (await checkPayments(store)).problems.filter((p) => p.paymentId === paymentId);
    return { store, paying, paymentId, other, references, slots, webhook, gateway, deliver, claim, drift, paymentProblems };
  }

  it('raises no ops check problem for a claimed payment after the README remedy (whole charge back, trip A kept booked, resolved)', async () => {
    const t = await setup();
    await t.claim();
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded in full; A paid the caller, kept'])).code).toBe(0);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('booked');
    expect(await t.drift()).toEqual([]);
    // The documented end state of the remedy; check should have nothing to say about it.
    expect(await t.paymentProblems()).toEqual([]);
  });

  it('moves trip A, released as an ordinary full refund because B’s refund came first, to cancelled once the claim is raised', async () => {
    const t = await setup();
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    await t.claim();
    const tripA = await t.store.getTrip(t.other.tripId);
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    // docs/payment-flow.md (1485cc5): `refunded` is "Never the trip create-booking booked with a payment claimed for another".
    expect(tripA?.status).not.toBe('refunded');
  });

  it('moves trip A to cancelled once the claim is raised, when its booking was cancelled with a refund and the rest refunded before B’s event', async () => {
    const t = await setup();
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'A traveller cancelled'], t.gateway)).code).toBe(0);
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    await t.claim();
    expect(fake.totalRefunded(t.paymentId)).toBe(t.paying.amount);
    expect((await t.store.getTrip(t.other.tripId))?.status).not.toBe('refunded');
  });

  it('keeps seats right: claimed, A (two bookings) cancelled one with refund one without, then Dashboard rest, resolve: A cancelled, seats add up', async () => {
    const t = await setup([1, 2]);
    await t.claim();
    expect((await ops(['bookings', 'cancel', t.references[0] as string, '--reason', 'x'], t.gateway)).code).toBe(0);
    expect((await ops(['bookings', 'cancel', t.references[1] as string, '--reason', 'y', '--no-refund'], t.gateway)).code).toBe(0);
    const before = fake.events.length;
    await fake.client().refunds.create({ payment_intent: t.paymentId });
    await t.deliver(before);
    expect((await ops(['payments', 'resolve', t.paymentId, '--note', 'B refunded'])).code).toBe(0);
    expect((await t.store.getTrip(t.other.tripId))?.status).toBe('cancelled');
    expect(await t.drift()).toEqual([]);
    for (const slot of t.slots) expect((await t.store.getSlots([slot.slotId])).get(slot.slotId)?.availableCount).toBe(5);
  });

  it('after the claim, a concurrent cancellation of both of A’s bookings after the claim: trip A never left booked with none confirmed', async () => {
    const t = await setup([1, 1]);
    await t.claim();
    const results = await Promise.all(t.references.map((ref) => ops(['bookings', 'cancel', ref, '--reason', 'c', '--no-refund'], t.gateway)));
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const trip = await t.store.getTrip(t.other.tripId);
    const bookings = await t.store.getBookings(trip?.bookingReferences ?? []);
    expect(bookings.every((b) => b.status === 'cancelled')).toBe(true);
    expect(trip?.status).toBe('cancelled');
    expect(await t.drift()).toEqual([]);
  });
});
