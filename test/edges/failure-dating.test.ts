// A refund's failure learned without its time (looking it up, or a refund.updated), then dated by Stripe's refund.failed:
// only the totals that counted the refund come off, once; an event sent later than the lookup dates nothing past it; and
// the two events of one failure, racing and redelivered, end as one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chargeTotalInDoubt } from '../../lambdas/shared/domain/payment-ledger';
import { chargeRefunded, refundObject, refundStatusChange, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { BOOKED_TRIP_PRICE, bookedTripAt, cancelledWithAnswerLost } from '../support/booked-trip';
import { holdFirstCommit } from '../support/held-store';
import { ops } from '../support/ops';
import { webhookHarness } from '../support/webhook';

const PRICE = BOOKED_TRIP_PRICE;

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/**
 * Two bookings of 45.00; the first is cancelled with a refund Stripe takes (pending) but whose answer is lost, and it
 * fails at the bank. `lookUp` then lets a minute pass on Stripe's clock and the operator's retry finds it failed: learned
 * without its time, no later than `created + 60`.
 */
async function shareThatFailed() {
  const t = await bookedTripAt(fake, [1, 1]);
  const [first, second] = t.references as [string, string];
  await cancelledWithAnswerLost(fake, t, first);
  const [ours] = fake.refundsOf(t.pi);
  const created = ours?.created as number;
  fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
  const lookUp = async (): Promise<void> => {
    fake.advance(60_000);
    await ops(['payments', 'retry-refund', t.pi], t.gateway);
    const looked = (await t.record()).refunds[0];
    expect(looked).toMatchObject({ status: 'failed', providerCreated: created });
    // At least a minute after its creation, by Stripe's clock.
    expect(looked?.failedNoLaterThan).toBeGreaterThanOrEqual(created + 60);
  };
  const dateFailure = (at: number) => t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(ours as never)), created: at }));
  const total = (refunded: number, at: number) =>
    t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded, tripId: t.trip.tripId }), created: at }));
  return { t, second, created, lookUp, dateFailure, total };
}

describe('the refund’s own total, of the second Stripe created it, and the lookup', () => {
  it('comes off once whichever comes first: delivered after the lookup, when Stripe dates the failure', async () => {
    const { t, created, lookUp, dateFailure, total } = await shareThatFailed();
    await lookUp();
    await total(PRICE, created);
    expect(chargeTotalInDoubt(await t.record())).toBe(true);
    expect((await ops(['payments', 'show', t.pi])).out).toMatch(/^refunded\s+45\.00 EUR \(Stripe’s total, which may still count a refund that failed\)$/m);

    expect((await dateFailure(created + 40)).body.outcome).toBe('refund_updated');
    expect((await ops(['payments', 'show', t.pi])).out).toMatch(/^refunded\s+0\.00 EUR$/m);

    // Nothing is back at Stripe: that total counted only the share that failed, which is asked for again in full.
    expect(await t.record()).toMatchObject({ chargeRefunded: 0, amountRefunded: 0 });
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toBe('');
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
  });

  it('comes off once whichever comes first: delivered before the lookup, and dating it takes nothing more', async () => {
    const { t, created, lookUp, dateFailure, total } = await shareThatFailed();
    await total(PRICE, created);
    await lookUp();
    expect(await t.record()).toMatchObject({ chargeRefunded: 0 });
    expect(chargeTotalInDoubt(await t.record())).toBe(false);

    await dateFailure(created + 40);

    expect(await t.record()).toMatchObject({ chargeRefunded: 0, amountRefunded: 0 });
    expect((await t.record()).refunds[0]?.offTotalTakenAt).toBeUndefined();
  });
});

describe('a refund.failed of the failed refund created after the lookup (clocks apart): it dates nothing', () => {
  it('takes nothing off a total of a Dashboard refund taken since: the retry does not pay the share twice', async () => {
    const { t, second, created, lookUp, dateFailure, total } = await shareThatFailed();
    await lookUp();
    // Support pays the first share back in the Dashboard; Stripe's total of it (45.00, at +70) arrives.
    fake.advance(10_000);
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    await total(PRICE, created + 70);
    expect(await ops(['payments', 'retry-refund', t.pi], t.gateway)).toMatchObject({ code: 1, err: expect.stringContaining('REFUND_UNCLEAR') });

    await dateFailure(created + 80);

    expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, chargeRefundedAsOf: created + 70 });
    await ops(['payments', 'retry-refund', t.pi], t.gateway);
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(await t.bookingStatus(second)).toBe('confirmed');
  });

  it.each([{ dated: true }, { dated: false }])('still releases on a full total taken after the lookup (dated first: $dated)', async ({ dated }) => {
    const { t, second, created, lookUp, dateFailure, total } = await shareThatFailed();
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    await lookUp();
    // Support refunds the rest in the Dashboard at +70: the whole charge is back, the failed share not in it.
    fake.advance(10_000);
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    if (dated) await dateFailure(created + 80);

    const answer = await total(t.paid, created + 70);

    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(answer.body.outcome).toBe('released');
    expect(await t.bookingStatus(second)).toBe('cancelled');
    expect(await t.available()).toEqual([5, 5]);
  });
});

