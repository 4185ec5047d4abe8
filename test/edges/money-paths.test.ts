// Refunds at their edges, over DynamoDB Local and the Stripe fake: Stripe refusing for now other than with a 500, its
// failure processed mid-run, a key forgotten under a stamp from a clock ahead (asked again by the sweep, an operator, or a
// call stamping the same instant), a call suspended for a day between storing a share and asking for it, a share recorded
// by another call between an ask and its write, and a traveller's return racing the webhook on a refund.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomIds, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';
import type { PaymentRecord, Slot } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { issueRequestedRefunds } from '../../lambdas/shared/domain/issue-refunds';
import { cancelBooking, retryRefund } from '../../lambdas/shared/domain/payment-operations';
import { RESUME_AFTER_MS } from '../../lambdas/shared/domain/resume-refunds';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { tripRequest } from '../../scripts/dev-kit/api-gateway-events';
import { createLocalTripHandler } from '../../scripts/dev-kit/local-trip-handler';
import { checkoutSession, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake, type TransientFailure } from '../../scripts/local/stripe-fake';
import { checkedOutTrip, refundStoredStripeFailed } from '../support/checked-out';
import { gatewayWithRefund } from '../support/gateways';
import { resumeRefundsAt, timeFromNow as at } from '../support/reconciler';
import { overwriteSlot, readSlot, seedSlot, testStore } from '../support/store';
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

const later = at(RESUME_AFTER_MS + MINUTE_MS);

const resume = (options: { clock?: Clock; gateway?: PaymentGateway } = {}) => resumeRefundsAt(fake, store, { clock: later, ...options });

/** A trip of `count` slots at 1,000 each, paid and booked: one booking a slot, each with a share of its own to refund. */
async function bookedShares(count = 2) {
  const slots: Slot[] = [];
  for (let index = 0; index < count; index++) slots.push(await seedSlot(store, { capacity: 4, priceAmount: 1_000 }));
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
  return { created, paymentId, bookings: await store.listBookingsOfTrip(created.tripId) };
}

/**
 * An operator cancels `reference` with a clock `clock`: its share is stamped requested by that clock, Stripe makes the
 * refund, and its answer never arrives (a timeout after Stripe acted).
 */
async function cancelWithAnswerLost(reference: string, clock: Clock): Promise<void> {
  const answerLost = gatewayWithRefund(fake, async (request, real) => {
    await real.refund(request);
    throw new PaymentGatewayUnavailableError('Stripe did not answer in time');
  });
  const cancelled = await cancelBooking({ store, gateway: answerLost, clock, ids: randomIds }, { reference, reason: 'guide ill', refund: true }).catch(
    (error: unknown) => error,
  );
  expect(cancelled).toBeInstanceOf(PaymentGatewayUnavailableError);
}

const realGateway = () => new StripePaymentGateway(async () => fake.client());

describe('resumeRequestedRefunds: Stripe refusing for now, other than a 500', () => {
  it.each<{ name: string; failure: TransientFailure; count: number }>([
    { name: 'asks to slow down (429 rate_limit)', failure: 429, count: 1 },
    { name: 'answers lock_timeout', failure: 'lock_timeout', count: 1 },
    // stripe-node retries a reset connection once even with retries off.
    { name: 'cuts the connection', failure: 'reset', count: 2 },
  ])('leaves the refund due when Stripe $name, and the next run refunds it once', async ({ failure, count }) => {
    const trip = await refundStoredStripeFailed(store, fake);
    fake.failNext(count, failure);

    const refusedForNow = await resume();
    const next = await resume({ clock: at(RESUME_AFTER_MS + 16 * MINUTE_MS) });

    expect(refusedForNow.payments).toEqual([expect.objectContaining({ status: 'unavailable', paymentId: trip.paymentId })]);
    expect(next.payments).toEqual([
      { status: 'answered', record: expect.objectContaining({ status: 'refunded' }), requested: [expect.stringMatching(/^refund-/)] },
    ]);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
  });
});

