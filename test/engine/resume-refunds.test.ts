// resumeRequestedRefunds over DynamoDB Local and the Stripe fake: refunds a delivery stored and Stripe did not take, asked
// again once each, whether it runs twice at once, a day later, with another event about the payment in between, or after
// a run cut short, and what Stripe saying no (now, or later) leaves.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomIds, systemClock, type Clock } from '../../lambdas/shared/domain/collaborators';
import type { Slot } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import { StoreUnavailableError } from '../../lambdas/shared/domain/errors';
import { OVERDUE_AFTER_MS, RESUME_AFTER_MS, resumeRequestedRefunds, type DueRefund, type ResumedRefund } from '../../lambdas/shared/domain/resume-refunds';
import { TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { checkoutSession, paymentIntentId, refundObject, signedRequest, stripeEvent } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip, refundStoredStripeFailed } from '../support/checked-out';
import { gatewayWithRefund } from '../support/gateways';
import { resumeRefundsAt, scopedToAccount, timeFromNow as at } from '../support/reconciler';
import { seedSlot, testStore, uniqueId } from '../support/store';
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

/** Past the delay a refund is left to the call that stored it. */
const later = at(RESUME_AFTER_MS + MINUTE_MS);

/** resumeRequestedRefunds as the sweep runs it, at this test's fake (its own Stripe account). */
const resume = (options: { clock?: Clock; gateway?: PaymentGateway; limit?: number; sweep?: string } = {}) =>
  resumeRefundsAt(fake, store, { clock: later, ...options });

/** The payments of this test's account the store lists with refunds due (of any age). */
async function due(): Promise<string[]> {
  return (await scopedToAccount(fake, store).listRefundsDue(100)).map((entry) => entry.paymentId);
}