describe('a higher total of the same second as the one the failure came off when it was learned', () => {
  it('is in doubt (it counts the failed share again), a cancellation says so, and Stripe’s refund.failed takes the share off it', async () => {
    const { t, second, created, lookUp, dateFailure, total } = await shareThatFailed();
    // Support paid 45.00 back in the Dashboard in the share's own second; Stripe's totals of it: 45.00, then 90.00.
    await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
    await total(PRICE, created);
    await lookUp();
    expect(await t.record()).toMatchObject({ chargeRefunded: 0, refunds: [{ offTotalTakenAt: created }] });

    await total(t.paid, created);

    expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    expect(chargeTotalInDoubt(await t.record())).toBe(true);
    expect((await ops(['bookings', 'cancel', second, '--reason', 'changed plans'], t.gateway)).out).toContain('cut short');
    expect(await dateFailure(created + 40)).toMatchObject({ body: { outcome: 'refund_updated' } });
    expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, amountRefunded: PRICE });
  });
});

describe('a refund.updated of the failed refund (any later update of it): its time is not the failure’s', () => {
  it.each([{ totalFirst: true }, { totalFirst: false }])(
    'dates nothing: a Dashboard refund made before the lookup stays counted and in doubt (its total first: $totalFirst)',
    async ({ totalFirst }) => {
      const { t, second, created, lookUp, total } = await shareThatFailed();
      // Support pays the first share back by hand five seconds later; the lookup comes a minute after that.
      fake.advance(5_000);
      await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      await lookUp();
      const [ours] = fake.refundsOf(t.pi);
      const laterUpdate = () => t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(ours as never)), created: created + 30 }));

      if (totalFirst) await total(PRICE, created + 5);
      expect((await laterUpdate()).body.outcome).toBe('duplicate');
      if (!totalFirst) await total(PRICE, created + 5);

      expect(await t.record()).toMatchObject({ chargeRefunded: PRICE });
      // Whether the 45.00 back was this share cannot be told: the retry asks a person, and pays nothing twice.
      expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toContain('REFUND_UNCLEAR');
      expect(fake.totalRefunded(t.pi)).toBe(PRICE);
      expect(await t.bookingStatus(second)).toBe('confirmed');
    },
  );
});

describe('a refund.updated that tells of the failure first (its refund.failed delayed): its time is not the failure’s', () => {
  it.each([{ totalFirst: true }, { totalFirst: false }])(
    'a Dashboard refund made after the failure is not taken for the share, and nothing is paid twice (its total first: $totalFirst)',
    async ({ totalFirst }) => {
      const t = await bookedTripAt(fake, [1, 1]);
      const [first, second] = t.references as [string, string];
      await cancelledWithAnswerLost(fake, t, first);
      const [ours] = fake.refundsOf(t.pi);
      const created = ours?.created as number;
      // The share fails at the bank; support pays it back by hand 20 s later; an update of the failed refund comes at +30.
      const failed = fake.setRefundStatus(ours?.id as string, 'failed', 'expired_or_canceled_card');
      fake.advance(20_000);
      await fake.client().refunds.create({ payment_intent: t.pi, amount: PRICE });
      const update = () => t.webhook.send(signedRequest({ ...stripeEvent('refund.updated', refundObject(failed)), created: created + 30 }));
      const total = () => t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 20 }));

      if (totalFirst) await total();
      expect((await update()).body.outcome).toBe('needs_attention');
      if (!totalFirst) await total();

      // The 45.00 back may be the share or other money: the retry asks a person, and pays nothing.
      expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, refunds: [{ status: 'failed', failedNoLaterThan: created + 30 }] });
      expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toContain('REFUND_UNCLEAR');
      expect(fake.totalRefunded(t.pi)).toBe(PRICE);

      // Stripe's refund.failed, created when the share failed, comes at last: the total was taken after it, other money.
      const dated = await t.webhook.send(signedRequest({ ...stripeEvent('refund.failed', refundObject(failed)), created }));
      expect(dated.body.outcome).toBe('refund_updated');
      expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, amountRefunded: PRICE });
      expect((await t.record()).refunds[0]?.failedNoLaterThan).toBeUndefined();
      await ops(['payments', 'retry-refund', t.pi], t.gateway);
      expect(fake.totalRefunded(t.pi)).toBe(PRICE);
      expect(await t.bookingStatus(second)).toBe('confirmed');
    },
  );
});