describe('resumeRequestedRefunds: Stripe takes the refund, and its failure is processed before the run records the answer', () => {
  it('keeps the refund failed and the payment in front of a person: the stale pending answer never overwrites it', async () => {
    const trip = await refundStoredStripeFailed(store, fake);
    fake.nextRefundStatus('pending');
    const webhook = webhookHarness(fake, { store });
    let delivered: Awaited<ReturnType<typeof webhook.send>> | undefined;
    const failsMeanwhile = gatewayWithRefund(fake, async (request, real) => {
      const answer = await real.refund(request);
      const [made] = fake.refundsOf(trip.paymentId);
      const failed = fake.setRefundStatus(made?.id as string, 'failed', 'expired_or_canceled_card');
      delivered = await webhook.send(signedRequest(stripeEvent('refund.updated', refundObject(failed))));
      return answer;
    });

    await resume({ gateway: failsMeanwhile });
    const next = await resume({ clock: at(2 * HOUR_MS) });

    expect(delivered?.status).toBe(200);
    expect(await trip.record()).toMatchObject({ status: 'needs_attention', refunds: [expect.objectContaining({ status: 'failed' })] });
    expect(next.payments).toEqual([]);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
  });
});

describe('a share stamped by a clock a day ahead, made by Stripe, its answer lost: asked for again 25 hours later', () => {
  it('by the sweep: refunds the share once, the key being forgotten by now', async () => {
    const { paymentId, bookings } = await bookedShares();
    // The operator's laptop runs 24 hours ahead: the share is stamped requested a day after Stripe first sees its key.
    await cancelWithAnswerLost(bookings[0]?.reference as string, at(24 * HOUR_MS));
    expect(fake.totalRefunded(paymentId)).toBe(1_000);

    // Every sweep in between met Stripe down (OverdueRefunds alarmed); 25 hours on, Stripe has forgotten the key.
    fake.advance(25 * HOUR_MS);
    const resumed = await resume({ clock: at(25 * HOUR_MS) });

    expect(resumed.payments).toEqual([expect.objectContaining({ status: 'answered' })]);
    // One share of 1,000 was owed back: Stripe must not have refunded it twice.
    expect(fake.totalRefunded(paymentId)).toBe(1_000);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });

  it('by an operator: refunds the share once, a refund this call did not store being looked up by its key whatever its stamp says', async () => {
    const { paymentId, bookings } = await bookedShares();
    await cancelWithAnswerLost(bookings[0]?.reference as string, at(24 * HOUR_MS));

    // 25 hours on, the key is forgotten, and the stamp reads one hour old to a right clock.
    fake.advance(25 * HOUR_MS);
    const retried = await retryRefund({ store, gateway: realGateway(), clock: at(25 * HOUR_MS), ids: randomIds }, paymentId);

    expect(retried).toMatchObject({ ok: true, record: { refunds: [{ status: 'succeeded', amount: 1_000 }] } });
    expect(fake.totalRefunded(paymentId)).toBe(1_000);
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
  });

  it('by another call storing a share at that very instant: looks the older share up rather than asking for it as its own', async () => {
    // Three bookings of 1,000 each; two are cancelled, so 2,000 is owed back and the third stays booked.
    const { paymentId, bookings } = await bookedShares(3);
    const [first, second] = bookings;
    const stamp = new Date(Date.now() + 25 * HOUR_MS);
    await cancelWithAnswerLost(first?.reference as string, { now: () => stamp });
    expect(fake.totalRefunded(paymentId)).toBe(1_000);

    // 25 hours on (Stripe has forgotten the key), a right clock cancels the second booking at that same millisecond.
    fake.advance(25 * HOUR_MS);
    const cancelled = await cancelBooking(
      { store, gateway: realGateway(), clock: { now: () => new Date(stamp.getTime()) }, ids: randomIds },
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

describe("an operator's cancel paused for over a day between storing the share and asking Stripe for it", () => {
  it("refunds the share once: the sweep made it meanwhile, and Stripe has forgotten the sweep's key by the time the cancel asks", async () => {
    const { paymentId, bookings } = await bookedShares();
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
              const swept = await resume({ clock: at(RESUME_AFTER_MS + MINUTE_MS) });
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

describe('issueRequestedRefunds with timeLeft, when another call records a share between its ask and its write', () => {
  it('asks for the share left rather than committing an empty write as answered', async () => {
    const { paymentId, bookings } = await bookedShares();
    const gateway = new StripePaymentGateway(async () => fake.client());
    for (const booking of bookings) {
      fake.failNext(1, 500);
      await cancelBooking({ store, gateway, clock: at(0), ids: randomIds }, { reference: booking.reference, reason: 'guide ill', refund: true }).catch(
        () => undefined,
      );
    }
    const stored = await store.getPaymentRecord(paymentId);
    expect(stored?.refunds.map((entry) => entry.status)).toEqual(['requested', 'requested']);
    const deps = (refundGateway: PaymentGateway) => ({ store, gateway: refundGateway, clock: later, ids: randomIds });
    let asked = 0;
    // Run A asks for the first share; before it writes, run B (also out of time after one share) asks and records it.
    const meanwhile = gatewayWithRefund(fake, async (request, real) => {
      asked++;
      const answer = await real.refund(request);
      if (asked === 1) {
        // B answers a share by finding it at Stripe (A's, made just now) or by asking for it; then its time is up.
        let answeredB = 0;
        const countingB: PaymentGateway = {
          refundable: (id) => gateway.refundable(id),
          holdsPayment: (id) => gateway.holdsPayment(id),
          refundedSoFar: (id) => gateway.refundedSoFar(id),
          findRefund: async (id, key) => {
            const found = await gateway.findRefund(id, key);
            if (found) answeredB++;
            return found;
          },
          refund: (inner) => {
            answeredB++;
            return gateway.refund(inner);
          },
        };
        await issueRequestedRefunds(deps(countingB), (await store.getPaymentRecord(paymentId)) as PaymentRecord, 'system', {
          timeLeft: () => (answeredB >= 1 ? 0 : 60_000),
        });
      }
      return answer;
    });

    const runA = await issueRequestedRefunds(deps(meanwhile), stored as PaymentRecord, 'system', { timeLeft: () => (asked >= 1 ? 0 : 60_000) });
    const after = await store.getPaymentRecord(paymentId);

    const stillRequested = after?.refunds.filter((entry) => entry.status === 'requested').length ?? 0;
    // The share B recorded does not count as asked: A asks for the one left, and records it.
    expect(asked).toBe(2);
    expect({ recorded: runA.recorded, stillRequested }).toEqual({ recorded: true, stillRequested: 0 });
    expect(fake.totalRefunded(paymentId)).toBe(2_000);
    expect(fake.refundsOf(paymentId)).toHaveLength(2);
  });
});

describe('GET /trips/{tripId} (fulfil on return) racing the webhook for a payment whose slot was blocked', () => {
  const tripHandler = () =>
    createLocalTripHandler({
      store,
      table: store.tableName,
      stripeClient: () => fake.client(),
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'test', serviceName: 'test' }),
    });

  async function returnTo(tripId: string, userId: string) {
    const response = await tripHandler()(tripRequest(tripId, userId));
    return { status: response.statusCode ?? 0, body: JSON.parse(response.body ?? '{}') as { status?: string } };
  }

  it('refunds once when both arrive together, Stripe fails the first ask (500), and the sweep and a redelivery come later', async () => {
    const trip = await checkedOutTrip(store, fake);
    await overwriteSlot({ ...((await readSlot(store, trip.slot.slotId)) as Slot), isBlocked: true });
    const event = await trip.pay();
    const userId = (await trip.trip())?.userId as string;
    const webhook = webhookHarness(fake, { store });
    fake.failNext(1, 500);

    const [returned, delivered] = await Promise.all([returnTo(trip.tripId, userId), webhook.send(signedRequest(event))]);
    const paymentId = trip.paymentIntent();
    const swept = await resume();
    const redelivered = await webhook.send(signedRequest(event));

    expect(returned.status).toBe(200);
    expect([200, 500]).toContain(delivered.status);
    expect(swept.payments.every((entry) => entry.status === 'answered' || entry.status === 'already_answered')).toBe(true);
    expect(redelivered).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.refundsOf(paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(paymentId)).toBe(trip.amount);
    expect(await store.getPaymentRecord(paymentId)).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
    expect(await trip.bookings()).toEqual([]);
  });
});