describe('a refund stored as requested that Stripe did not take', () => {
  it('is listed as due, asked for once past the delay, recorded, and leaves the list', async () => {
    const trip = await refundStoredStripeFailed(store, fake);

    const early = await resume({ clock: at(RESUME_AFTER_MS - MINUTE_MS) });
    const dueBefore = await due();
    const resumed = await resume();
    const again = await resume();

    // Younger than the delay it is its delivery's (whose redeliveries are asking): nothing asked.
    expect(early.payments).toEqual([]);
    expect(dueBefore).toEqual([trip.paymentId]);
    expect(resumed.payments).toEqual([
      {
        status: 'answered',
        record: expect.objectContaining({ paymentId: trip.paymentId, status: 'refunded' }),
        requested: [expect.stringMatching(/^refund-/)],
      },
    ]);
    expect(resumed.overdue).toBe(0);
    expect(again.payments).toEqual([]);
    expect(await due()).toEqual([]);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect(await trip.record()).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
    expect(await trip.trip()).toMatchObject({ status: 'refunded' });
  });

  it('is refunded once when two runs ask at the same moment', async () => {
    const trip = await refundStoredStripeFailed(store, fake);

    const [first, second] = await Promise.all([resume(), resume()]);

    // Both may ask Stripe (the same idempotency key answers the same refund); the record is written by one, read by the
    // other. When the one answered from Stripe's keeping of the key (or whose lookup found the refund) writes first, it
    // answers for recording it and the other for making it: two calls racing on one stored refund may both answer
    // (docs/payment-flow.md, Metrics). One that lists the refunds due after the other wrote finds none. Never is it made twice.
    const statuses = [...first.payments, ...second.payments].map((resumed) => resumed.status).sort();
    expect([['already_answered', 'answered'], ['answered', 'answered'], ['answered']]).toContainEqual(statuses);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
    expect(await trip.record()).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
  });

  it('is not refunded twice a day later, when Stripe made it but its answer was lost and the key is forgotten', async () => {
    const trip = await refundStoredStripeFailed(store, fake);
    // The refund is made at Stripe; the answer never reaches us (a timeout after Stripe acted).
    const answerLost = gatewayWithRefund(fake, async (request, real) => {
      await real.refund(request);
      throw new PaymentGatewayUnavailableError('Stripe did not answer in time');
    });

    const lost = await resume({ gateway: answerLost });
    fake.advance(25 * HOUR_MS);
    const dayLater = at(25 * HOUR_MS);
    const resumed = await resume({ clock: dayLater });

    expect(lost.payments).toEqual([expect.objectContaining({ status: 'unavailable', paymentId: trip.paymentId })]);
    expect(resumed.payments).toEqual([
      { status: 'answered', record: expect.objectContaining({ status: 'refunded' }), requested: [expect.stringMatching(/^refund-/)] },
    ]);
    // Looked up by its key in the refund's metadata rather than asked again under a key Stripe no longer remembers.
    expect(fake.calls.filter((call) => call.method === 'GET' && call.path === '/v1/refunds')).not.toHaveLength(0);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
  });

  it('is asked for with the same key after a run cut short while Stripe was making it: one refund', async () => {
    const trip = await refundStoredStripeFailed(store, fake);
    let made!: () => void;
    const refundMade = new Promise<void>((resolve) => {
      made = resolve;
    });
    // Lambda stops the run at its timeout while Stripe's answer is on its way: nothing after the request runs.
    const cutShort = gatewayWithRefund(fake, async (request, real) => {
      await real.refund(request);
      made();
      return new Promise(() => undefined);
    });

    void resume({ gateway: cutShort });
    await refundMade;
    const next = await resume({ clock: at(RESUME_AFTER_MS + 16 * MINUTE_MS) });

    expect(next.payments).toEqual([
      { status: 'answered', record: expect.objectContaining({ status: 'refunded' }), requested: [expect.stringMatching(/^refund-/)] },
    ]);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentId)).toBe(trip.amount);
  });

  it('is recorded once when Stripe’s charge.refunded about it is processed while the run asks', async () => {
    const trip = await refundStoredStripeFailed(store, fake);
    const webhook = webhookHarness(fake, { store });
    let answers: Awaited<ReturnType<typeof webhook.send>> | undefined;
    // Stripe makes the refund, and its charge.refunded reaches the webhook before the run records Stripe's answer.
    const eventFirst = gatewayWithRefund(fake, async (request, real) => {
      const answer = await real.refund(request);
      const charge = fake.payment(trip.paymentId);
      answers = await webhook.send(
        signedRequest(
          stripeEvent('charge.refunded', {
            id: charge?.charge,
            object: 'charge',
            payment_intent: trip.paymentId,
            amount: trip.amount,
            amount_refunded: trip.amount,
            refunded: true,
            currency: 'eur',
            metadata: { [TRIP_MARK]: trip.tripId },
          }),
        ),
      );
      return answer;
    });

    const resumed = await resume({ gateway: eventFirst });

    expect(answers?.status).toBe(200);
    // Whichever wrote first, the record ends refunded once, with the trip.
    expect(resumed.payments).toHaveLength(1);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
    expect(await trip.record()).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
    expect(await trip.trip()).toMatchObject({ status: 'refunded' });
    expect(await due()).toEqual([]);
  });
});

describe('a refund stamped by a clock that runs ahead', () => {
  it('is asked for at once, and counted overdue while Stripe does not take it', async () => {
    const trip = await checkedOutTrip(store, fake);
    const booked = await webhookHarness(fake, { store }).send(signedRequest(await trip.pay()));
    expect(booked.body.outcome).toBe('booked');
    const [booking] = await trip.bookings();
    // An operator cancels from a laptop whose clock is a day ahead, while Stripe answers 500.
    fake.failNext(1, 500);
    const cancelled = await cancelBooking(
      { store, gateway: new StripePaymentGateway(async () => fake.client()), clock: at(24 * HOUR_MS), ids: randomIds },
      { reference: booking?.reference as string, reason: 'guide ill', refund: true },
    ).catch((error: unknown) => error);
    const failing = gatewayWithRefund(fake, () => Promise.reject(new PaymentGatewayUnavailableError('Stripe answered 500')));

    // The sweep, on the right clock, 15 minutes later: Stripe still failing, then answering.
    const stillFailing = await resume({ gateway: failing, clock: at(15 * MINUTE_MS) });
    const answered = await resume({ clock: at(30 * MINUTE_MS) });

    expect(cancelled).toBeInstanceOf(PaymentGatewayUnavailableError);
    expect(stillFailing).toMatchObject({ payments: [expect.objectContaining({ status: 'unavailable' })], overdue: 1 });
    expect(answered.payments).toEqual([
      { status: 'answered', record: expect.objectContaining({ paymentId: trip.paymentIntent() }), requested: [expect.stringMatching(/^refund-/)] },
    ]);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
  });
});

