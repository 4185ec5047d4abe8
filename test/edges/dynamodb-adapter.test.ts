// The DynamoDB adapter at its edges, each a reproduction: an idempotent put retried after a lost answer, and records
// read through their schemas and written back whole without losing a field.
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { priceTrip } from '../../lambdas/shared/domain/create-trip';
import type { PaymentRecord, Trip } from '../../lambdas/shared/domain/model';
import { resolvePayment } from '../../lambdas/shared/domain/payment-operations';
import { recordUnusableEvent, resolveUnusableEvent } from '../../lambdas/shared/domain/unusable-events';
import { keys, paymentRecordItem } from '../../lambdas/shared/dynamodb/items';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { FAST_RETRIES, seedSlot, testDocumentClient, testStore, uniqueId, testTableName } from '../support/store';

const table = () => testTableName();
const putRaw = (item: Record<string, unknown>) => testDocumentClient().send(new PutCommand({ TableName: table(), Item: item }));
const getRaw = async (key: { readonly pk: string; readonly sk: string }) =>
  (await testDocumentClient().send(new GetCommand({ TableName: table(), Key: key, ConsistentRead: true }))).Item;

describe('the idempotent put of a new trip', () => {
  it('answers true when the first put landed but its answer was lost (the retry finds the very same item)', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const store = testStore(client);
    const a = await seedSlot(store, { capacity: 4 });
    const b = await seedSlot(store, { capacity: 4 });
    const priced = await priceTrip(
      { store, clock: systemClock, ids: randomIds },
      {
        userId: uniqueId('user'),
        items: [
          { experienceId: a.experienceId, slotId: a.slotId, guestCount: 2 },
          { experienceId: b.experienceId, slotId: b.slotId, guestCount: 1 },
        ],
      },
    );
    if (!priced.ok) expect.fail(priced.message);
    const trip: Trip = { ...priced.trip, checkoutSessionId: `cs_${uniqueId('s')}`, statusReason: 'x' };
    faults.queue('PutItemCommand', 'lost-response');

    expect(await store.createTrip(trip)).toBe(true);
    expect(faults.calls.get('PutItemCommand')).toBe(2);
    expect(await store.getTrip(trip.tripId)).toEqual(trip);
  });

  it('answers true on that retry also for a trip object holding an optional field set to undefined (never stored, removeUndefinedValues)', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const store = testStore(client);
    const slot = await seedSlot(store, { capacity: 4 });
    const priced = await priceTrip(
      { store, clock: systemClock, ids: randomIds },
      { userId: uniqueId('user'), items: [{ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: 1 }] },
    );
    if (!priced.ok) expect.fail(priced.message);
    // A caller spreading an optional field it does not have: the marshaller drops it, the stored item lacks the key.
    const trip = { ...priced.trip, checkoutSessionId: undefined } as unknown as Trip;
    faults.queue('PutItemCommand', 'lost-response');

    expect(await store.createTrip(trip)).toBe(true);
  });
});

describe('a payment record written back whole', () => {
  it('keeps every field a versioned record can hold when a person resolves it', async () => {
    const paymentId = `pi_${uniqueId('p').replace(/-/g, '')}`;
    const at = new Date().toISOString();
    const record: PaymentRecord = {
      paymentId,
      status: 'needs_attention',
      tripId: uniqueId('trip'),
      sessionId: `cs_${uniqueId('s')}`,
      setAside: false,
      reason: 'SLOT_BLOCKED',
      amountPaid: 9_000,
      currency: 'eur',
      amountRefunded: 4_500,
      chargeRefunded: 4_500,
      chargeRefundedAsOf: 1_790_000_000,
      refunds: [
        {
          refundKey: `refund-${paymentId}-A`,
          amount: 4_500,
          status: 'failed',
          requestedBy: 'operator',
          actorId: 'ana',
          reason: 'cancelled',
          bookingReferences: ['PL-AAAAAAAA'],
          stripeRefundId: 're_1',
          failureCode: 'expired_or_canceled_card',
          retriedAs: `refund-${paymentId}-A-retry-2`,
          requestedAt: at,
          updatedAt: at,
        },
        {
          refundKey: `refund-${paymentId}-A-retry-2`,
          amount: 4_500,
          status: 'succeeded',
          requestedBy: 'operator',
          reason: 'cancelled',
          bookingReferences: ['PL-AAAAAAAA'],
          stripeRefundId: 're_2',
          requestedAt: at,
          updatedAt: at,
        },
      ],
      attention: { reason: 'refund_failed', code: 'expired_or_canceled_card', since: at, previousStatus: 'cancelled' },
      version: 7,
      createdAt: at,
      updatedAt: at,
    };
    await putRaw(paymentRecordItem(record));
    const store = testStore();

    const resolved = await resolvePayment({ store, clock: systemClock, ids: randomIds }, paymentId, 'checked with the bank', 'ana');

    expect(resolved).toMatchObject({ ok: true });
    const { pk: _pk, sk: _sk, entity: _entity, ...stored } = (await getRaw(keys.paymentRecord(paymentId))) as Record<string, unknown>;
    expect(stored).toEqual({ ...record, status: 'resolved', version: 8, updatedAt: expect.any(String) });
  });

  it('keeps an unusable event’s fields when a person resolves it', async () => {
    const store = testStore();
    const eventId = `evt_${uniqueId('e').replace(/-/g, '')}`;
    await recordUnusableEvent({ store, clock: systemClock, ids: randomIds }, { eventId, eventType: 'charge.refunded', problem: 'data.object.amount: too big' });
    const before = await store.getUnusableEvent(eventId);

    expect(await resolveUnusableEvent({ store, clock: systemClock, ids: randomIds }, eventId, 'seen')).toMatchObject({ ok: true });

    expect(await store.getUnusableEvent(eventId)).toEqual({ ...before, status: 'resolved', updatedAt: expect.any(String) });
  });
});

describe('a BatchGetItem DynamoDB answers one key per round (under load, or past its 16 MB answer)', () => {
  it('returns every slot, each once, while each round gets some: only rounds that get none count towards giving up', async () => {
    const client = testDocumentClient();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchGetItemCommand') return next(args);
        const input = args.input as { RequestItems: Record<string, { Keys: unknown[]; ConsistentRead?: boolean }> };
        const [table, request] = Object.entries(input.RequestItems)[0] as [string, { Keys: unknown[]; ConsistentRead?: boolean }];
        const [first, ...rest] = request.Keys;
        const result = (await next({ ...args, input: { ...input, RequestItems: { [table]: { ...request, Keys: [first] } } } })) as {
          output: { UnprocessedKeys?: Record<string, unknown> };
        };
        if (rest.length > 0) result.output.UnprocessedKeys = { [table]: { ...request, Keys: rest } };
        return result as never;
      },
      { step: 'initialize', name: 'onePerRound', override: true },
    );
    const slots = await Promise.all(Array.from({ length: FAST_RETRIES.maxAttempts + 2 }, () => seedSlot(testStore(), { capacity: 5 })));

    const read = await testStore(client).getSlots(slots.map((slot) => slot.slotId));

    expect([...read.keys()].sort()).toEqual(slots.map((slot) => slot.slotId).sort());
  });
});
