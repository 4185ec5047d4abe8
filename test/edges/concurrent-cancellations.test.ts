// One payment's record written by many at once: every booking of it cancelled together, each refund's events reaching the webhook meanwhile; other writers moving it under the answers' write.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { StateKeptMovingError } from '../../lambdas/shared/domain/errors';
import type { Slot } from '../../lambdas/shared/domain/model';
import { cancelBooking } from '../../lambdas/shared/domain/payment-operations';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import type { StripeFake } from '../../scripts/local/stripe-fake';
import { BOOKED_TRIP_CAPACITY, bookedTripAt } from '../support/booked-trip';
import { checkedOutTrip } from '../support/checked-out';
import { gatewayWithRefund } from '../support/gateways';
import { ops } from '../support/ops';
import { overwriteSlot, readSlot, testDocumentClient, testStore, testTableName } from '../support/store';
import { webhookHarness } from '../support/webhook';
import { servedStripeFake } from '../support/webhook-server';

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

describe('bookings of one payment cancelled at once', () => {
  it('cancels five bookings of one payment at once: each answers, each share is refunded once, every seat comes back', async () => {
    const t = await bookedTripAt(fake, [1, 2, 1, 3, 1]);

    const answers = await Promise.all(
      t.references.map((reference) =>
        cancelBooking({ store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, { reference, reason: 'storm', refund: true }),
      ),
    );

    // Each cancellation and each refund event writes the record under the version it read: the losers read again, after a
    // random pause, until every one has landed.
    expect(answers.map((answer) => (answer.ok ? answer.refund?.status : answer.errorCode))).toEqual(Array(5).fill('succeeded'));
    expect(answers.map((answer) => answer.ok && answer.released.map((released) => released.reference))).toEqual(t.references.map((reference) => [reference]));
    expect(
      fake
        .refundsOf(t.pi)
        .map((refund) => refund.amount)
        .sort((a, b) => a - b),
    ).toEqual([...t.shares].sort((a, b) => a - b));
    expect(fake.totalRefunded(t.pi)).toBe(t.paid);
    expect(fake.deliveries.filter((delivery) => delivery.status !== 200)).toEqual([]);
    const record = await t.record();
    expect(record).toMatchObject({ status: 'refunded', amountRefunded: t.paid });
    expect(new Set(record.refunds.map((entry) => `${entry.status} ${entry.stripeRefundId !== undefined}`))).toEqual(new Set(['succeeded true']));
    expect(record.refunds).toHaveLength(5);
    expect(await t.tripStatus()).toBe('refunded');
    expect(await t.available()).toEqual(Array(5).fill(BOOKED_TRIP_CAPACITY));
  });
});

/** Another writer of the payment record (an event of another of its refunds): its version moves on. */
async function recordMoved(paymentId: string): Promise<void> {
  await testDocumentClient().send(
    new UpdateCommand({
      TableName: testTableName(),
      Key: keys.paymentRecord(paymentId),
      UpdateExpression: 'SET #v = #v + :one',
      ExpressionAttributeNames: { '#v': 'version' },
      ExpressionAttributeValues: { ':one': 1 },
    }),
  );
}

/**
 * `store`, with the payment's record moved by another writer just before the write of Stripe's answers (the first one
 * only, or every one), and again whenever that write is refused: during the pause before the next read.
 */
function storeMovingTheAnswers(store: DynamoDbBookingStore, paymentId: string, before: 'the first' | 'every one'): DynamoDbBookingStore {
  const moving = Object.create(store) as DynamoDbBookingStore;
  let writes = 0;
  moving.commit = async (write) => {
    // The answers' write replaces the record it read, alone: no cancellation (a release writes the record with one).
    const answers = write.paymentRecord?.expectedVersion !== undefined && write.cancellations === undefined;
    if (answers && (before === 'every one' || writes++ === 0)) await recordMoved(paymentId);
    const result = await store.commit(write);
    if (answers && !result.committed) await recordMoved(paymentId);
    return result;
  };
  return moving;
}

describe('the write of Stripe’s answers, refused because the record moved', () => {
  it('reads the record again after its pause, so a writer during the pause does not make it write a stale version', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    const reference = t.references[0] as string;
    // The refund's own events held back: the only other writer is the one moving the record.
    fake.dropNextDeliveries(2);

    const cancelled = await cancelBooking(
      { store: storeMovingTheAnswers(t.store, t.pi, 'the first'), gateway: t.gateway, clock: systemClock, ids: randomIds },
      { reference, reason: 'storm', refund: true },
    );

    expect(cancelled).toMatchObject({ ok: true, refund: { status: 'succeeded', amount: t.shares[0] } });
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect((await t.record()).refunds).toEqual([
      expect.objectContaining({ refundKey: t.shareKey(reference), status: 'succeeded', stripeRefundId: fake.refundsOf(t.pi)[0]?.id }),
    ]);
  });

  it('throws StateKeptMovingError when it kept moving through every attempt; the same cancellation again records the refund, made once', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    const reference = t.references[0] as string;
    fake.dropNextDeliveries(2);

    const moving = cancelBooking(
      { store: storeMovingTheAnswers(t.store, t.pi, 'every one'), gateway: t.gateway, clock: systemClock, ids: randomIds },
      { reference, reason: 'storm', refund: true },
    );

    await expect(moving).rejects.toBeInstanceOf(StateKeptMovingError);
    // The cancellation's own write stands: the booking cancelled, its seat back, its share asked for and made at Stripe.
    expect(await t.bookingStatus(reference)).toBe('cancelled');
    expect(await t.available()).toEqual([BOOKED_TRIP_CAPACITY, BOOKED_TRIP_CAPACITY - 1]);
    expect(fake.refundsOf(t.pi).map((refund) => refund.amount)).toEqual([t.shares[0]]);
    expect((await t.record()).refunds).toEqual([expect.objectContaining({ refundKey: t.shareKey(reference), status: 'requested' })]);

    const again = await cancelBooking({ store: t.store, gateway: t.gateway, clock: systemClock, ids: randomIds }, { reference, reason: 'storm', refund: true });

    expect(again).toMatchObject({ ok: true, alreadyReleased: true, refund: { status: 'succeeded', amount: t.shares[0] } });
    expect(fake.refundsOf(t.pi)).toHaveLength(1);
    expect(fake.totalRefunded(t.pi)).toBe(t.shares[0]);
  });

  it('is TRANSACTION_FAILED at the CLI, exit 1, saying what stands and to run it again', async () => {
    const t = await bookedTripAt(fake, [1, 1]);
    const reference = t.references[0] as string;
    // What cancelBooking throws when the answers' write kept being refused, thrown where the command waits for them.
    const gateway = gatewayWithRefund(fake, async () => {
      throw new StateKeptMovingError(`The payment record ${t.pi} kept changing while Stripe's answers to its refunds were recorded`);
    });

    const cancelled = await ops(['bookings', 'cancel', reference, '--reason', 'storm'], gateway);

    expect(cancelled.code).toBe(1);
    expect(cancelled.err).toBe(
      `error: TRANSACTION_FAILED: The payment record ${t.pi} kept changing while Stripe's answers to its refunds were recorded; ` +
        'what was decided before is stored: run the same command again',
    );
    expect(await t.bookingStatus(reference)).toBe('cancelled');
    expect((await t.record()).refunds).toEqual([expect.objectContaining({ refundKey: t.shareKey(reference), status: 'requested' })]);
  });

  it('is a 500 to the delivery (Stripe delivers again), and the redelivery records the refund, made once', async () => {
    const trip = await checkedOutTrip(store, fake);
    await overwriteSlot({ ...((await readSlot(store, trip.slot.slotId)) as Slot), isBlocked: true });
    // The checkout's event, then the refund's own two: held back, for the test to deliver.
    fake.dropNextDeliveries(3);
    const event = await trip.pay();
    const moving = webhookHarness(fake, { store: storeMovingTheAnswers(store, trip.paymentIntent(), 'every one') });
    const counted = vi.spyOn(moving.metrics, 'addMetric');

    const first = await moving.send(signedRequest(event));

    expect(first.status).toBe(500);
    expect(counted.mock.calls.map(([name]) => name)).toContain('RetryLater');
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refund_pending', refunds: [{ status: 'requested' }] });

    const again = await webhookHarness(fake, { store }).send(signedRequest(event));

    expect(again).toMatchObject({ status: 200, body: { outcome: 'refunded' } });
    expect(fake.refundsOf(trip.paymentIntent())).toHaveLength(1);
    expect(fake.totalRefunded(trip.paymentIntent())).toBe(trip.amount);
    expect(await store.getPaymentRecord(trip.paymentIntent())).toMatchObject({ status: 'refunded', amountRefunded: trip.amount });
  });
});