describe('what Stripe says no to', () => {
  it('for good: the payment is put in front of a person, leaves the list, and is never asked again', async () => {
    const trip = await refundStoredStripeFailed(store, fake);
    fake.refuseNext('charge_disputed', { message: 'This charge is disputed.' });

    const refused = await resume();
    const refundCalls = fake.calls.filter((call) => call.method === 'POST' && call.path === '/v1/refunds').length;
    const next = await resume({ clock: at(2 * HOUR_MS) });

    expect(refused.payments).toEqual([
      {
        status: 'answered',
        record: expect.objectContaining({ status: 'needs_attention', attention: expect.objectContaining({ code: 'charge_disputed' }) }),
        requested: [expect.stringMatching(/^refund-/)],
      },
    ]);
    expect(next).toEqual({ payments: [], overdue: 0, more: false });
    expect(fake.calls.filter((call) => call.method === 'POST' && call.path === '/v1/refunds')).toHaveLength(refundCalls);
    expect(fake.totalRefunded(trip.paymentId)).toBe(0);
    expect(await due()).toEqual([]);
  });

  it('later: a refund Stripe took (pending) and then failed is the webhook’s refund.updated to record; it is not asked again', async () => {
    const trip = await refundStoredStripeFailed(store, fake);
    fake.nextRefundStatus('pending');

    const resumed = await resume();
    const [refund] = fake.refundsOf(trip.paymentId);
    const failed = fake.setRefundStatus(refund?.id as string, 'failed', 'expired_or_canceled_card');
    const delivered = await webhookHarness(fake, { store }).send(signedRequest(stripeEvent('refund.updated', refundObject(failed))));
    const next = await resume({ clock: at(2 * HOUR_MS) });

    expect(resumed.payments).toEqual([
      { status: 'answered', record: expect.objectContaining({ status: 'refund_pending' }), requested: [expect.stringMatching(/^refund-/)] },
    ]);
    expect(delivered.status).toBe(200);
    expect(await trip.record()).toMatchObject({ status: 'needs_attention', refunds: [expect.objectContaining({ status: 'failed' })] });
    expect(next.payments).toEqual([]);
    expect(fake.refundsOf(trip.paymentId)).toHaveLength(1);
  });
});

