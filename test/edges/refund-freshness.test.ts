// Which refunds a call may ask Stripe for without looking them up first: only those it has just stored itself. Over
// DynamoDB Local and the Stripe fake: a cancel suspended for a day between its write and its ask, and another call's
// share stamped at the very instant of this call's write, each refunded once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomIds, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';
import type { Slot } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { RESUME_AFTER_MS, resumeRequestedRefunds } from '../../lambdas/shared/domain/resume-refunds';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { checkoutSession, paymentIntentId, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { gatewayWithRefund } from '../support/gateways';
import { scopedToAccount } from '../support/reconciler';
import { seedSlot, testStore } from '../support/store';
import { createPendingTrip } from '../support/trips';
import { webhookHarness } from '../support/webhook';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

const store = testStore();
const realGateway = () => new StripePaymentGateway(async () => fake.client());

const fixedAt = (date: Date): Clock => ({ now: () => date });

/** A trip of `count` slots at 1,000 each, paid and booked: one booking a slot, each with a share of its own to refund. */
async function bookedShares(count = 2) {
  const slots: Slot[] = [];
  for (let i = 0; i < count; i++) slots.push(await seedSlot(store, { capacity: 4, priceAmount: 1_000 }));
  const created = await createPendingTrip(
    store,
    slots.map((slot) => [slot, 1] as [Slot, number]),
  );
  const paymentId = paymentIntentId();
  fake.registerPayment(paymentId, created.amount);
  const booked = await webhookHarness(fake, { store }).send(
    signedRequest(stripeEvent('checkout.session.completed', checkoutSession(created, { paymentIntent: paymentId }))),
  );
  expect(booked.body.outcome).toBe('booked');
  return { paymentId, bookings: await store.listBookingsOfTrip(created.tripId) };
}

describe("an operator's cancel paused for over a day between storing the share and asking Stripe for it", () => {
  it("refunds the share once: the sweep made it meanwhile, and Stripe has forgotten the sweep's key by the time the cancel asks", async () => {
    const { paymentId, bookings } = await bookedShares(2);
    const [first] = bookings;
    // The operator's own clock (a right one): it moves on while the process is suspended (Ctrl-Z, a laptop lid shut).
    const start = Date.now();
    let elapsed = 0;
    const operatorClock: Clock = { now: () => new Date(start + elapsed) };
    let paused = false;
    // The cancel's transaction lands; the process is then suspended before it asks Stripe.
    const pausedAfterCommit = new Proxy(store, {
      get(target, property) {
        if (property === 'commit') {
          return async (write: Parameters<BookingStore['commit']>[0]) => {
            const result = await target.commit(write);
            if (!paused && result.committed) {
              paused = true;
              // Meanwhile, 6 minutes on, the sweep resumes the share: not found at Stripe, asked for, made, recorded.
              const swept = await resumeRequestedRefunds({
                store: scopedToAccount(fake, store),
                gateway: realGateway(),
                clock: fixedAt(new Date(start + RESUME_AFTER_MS + MINUTE_MS)),
                ids: randomIds,
              });
              expect(swept.payments).toEqual([expect.objectContaining({ status: 'answered' })]);
              expect(fake.totalRefunded(paymentId)).toBe(1_000);
              // The process resumes 25 hours later: Stripe has forgotten the key the sweep used.
              fake.advance(25 * HOUR_MS);
              elapsed = 25 * HOUR_MS;
            }
            return result;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });

    const cancelled = await cancelBooking(
      { store: pausedAfterCommit, gateway: realGateway(), clock: operatorClock, ids: randomIds },
      { reference: first?.reference as string, reason: 'guide ill', refund: true },
    );

    expect(paused).toBe(true);
    expect(cancelled).toMatchObject({ ok: true, refund: { status: 'succeeded', amount: 1_000 } });
    // One share of 1,000 was owed back.
    expect(fake.totalRefunded(paymentId)).toBe(1_000);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });
});

describe('another call storing a share at the very instant an older share of the same payment is stamped with', () => {
  it('looks the older share up rather than asking for it as if it were its own', async () => {
    // Three bookings of 1,000 each (3,000 paid); two are cancelled, so 2,000 is owed back and the third stays booked.
    const { paymentId, bookings } = await bookedShares(3);
    const [first, second] = bookings;
    // An operator's laptop 25 hours ahead stamps the first share T; Stripe makes it, its answer is lost.
    const stamp = new Date(Date.now() + 25 * HOUR_MS);
    const answerLost = gatewayWithRefund(fake, async (request, real) => {
      await real.refund(request);
      throw new PaymentGatewayUnavailableError('Stripe did not answer in time');
    });
    const lost = await cancelBooking(
      { store, gateway: answerLost, clock: fixedAt(stamp), ids: randomIds },
      { reference: first?.reference as string, reason: 'guide ill', refund: true },
    ).catch((error: unknown) => error);
    expect(lost).toBeInstanceOf(PaymentGatewayUnavailableError);
    expect(fake.totalRefunded(paymentId)).toBe(1_000);

    // 25 hours on (Stripe has forgotten the key), a right clock cancels the second booking at that same millisecond T.
    fake.advance(25 * HOUR_MS);
    const cancelled = await cancelBooking(
      { store, gateway: realGateway(), clock: fixedAt(new Date(stamp.getTime())), ids: randomIds },
      { reference: second?.reference as string, reason: 'guide ill', refund: true },
    );

    expect(cancelled).toMatchObject({ ok: true, refund: { status: 'succeeded', amount: 1_000 } });
    // Two shares of 1,000: 2,000 back, in two refunds, not the first share twice.
    expect(fake.totalRefunded(paymentId)).toBe(2_000);
    expect(
      fake
        .refundsOf(paymentId)
        .map((refund) => refund.metadata.refund_key)
        .sort(),
    ).toEqual([`refund-${paymentId}-${first?.reference}`, `refund-${paymentId}-${second?.reference}`].sort());
  });
});