describe('a refund canceled, told only by refund.updated (Stripe sends no refund.failed for it)', () => {
  /**
   * Both bookings cancelled: the first share's refund waits on the customer (requires_action), the second's succeeds, and
   * Stripe's total of the second's creation (the whole charge) is recorded. A minute later the first refund is canceled.
   */
  async function bothCancelledFirstCanceled() {
    const t = await bookedTripAt(fake, [1, 1]);
    const [first, second] = t.references as [string, string];
    fake.nextRefundStatus('requires_action');
    expect((await ops(['bookings', 'cancel', first, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    fake.advance(10_000);
    expect((await ops(['bookings', 'cancel', second, '--reason', 'guide ill'], t.gateway)).code).toBe(0);
    const [waiting, other] = fake.refundsOf(t.pi);
    const total = await t.webhook.send(
      signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: t.paid, tripId: t.trip.tripId }), created: other?.created as number }),
    );
    expect(total.body.outcome).toBe('refund_recorded');
    fake.advance(60_000);
    const canceled = fake.setRefundStatus(waiting?.id as string, 'canceled');
    const canceledAt = (other?.created as number) + 60;
    return { t, canceled, canceledAt };
  }

  it('the refund.updated of the change itself dates it: the share comes off the total, and the retry asks for it once', async () => {
    const { t, canceled, canceledAt } = await bothCancelledFirstCanceled();

    const told = await t.webhook.send(signedRequest({ ...refundStatusChange(refundObject(canceled), 'requires_action'), created: canceledAt }));

    expect(told.body.outcome).toBe('needs_attention');
    expect(chargeTotalInDoubt(await t.record())).toBe(false);
    expect(await t.record()).toMatchObject({ chargeRefunded: PRICE, amountRefunded: PRICE });
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toBe('');
    // Run again, it finds nothing left to ask for.
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toContain('NOTHING_TO_RETRY');
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
  });

  it('a later update alone leaves it in doubt for a person (nothing paid), until the change’s own event comes', async () => {
    const { t, canceled, canceledAt } = await bothCancelledFirstCanceled();
    const later = signedRequest({ ...stripeEvent('refund.updated', refundObject(canceled)), created: canceledAt + 30 });
    expect((await t.webhook.send(later)).body.outcome).toBe('needs_attention');

    expect(chargeTotalInDoubt(await t.record())).toBe(true);
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toContain('REFUND_UNCLEAR');
    expect(fake.totalRefunded(t.pi)).toBe(PRICE);

    // The change's own refund.updated, delivered late (or found by the reconciliation), dates it.
    const change = signedRequest({ ...refundStatusChange(refundObject(canceled), 'requires_action'), created: canceledAt });
    expect((await t.webhook.send(change)).body.outcome).toBe('refund_updated');
    expect((await t.webhook.send(change)).body.outcome).toBe('duplicate');
    expect((await ops(['payments', 'retry-refund', t.pi], t.gateway)).err).toBe('');
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
  });
});
describe('refund.updated and refund.failed of one failure processed at once, then delivered again', () => {
  type FakeRefund = ReturnType<StripeFake['refundsOf']>[number];
  const refundEvent = (type: string, refund: FakeRefund, created: number) => signedRequest({ ...stripeEvent(type, refundObject(refund)), created });
  it.each([{ held: 'refund.failed' }, { held: 'refund.updated' }])(
    'ends as in sequence when $held is read before the other commits, then is redelivered',
    async ({ held }) => {
      const t = await bookedTripAt(fake, [1, 1]);
      await cancelledWithAnswerLost(fake, t, t.references[0] as string);
      const [ours] = fake.refundsOf(t.pi) as [FakeRefund];
      const created = ours.created;
      // A total that counted the share (taken 5 s after its creation, before it failed at +10).
      await t.webhook.send(signedRequest({ ...chargeRefunded(t.pi, t.paid, { refunded: PRICE, tripId: t.trip.tripId }), created: created + 5 }));
      const failed = fake.setRefundStatus(ours.id, 'failed', 'expired_or_canceled_card');
      const failedEvent = refundEvent('refund.failed', failed, created + 10);
      // A later update of it, not the change itself: it dates nothing.
      const updatedEvent = refundEvent('refund.updated', failed, created + 30);
      const [first, other] = held === 'refund.failed' ? [failedEvent, updatedEvent] : [updatedEvent, failedEvent];

      const holding = holdFirstCommit(t.store);
      const slow = webhookHarness(fake, { store: holding.store });
      const pending = slow.send(first);
      await holding.reached;
      const quick = await t.webhook.send(other);
      holding.release();
      const late = await pending;

      expect([quick.status, late.status]).toEqual([200, 200]);
      expect(await t.record()).toMatchObject({ chargeRefunded: 0, amountRefunded: 0, refunds: [{ status: 'failed' }] });
      expect((await t.record()).refunds[0]?.failedNoLaterThan).toBeUndefined();
      // Redelivered, each is a duplicate and changes nothing.
      const version = (await t.record()).version;
      expect((await t.webhook.send(failedEvent)).body.outcome).toBe('duplicate');
      expect((await t.webhook.send(updatedEvent)).body.outcome).toBe('duplicate');
      expect((await t.record()).version).toBe(version);
      await ops(['payments', 'retry-refund', t.pi], t.gateway);
      expect(fake.totalRefunded(t.pi)).toBe(PRICE);
    },
  );
});
