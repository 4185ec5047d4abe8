// The refunds due taken in turn, on payment records written straight to DynamoDB Local with chosen stamps: the list's order, its length and the clock are the test's.
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomIds, type Clock } from '../../lambdas/shared/domain/collaborators';
import { StoredDataError } from '../../lambdas/shared/domain/errors';
import type { PaymentRecord } from '../../lambdas/shared/domain/model';
import { PaymentGatewayUnavailableError, type PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { DUE_LIST_LIMIT, OVERDUE_AFTER_MS, RESUME_LIMIT, resumeRequestedRefunds, type ResumeRefundsInput } from '../../lambdas/shared/domain/resume-refunds';
import type { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { keys, paymentRecordItem } from '../../lambdas/shared/dynamodb/items';
import { createBookingTable, deleteBookingTable } from '../../scripts/dev-kit/booking-table';
import { testDocumentClient, testStore, uniqueId } from '../support/store';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
// A table of this file's own: its thousand payments due stay out of the file's table every `ops check` reads.
const TABLE = uniqueId('refunds-due-table');
beforeAll(() => createBookingTable(inject('dynamoEndpoint'), TABLE));
afterAll(() => deleteBookingTable(inject('dynamoEndpoint'), TABLE));
const store = testStore(testDocumentClient(), TABLE);
const NOW = Date.now();
const clock: Clock = { now: () => new Date(NOW) };
const iso = (ms: number) => new Date(ms).toISOString();

/** A payment with one refund of it stored as `requested` at `requestedAt`, as a delivery that got a 500 leaves it. */
function dueRecord(paymentId: string, requestedAt: string): PaymentRecord {
  return {
    paymentId,
    status: 'refund_pending',
    setAside: true,
    reason: 'review',
    amountPaid: 1000,
    currency: 'eur',
    amountRefunded: 0,
    refunds: [
      {
        refundKey: `${paymentId}-r1`,
        amount: 1000,
        status: 'requested',
        requestedBy: 'system',
        reason: 'review',
        bookingReferences: [],
        requestedAt,
        updatedAt: requestedAt,
      },
    ],
    version: 1,
    createdAt: requestedAt,
    updatedAt: requestedAt,
  };
}

async function writeDue(entries: readonly { paymentId: string; requestedAt: string }[]): Promise<void> {
  const client = testDocumentClient();
  for (let i = 0; i < entries.length; i += 25) {
    const batch = entries.slice(i, i + 25).map((entry) => ({ PutRequest: { Item: paymentRecordItem(dueRecord(entry.paymentId, entry.requestedAt)) } }));
    let request: Record<string, (typeof batch)[number][]> | undefined = { [TABLE]: batch };
    while (request && Object.keys(request).length > 0) {
      const result = await client.send(new BatchWriteCommand({ RequestItems: request }));
      request = result.UnprocessedItems as typeof request;
    }
  }
}

/** The store as a sweep of only this test's payments sees it: the store's list of them, `limit` at most, oldest first. */
function scoped(prefix: string): DynamoDbBookingStore {
  const view = Object.create(store) as DynamoDbBookingStore;
  view.listRefundsDue = async (limit, after) => (await store.listRefundsDue(100_000, after)).filter((due) => due.paymentId.startsWith(prefix)).slice(0, limit);
  return view;
}

/** Stripe answering 500 to every refund (the payments stay due), remembering whom it was asked for. */
function failingStripe(asked: string[]): PaymentGateway {
  return {
    refundable: () => true,
    findRefund: async () => undefined,
    holdsPayment: async () => true,
    refundedSoFar: async () => undefined,
    refund: async (request) => {
      asked.push(request.paymentId);
      throw new PaymentGatewayUnavailableError('Stripe answered 500');
    },
  };
}

function runner(prefix: string, sweep = uniqueId('sweep'), afterRead?: () => Promise<void>) {
  const asked: string[] = [];
  const view = scoped(prefix);
  if (afterRead) view.getRefundsDuePosition = async (name) => store.getRefundsDuePosition(name).finally(afterRead);
  const deps = { store: view, gateway: failingStripe(asked), clock, ids: randomIds };
  const run = async (input: Omit<ResumeRefundsInput, 'sweep'> = {}) => {
    const from = asked.length;
    const result = await resumeRequestedRefunds(deps, { sweep, ...input });
    return { ...result, begun: asked.slice(from) };
  };
  return { run, asked, sweep };
}

describe('more payments due than a run reads at once (DUE_LIST_LIMIT)', () => {
  it('asks, within one round of them all, for the payment listed after the oldest DUE_LIST_LIMIT, while Stripe keeps failing every one', async () => {
    const prefix = `pi_${uniqueId('many').replace(/-/g, '')}_`;
    // 1,001 payments due, stamped two hours ago a second apart: the newest is the 1,001st in the list.
    const entries = Array.from({ length: DUE_LIST_LIMIT + 1 }, (_, i) => ({
      paymentId: `${prefix}${String(i).padStart(5, '0')}`,
      requestedAt: iso(NOW - 2 * HOUR_MS + i * 1000),
    }));
    await writeDue(entries);
    const newest = entries[DUE_LIST_LIMIT]!.paymentId;
    const { run, asked } = runner(prefix);

    // Each run begins RESUME_LIMIT (100): eleven runs go round the whole 1,001 once, twelve with one to spare.
    const runs = Math.ceil((DUE_LIST_LIMIT + 1) / RESUME_LIMIT) + 1;
    for (let i = 0; i < runs; i++) await run();

    // A turn reads on from its place: past the 1,000th, the newest is asked for before going round to the oldest.
    expect(new Set(asked).size).toBe(DUE_LIST_LIMIT + 1);
    expect(asked).toContain(newest);
  }, 180_000);
});

describe('a turn', () => {
  it('takes payments stamped at the same instant by payment id, as the index lists them', async () => {
    const prefix = `pi_${uniqueId('tie').replace(/-/g, '')}_`;
    const at = iso(NOW - 2 * HOUR_MS);
    const ids = ['d', 'b', 'a', 'c'].map((suffix) => `${prefix}${suffix}`);
    await writeDue(ids.map((paymentId) => ({ paymentId, requestedAt: at })));
    const { run } = runner(prefix);

    const begun: string[] = [];
    for (let i = 0; i < 5; i++) begun.push(...(await run({ limit: 1 })).begun);

    expect(begun.map((id) => id.slice(prefix.length))).toEqual(['a', 'b', 'c', 'd', 'a']);
  });

  it('goes round from a place at a refund stamped ahead of the clock; leaves a refund too young, then takes it in its turn', async () => {
    const prefix = `pi_${uniqueId('ahead').replace(/-/g, '')}_`;
    await writeDue([
      { paymentId: `${prefix}old`, requestedAt: iso(NOW - 2 * HOUR_MS) },
      { paymentId: `${prefix}ahead`, requestedAt: iso(NOW + 2 * HOUR_MS) },
      { paymentId: `${prefix}young`, requestedAt: iso(NOW - MINUTE_MS) },
    ]);
    const { run, sweep } = runner(prefix);

    const first = await run({ limit: 1 });
    const second = await run({ limit: 1 });
    const placeAfterSecond = await store.getRefundsDuePosition(sweep);
    const third = await run({ limit: 1 });

    expect(first.begun).toEqual([`${prefix}old`]);
    expect(second.begun).toEqual([`${prefix}ahead`]);
    expect(placeAfterSecond).toMatchObject({ after: { paymentId: `${prefix}ahead` } });
    // Nothing after the place: round to the oldest (the young one is not due yet, and is not begun).
    expect(third.begun).toEqual([`${prefix}old`]);
    // Once old enough, the young one (listed between the two) is taken in the following turn.
    const laterDeps = { store: scoped(prefix), gateway: failingStripe([]), clock: { now: () => new Date(NOW + 10 * MINUTE_MS) }, ids: randomIds };
    const fourth = await resumeRequestedRefunds(laterDeps, { sweep, limit: 1 });
    expect(fourth.payments.map((p) => ('paymentId' in p ? p.paymentId : p.record.paymentId))).toEqual([`${prefix}young`]);
  });

  it('of two runs at once (the last writer wins), asks for some payments twice, and skips none', async () => {
    const prefix = `pi_${uniqueId('twice').replace(/-/g, '')}_`;
    const ids = Array.from({ length: 7 }, (_, i) => `${prefix}${i}`);
    await writeDue(ids.map((paymentId, i) => ({ paymentId, requestedAt: iso(NOW - 2 * HOUR_MS + i * 1000) })));
    // Both runs read the place before either begins a payment (so before either writes it).
    let arrived = 0;
    let release: () => void = () => {};
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const barrier = async () => {
      if (++arrived === 2) release();
      await bothRead;
    };
    const sweep = uniqueId('sweep');
    const { run } = runner(prefix, sweep, barrier);
    const other = runner(prefix, sweep, barrier);

    // A run that begins 3 and one that begins 1, at once, both from the oldest; whichever writes last keeps its place.
    const [wide, narrow] = await Promise.all([run({ limit: 3 }), other.run({ limit: 1 })]);
    expect(wide.begun).toEqual(ids.slice(0, 3));
    expect(narrow.begun).toEqual(ids.slice(0, 1));
    // Then one run at a time, 2 each: every payment is begun within ceil(7/2) = 4 runs from wherever the place was left.
    const after: string[] = [];
    const alone = runner(prefix, sweep);
    for (let i = 0; i < 4; i++) after.push(...(await alone.run({ limit: 2 })).begun);
    expect(new Set(after)).toEqual(new Set(ids));
  });

  it('counts as overdue every payment not answered, whatever the place it began at', async () => {
    const prefix = `pi_${uniqueId('overdue').replace(/-/g, '')}_`;
    const ids = Array.from({ length: 5 }, (_, i) => `${prefix}${i}`);
    // Three over an hour old, two younger (but past the resume delay).
    await writeDue(ids.map((paymentId, i) => ({ paymentId, requestedAt: iso(NOW - (i < 3 ? OVERDUE_AFTER_MS + HOUR_MS : 30 * MINUTE_MS) + i * 1000) })));
    const { run } = runner(prefix);

    const overdue: number[] = [];
    for (let i = 0; i < 6; i++) overdue.push((await run({ limit: 2 })).overdue);

    expect(overdue).toEqual([3, 3, 3, 3, 3, 3]);
  });

  it('begins at the oldest from a stored place that does not read (after: null, or no updatedAt), reports it and replaces it', async () => {
    for (const broken of [{ after: null, updatedAt: iso(NOW) }, { after: { paymentId: 'x', requestedAt: 'y' } }]) {
      const prefix = `pi_${uniqueId('broken').replace(/-/g, '')}_`;
      const ids = [`${prefix}0`, `${prefix}1`];
      await writeDue(ids.map((paymentId, i) => ({ paymentId, requestedAt: iso(NOW - 2 * HOUR_MS + i * 1000) })));
      const { run, sweep } = runner(prefix);
      await testDocumentClient().send(new PutCommand({ TableName: TABLE, Item: { ...keys.refundsDuePosition(sweep), sweep, ...broken } }));

      const first = await run({ limit: 1 });

      expect(first.begun).toEqual([ids[0]]);
      expect(first.positionError).toBeInstanceOf(StoredDataError);
      expect(await store.getRefundsDuePosition(sweep)).toMatchObject({ after: { paymentId: ids[0] } });
    }
  });

  it('kept beside a sweep that has no event cursor yet, leaves the cursor to be created (its put "must not exist" is per item)', async () => {
    const source = uniqueId('cursor');
    await store.keepRefundsDuePosition({ sweep: source, after: { paymentId: 'pi_x', requestedAt: iso(NOW) }, updatedAt: iso(NOW) });

    const moved = await store.moveEventCursor({ source, resumeAt: 100, mode: 'test', updatedAt: iso(NOW) });

    expect(moved).toBe(true);
    expect(await store.getEventCursor(source)).toMatchObject({ source, resumeAt: 100 });
    expect(await store.getRefundsDuePosition(source)).toMatchObject({ sweep: source, after: { paymentId: 'pi_x' } });
  });
});