describe('many refunds due', () => {
  it('never holds the others back behind one Stripe keeps failing, and counts that one overdue after an hour', async () => {
    const failing = await refundStoredStripeFailed(store, fake);
    const other = await refundStoredStripeFailed(store, fake);
    // Stripe answers 500 to every request about one payment, for as long as the test lasts.
    const oneDown = gatewayWithRefund(fake, (request, real) =>
      request.paymentId === failing.paymentId ? Promise.reject(new PaymentGatewayUnavailableError('Stripe answered 500')) : real.refund(request),
    );

    const first = await resume({ gateway: oneDown });
    const hourLater = await resume({ gateway: oneDown, clock: at(OVERDUE_AFTER_MS + MINUTE_MS) });

    expect(first.payments.map((resumed) => resumed.status).sort()).toEqual(['answered', 'unavailable']);
    expect(first.overdue).toBe(0);
    expect(await other.record()).toMatchObject({ status: 'refunded' });
    expect(hourLater.payments).toEqual([expect.objectContaining({ status: 'unavailable', paymentId: failing.paymentId })]);
    expect(hourLater.overdue).toBe(1);
    expect(await failing.record()).toMatchObject({ status: 'refund_pending', refunds: [expect.objectContaining({ status: 'requested' })] });
  });

  /** A booked trip of three shares, each cancelled by an operator while Stripe answered 500: three refunds requested. */
  async function threeSharesRequested() {
    const slots = [];
    for (let i = 0; i < 3; i++) slots.push(await seedSlot(store, { capacity: 4, priceAmount: 1_000 }));
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
    // An operator cancels the three bookings one by one while Stripe answers 500: three shares stay requested.
    const gateway = new StripePaymentGateway(async () => fake.client());
    for (const booking of await store.listBookingsOfTrip(created.tripId)) {
      fake.failNext(1, 500);
      await cancelBooking({ store, gateway, clock: systemClock, ids: randomIds }, { reference: booking.reference, reason: 'guide ill', refund: true }).catch(
        () => undefined,
      );
    }
    return { created, paymentId };
  }

  it('asks, for a payment of many shares, no further share once the time is up, records the answers had, and leaves the rest', async () => {
    const { created, paymentId } = await threeSharesRequested();
    let asked = 0;
    const counting = gatewayWithRefund(fake, (request, real) => {
      asked++;
      return real.refund(request);
    });
    const deps = { store: scopedToAccount(fake, store), gateway: counting, clock: later, ids: randomIds };

    // Each share takes Stripe long enough that the run's time is up after the first.
    const sweep = uniqueId('sweep');
    const first = await resumeRequestedRefunds(deps, { sweep, timeLeft: () => (asked >= 1 ? 0 : 60_000) });
    const afterFirst = await store.getPaymentRecord(paymentId);
    const second = await resumeRequestedRefunds(deps, { sweep });

    // Each run found every share still requested; the first asked for one of its three before its time was up.
    expect(first.payments).toEqual([{ status: 'answered', record: expect.objectContaining({ paymentId }), requested: expect.any(Array) }]);
    expect(first.payments[0]?.status === 'answered' && first.payments[0].requested).toHaveLength(3);
    expect(afterFirst?.refunds.map((entry) => entry.status).sort()).toEqual(['requested', 'requested', 'succeeded']);
    expect(second.payments).toEqual([{ status: 'answered', record: expect.objectContaining({ paymentId }), requested: expect.any(Array) }]);
    expect(second.payments[0]?.status === 'answered' && second.payments[0].requested).toHaveLength(2);
    expect(asked).toBe(3);
    expect(fake.refundsOf(paymentId)).toHaveLength(3);
    expect(fake.totalRefunded(paymentId)).toBe(created.amount);
    expect(await due()).toEqual([]);
  });

  it('counts a payment answered only in part as overdue while shares stored over an hour ago stay requested', async () => {
    const { created, paymentId } = await threeSharesRequested();
    let asked = 0;
    const counting = gatewayWithRefund(fake, (request, real) => {
      asked++;
      return real.refund(request);
    });
    const deps = { store: scopedToAccount(fake, store), gateway: counting, clock: at(OVERDUE_AFTER_MS + MINUTE_MS), ids: randomIds };
    const sweep = uniqueId('sweep');

    const cutShort = await resumeRequestedRefunds(deps, { sweep, timeLeft: () => (asked >= 1 ? 0 : 60_000) });
    const finished = await resumeRequestedRefunds(deps, { sweep });

    expect(cutShort).toMatchObject({ payments: [{ status: 'answered' }], overdue: 1 });
    expect(finished).toMatchObject({ payments: [{ status: 'answered' }], overdue: 0 });
    expect(fake.totalRefunded(paymentId)).toBe(created.amount);
  });

  it('works through them oldest first, the limit at a time, and says more are due', async () => {
    const oldest = await refundStoredStripeFailed(store, fake);
    const newest = await refundStoredStripeFailed(store, fake);

    const first = await resume({ limit: 1 });
    const second = await resume({ limit: 1 });

    expect(first).toMatchObject({ payments: [{ status: 'answered', record: expect.objectContaining({ paymentId: oldest.paymentId }) }], more: true });
    expect(second).toMatchObject({ payments: [{ status: 'answered', record: expect.objectContaining({ paymentId: newest.paymentId }) }], more: false });
  });
});

