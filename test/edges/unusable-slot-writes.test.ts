// A slot whose counts no longer read as numbers, met by a write that gives seats back: a stored item that no longer reads,
// on AWS (the transaction cancelled, ValidationError) and DynamoDB Local (a ValidationException) alike; never a loop.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { randomIds } from '../../lambdas/shared/domain/collaborators';
import { StoredDataError } from '../../lambdas/shared/domain/errors';
import { CheckoutRefusedError, PaymentGatewayUnavailableError, type CheckoutSessions } from '../../lambdas/shared/domain/payment-gateway';
import { releaseExpiredHolds } from '../../lambdas/shared/domain/release-holds';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { COUNTED_LOG_LINES, METRIC, SERVICE_NAME } from '../../lambdas/shared/observability-contract';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { signedRequest } from '../../scripts/dev-kit/stripe-events';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { cancellingAsAws, cancellingWith } from '../support/aws-like-client';
import { checkoutOn } from '../support/checked-out';
import { checkout, request } from '../support/own-checkout';
import { coldStart } from '../support/lambda-entry';
import { linesWritten } from '../support/lines-written';
import { FAST_RETRIES, seedSlot, spoilSlotCounts, storeOnOwnTable, testDocumentClient, uniqueId } from '../support/store';
import { webhookHarness } from '../support/webhook';

let fake: StripeFake;
beforeAll(async () => {
  fake = await startStripeFake();
});
afterAll(() => fake.close());

/** A store on a table of its own (its slot is spoilt), answering as `as` answers. */
async function storeAs(as: 'AWS' | 'DynamoDB Local') {
  const own = await storeOnOwnTable();
  const store =
    as === 'AWS' ? new DynamoDbBookingStore({ client: cancellingAsAws(testDocumentClient()), tableName: own.tableName, retryPolicy: FAST_RETRIES }) : own;
  const spoil = (slotId: string) => spoilSlotCounts(own.tableName, slotId);
  return { own, store, spoil };
}

describe.each(['AWS', 'DynamoDB Local'] as const)('a slot that no longer reads, as %s answers it', (as) => {
  it('the hold sweeper leaves the hold on it held, releases the holds behind it, and says which', async () => {
    const { own, store, spoil } = await storeAs(as);
    const bad = await seedSlot(store, { capacity: 4, priceAmount: 4_500 });
    const good = await seedSlot(store, { capacity: 4, priceAmount: 4_500 });
    // The one on the spoilt slot checked out first: its hold is the older, the first the sweeper meets.
    const first = await checkoutOn(own, fake, bad, 2);
    const second = await checkoutOn(own, fake, good, 2);
    await spoil(bad.slotId);
    const later = { now: () => new Date(Date.now() + 24 * 3_600_000) };

    const sweeps = [await releaseExpiredHolds({ store, clock: later, ids: randomIds }), await releaseExpiredHolds({ store, clock: later, ids: randomIds })];
    expect(sweeps[0]?.released).toEqual([second.tripId]);
    expect(sweeps.map((sweep) => sweep.heldByUnusableSlots.map(({ tripId }) => tripId))).toEqual([[first.tripId], [first.tripId]]);
    expect(sweeps[0]?.heldByUnusableSlots[0]?.problem).toContain('incorrect data type');
    // The refusal names no item: the hold's slots say where to look.
    expect(sweeps[0]?.heldByUnusableSlots[0]?.slotIds).toEqual([bad.slotId]);
    expect({ first: (await own.getHold(first.tripId))?.status, second: (await own.getHold(second.tripId))?.status }).toEqual({
      first: 'held',
      second: 'released',
    });
  });

  it('holds on it that fill a whole page of the sweep do not keep the holds behind them held', async () => {
    const { own, store, spoil } = await storeAs(as);
    const bad = await seedSlot(store, { capacity: 10, priceAmount: 4_500 });
    const good = await seedSlot(store, { capacity: 4, priceAmount: 4_500 });
    const left = [await checkoutOn(own, fake, bad, 1), await checkoutOn(own, fake, bad, 1), await checkoutOn(own, fake, bad, 1)];
    const behind = await checkoutOn(own, fake, good, 1);
    await spoil(bad.slotId);
    const later = { now: () => new Date(Date.now() + 24 * 3_600_000) };

    // Pages of two: the first two pages hold nothing but holds left held.
    const sweeps = [
      await releaseExpiredHolds({ store, clock: later, ids: randomIds }, { pageSize: 2 }),
      await releaseExpiredHolds({ store, clock: later, ids: randomIds }, { pageSize: 2 }),
    ];
    expect(sweeps.map((sweep) => sweep.released)).toEqual([[behind.tripId], []]);
    expect(sweeps.map((sweep) => sweep.heldByUnusableSlots.map(({ tripId }) => tripId).sort())).toEqual([
      left.map(({ tripId }) => tripId).sort(),
      left.map(({ tripId }) => tripId).sort(),
    ]);
    expect((await own.getHold(behind.tripId))?.status).toBe('released');
  });

  it('a checkout.session.expired giving its seats back to it: in front of a person once (200), never a 500 every redelivery', async () => {
    const { own, store, spoil } = await storeAs(as);
    const slot = await seedSlot(store, { capacity: 4, priceAmount: 4_500 });
    const started = await checkoutOn(own, fake, slot, 2);
    const sessionId = (await own.getTrip(started.tripId))?.checkoutSessionId as string;
    await spoil(slot.slotId);
    const before = fake.events.length;
    await fake.client().checkout.sessions.expire(sessionId);
    const [expired] = fake.events.slice(before);
    const webhook = webhookHarness(fake, { store });

    const answers = [await webhook.send(signedRequest(expired as never)), await webhook.send(signedRequest(expired as never))];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers[0]?.body).toMatchObject({ outcome: 'needs_attention', reason: 'stored_data_unusable' });
    // Nothing moved but the event's record: the trip still waits, its seats still held.
    expect({ trip: (await own.getTrip(started.tripId))?.status, hold: (await own.getHold(started.tripId))?.status }).toEqual({
      trip: 'pending_payment',
      hold: 'held',
    });
  });

  it.each([
    {
      stripe: 'refuses it for good',
      key: true,
      fails: () => new CheckoutRefusedError('currency_not_supported', 'Not enabled.'),
      status: 502,
      error: 'CHECKOUT_REFUSED',
    },
    {
      stripe: 'does not answer',
      key: false,
      fails: () => new PaymentGatewayUnavailableError('Stripe did not answer'),
      status: 503,
      error: 'STRIPE_UNAVAILABLE',
    },
  ])('a checkout Stripe $stripe (a key: $key) while its slot is spoilt: answered as ever, the trip ended, its hold the sweeper’s', async (row) => {
    const { own, store, spoil } = await storeAs(as);
    const slot = await seedSlot(store, { capacity: 4, priceAmount: 4_500 });
    // Spoilt after the checkout read the slot and held its seats, while Stripe is asked for the page.
    const sessions: CheckoutSessions = {
      async createSession() {
        await spoil(slot.slotId);
        throw row.fails();
      },
    };
    const body = request([[slot, 2]]);

    const answer = await checkout({ store, table: own.tableName, fake, faults: injectFaults(testDocumentClient()) }, body, {
      sessions,
      ...(row.key && { key: uniqueId('key') }),
    });

    expect({ status: answer.status, error: answer.body.error }).toEqual({ status: row.status, error: row.error });
    // Nobody can pay for the trip; the seats stay held until the slot is repaired, and the sweeper says which.
    const [trip] = await own.listTripsOfUser(body.userId);
    expect(trip?.status).toBe('expired');
    expect((await own.getHold(trip?.tripId as string))?.status).toBe('held');
    const sweep = await releaseExpiredHolds({ store, clock: { now: () => new Date(Date.now() + 24 * 3_600_000) }, ids: randomIds });
    expect(sweep.heldByUnusableSlots.map(({ tripId }) => tripId)).toEqual([trip?.tripId]);
  });
});