describe('more payments due than a run begins', () => {
  /** Three payments with a refund due, in the order the store lists them (oldest first). */
  async function threeDue() {
    const trips = [await refundStoredStripeFailed(store, fake), await refundStoredStripeFailed(store, fake), await refundStoredStripeFailed(store, fake)];
    const listed = (await scopedToAccount(fake, store).listRefundsDue(100)).filter((entry) => trips.some((trip) => trip.paymentId === entry.paymentId));
    expect(listed).toHaveLength(3);
    return listed;
  }
  /** Stripe answering 500 to every refund of these payments, and taking the others'. */
  const failingFor = (paymentIds: readonly string[]) =>
    gatewayWithRefund(fake, (request, real) =>
      paymentIds.includes(request.paymentId) ? Promise.reject(new PaymentGatewayUnavailableError('Stripe answered 500')) : real.refund(request),
    );
  const begun = (run: { payments: readonly ResumedRefund[] }) =>
    run.payments.map((resumed) => (resumed.status === 'answered' ? `${resumed.record.paymentId} answered` : `${resumed.paymentId} ${resumed.status}`));

  it('takes them in turn, each run beginning after the payment the last one stopped at: none waits for good behind those Stripe keeps failing', async () => {
    const [p0, p1, p2] = (await threeDue()).map((entry) => entry.paymentId) as [string, string, string];
    const sweep = uniqueId('sweep');
    const gateway = failingFor([p0, p1]);

    const first = await resume({ sweep, gateway, limit: 2 });
    const second = await resume({ sweep, gateway, limit: 2 });
    const third = await resume({ sweep, gateway, limit: 2 });

    // Oldest first would begin p0 and p1 in every run, and p2's refund, which Stripe takes, would never be asked for.
    expect(begun(first)).toEqual([`${p0} unavailable`, `${p1} unavailable`]);
    expect(first.more).toBe(true);
    expect(begun(second)).toEqual([`${p2} answered`, `${p0} unavailable`]);
    expect(begun(third)).toEqual([`${p1} unavailable`, `${p0} unavailable`]);
    expect(third.more).toBe(false);
    expect(fake.refundsOf(p2)).toHaveLength(1);
    expect(fake.refundsOf(p0)).toEqual([]);
    // A run that began every payment due forgets the place: the next begins at the oldest.
    expect(await store.getRefundsDuePosition(sweep)).toEqual({ sweep, updatedAt: expect.any(String) });
    expect(begun(await resume({ sweep, gateway, limit: 1 }))).toEqual([`${p0} unavailable`]);
  });

  it('begins after a place whose payment has left the list since, and goes round to the oldest', async () => {
    const [e0, e1, e2] = (await threeDue()) as [DueRefund, DueRefund, DueRefund];
    const sweep = uniqueId('sweep');
    // Kept by a run that stopped at a payment answered since (by a redelivery): listed just after e1.
    await store.keepRefundsDuePosition({ sweep, after: { ...e1, paymentId: `${e1.paymentId}~` }, updatedAt: new Date().toISOString() });
    const gateway = failingFor([e0.paymentId, e1.paymentId, e2.paymentId]);

    const first = await resume({ sweep, gateway, limit: 1 });
    const second = await resume({ sweep, gateway, limit: 1 });

    expect(begun(first)).toEqual([`${e2.paymentId} unavailable`]);
    expect(begun(second)).toEqual([`${e0.paymentId} unavailable`]);
    expect(await store.getRefundsDuePosition(sweep)).toMatchObject({ after: e0 });
  });

  it('keeps its place when the time is up before the first payment', async () => {
    const [e0] = (await threeDue()) as [DueRefund];
    const sweep = uniqueId('sweep');
    const kept = { sweep, after: e0, updatedAt: '2026-01-01T00:00:00.000Z' };
    await store.keepRefundsDuePosition(kept);
    const deps = { store: scopedToAccount(fake, store), gateway: failingFor([]), clock: later, ids: randomIds };

    const run = await resumeRequestedRefunds(deps, { sweep, timeLeft: () => 0 });

    expect(run).toMatchObject({ payments: [], more: true });
    expect(run).not.toHaveProperty('positionError');
    expect(await store.getRefundsDuePosition(sweep)).toEqual(kept);
  });

  it('answers as usual when its place cannot be kept, and the next run begins where that one began', async () => {
    const [p0, p1] = (await threeDue()).map((entry) => entry.paymentId) as [string, string];
    const sweep = uniqueId('sweep');
    const gateway = failingFor([p0, p1]);
    const unwritable = scopedToAccount(fake, store);
    unwritable.keepRefundsDuePosition = () => Promise.reject(new StoreUnavailableError('PutItem refunds due position: throttled', { maybeCommitted: false }));

    const first = await resumeRequestedRefunds({ store: unwritable, gateway, clock: later, ids: randomIds }, { sweep, limit: 1 });
    const second = await resume({ sweep, gateway, limit: 1 });

    expect(begun(first)).toEqual([`${p0} unavailable`]);
    expect(first.positionError).toBeInstanceOf(StoreUnavailableError);
    expect(begun(second)).toEqual([`${p0} unavailable`]);
    expect(second).not.toHaveProperty('positionError');
  });
});