describe('the hold sweeper’s Lambda entry point', () => {
  it('writes the hold left on a slot that no longer reads in the one line the stack counts as UnusableSlots, under the service its alarm reads', async () => {
    const { own, spoil } = await storeAs('DynamoDB Local');
    const slot = await seedSlot(own, { capacity: 4, priceAmount: 4_500 });
    const started = await checkoutOn(own, fake, slot, 2);
    await spoil(slot.slotId);
    const { handler } = await coldStart(() => import('../../lambdas/hold-sweeper/handler'), {
      apiKey: 'sk_test_unused',
      stripeApiBase: fake.url,
      tableName: own.tableName,
    });
    onTestFinished(() => {
      vi.useRealTimers();
      vi.unstubAllEnvs();
    });
    // A day on; only Date is faked, so the SDK's own timers still run.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 24 * 3_600_000 });

    let answer: unknown;
    const lines = await linesWritten(async () => {
      answer = await handler();
    });

    expect(answer).toEqual({ released: 0, alreadySettled: 0 });
    const counted = lines.filter((line) => line.message === COUNTED_LOG_LINES.sweptHoldOnUnusableSlot.message);
    expect(counted).toEqual([
      expect.objectContaining({ level: 'ERROR', service: SERVICE_NAME, tripId: started.tripId, problem: expect.stringContaining('incorrect data type') }),
    ]);
    expect(COUNTED_LOG_LINES.sweptHoldOnUnusableSlot.metric).toBe(METRIC.unusableSlots);
  });
});

describe('a transaction cancelled with a ValidationError among other reasons', () => {
  /** A hold renewal: the trip first, then the hold. */
  const renewal = () => {
    const tripId = uniqueId('trip');
    return {
      at: new Date().toISOString(),
      tripTransition: { tripId, from: ['pending_payment'] as const, to: 'pending_payment' as const },
      holdRenewal: { tripId, from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:30:00.000Z' },
    };
  };

  it('beside a conflict: never retried (no retry changes a value of the wrong type), a stored item that no longer reads', async () => {
    const cancelling = cancellingWith(testDocumentClient(), ['TransactionConflict', 'ValidationError']);
    const store = new DynamoDbBookingStore({ client: cancelling.client, tableName: 'unused', retryPolicy: FAST_RETRIES });
    await expect(store.commit(renewal())).rejects.toThrow(StoredDataError);
    expect(cancelling.attempts()).toBe(1);
  });

  it('beside a failed condition: the condition answers, as a refusal the caller reads again', async () => {
    const cancelling = cancellingWith(testDocumentClient(), ['ConditionalCheckFailed', 'ValidationError']);
    const store = new DynamoDbBookingStore({ client: cancelling.client, tableName: 'unused', retryPolicy: FAST_RETRIES });
    const result = await store.commit(renewal());
    expect(result.committed).toBe(false);
    expect(cancelling.attempts()).toBe(1);
  });

  it('alone: thrown as the store met it, not as a refusal', async () => {
    const cancelling = cancellingWith(testDocumentClient(), ['None', 'ValidationError']);
    const store = new DynamoDbBookingStore({ client: cancelling.client, tableName: 'unused', retryPolicy: FAST_RETRIES });
    const error = await store.commit(renewal()).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(StoredDataError);
    expect(error).not.toBeInstanceOf(TransactionCanceledException);
    // Named by the item DynamoDB refused: the second, the hold.
    expect({ entity: (error as StoredDataError).entity, id: (error as StoredDataError).entityId }).toEqual({
      entity: 'hold',
      id: expect.stringMatching(/^HOLD#trip/),
    });
  });
});
