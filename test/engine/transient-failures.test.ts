// Transient failures (throttling, conflicts, network) injected in front of DynamoDB Local: retried, never double-applied, never misreported.
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { createBookingHandler } from '../../lambdas/create-booking/create-booking-handler';
import { confirmTrip } from '../../lambdas/shared/domain/confirm-trip';
import { injectFaults } from '../../scripts/dev-kit/faults';
import { deps, FAST_RETRIES, overwriteSlot, readSlot, seedSlot, testDocumentClient, testStore, uniqueId } from '../support/store';
import { confirmationOf, createPendingTrip } from '../support/trips';

const TRANSACT = 'TransactWriteItemsCommand';

/** Seeds through a client of its own, so the faults and call counts below see only the confirmation. */
const seeder = testStore();

async function faultyStore() {
  const client = testDocumentClient();
  const faults = injectFaults(client);
  return { store: testStore(client), faults };
}

describe('confirmTrip under transient failures', () => {
  it.each([
    { fault: 'throttle' as const, name: 'throttled' },
    { fault: 'conflict' as const, name: 'cancelled by a TransactionConflict' },
    { fault: 'network-before' as const, name: 'refused a connection' },
  ])('books once when the transaction is $name twice and then goes through', async ({ fault }) => {
    const { store, faults } = await faultyStore();
    const slot = await seedSlot(seeder, { capacity: 3 });
    const trip = await createPendingTrip(store, [[slot, 2]]);
    faults.queue(TRANSACT, fault, fault);

    const result = await confirmTrip(deps(store), confirmationOf(trip));

    expect(result).toMatchObject({ ok: true, replayed: false });
    expect(faults.injected).toBe(2);
    expect(faults.calls.get(TRANSACT)).toBe(3);
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(1);
    expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
  });

  it('answers TRANSACTION_FAILED, retryable, with nothing written when every attempt is throttled', async () => {
    const { store, faults } = await faultyStore();
    const slot = await seedSlot(seeder, { capacity: 3 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    faults.queue(TRANSACT, ...Array<'throttle'>(FAST_RETRIES.maxAttempts).fill('throttle'));

    const result = await confirmTrip(deps(store), confirmationOf(trip));

    expect(result).toMatchObject({ ok: false, errorCode: 'TRANSACTION_FAILED', retryable: true });
    expect(faults.calls.get(TRANSACT)).toBe(FAST_RETRIES.maxAttempts);
    expect((await store.getTrip(trip.tripId))?.status).toBe('pending_payment');
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(3);
    expect(await store.listBookingsOfTrip(trip.tripId)).toEqual([]);
  });

  it('reports a committed confirmation as booked when its response was lost, 20 times in a row, with one decrement each', async () => {
    const { store, faults } = await faultyStore();
    const slot = await seedSlot(seeder, { capacity: 20 });
    for (let round = 0; round < 20; round++) {
      const trip = await createPendingTrip(store, [[slot, 1]]);
      faults.queue(TRANSACT, 'lost-response');

      const result = await confirmTrip(deps(store), confirmationOf(trip));

      // Not a replay: the retry carried the same ClientRequestToken and DynamoDB answered it as the commit it was.
      expect(result).toMatchObject({ ok: true, replayed: false });
      expect(await store.listBookingsOfTrip(trip.tripId)).toHaveLength(1);
      expect((await store.getTrip(trip.tripId))?.status).toBe('booked');
    }
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(0);
    expect(await store.listBookingsOfSlot(slot.slotId)).toHaveLength(20);
  });

  it('reads the trip back and answers booked when every response is lost after the first attempt committed', async () => {
    const { store, faults } = await faultyStore();
    const slot = await seedSlot(seeder, { capacity: 2 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    const input = confirmationOf(trip);
    faults.queue(TRANSACT, ...Array<'lost-response'>(FAST_RETRIES.maxAttempts).fill('lost-response'));

    const result = await confirmTrip(deps(store), input);

    expect(result).toMatchObject({ ok: true, paymentId: input.paymentId });
    expect(await store.getTrip(trip.tripId)).toMatchObject({ status: 'booked', paymentId: input.paymentId });
    expect((await readSlot(store, slot.slotId))?.availableCount).toBe(1);
  });

  it('never retries a failed condition: one transaction call for a sold-out slot', async () => {
    const { store, faults } = await faultyStore();
    const slot = await seedSlot(seeder, { capacity: 1 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    await overwriteSlot({ ...slot, availableCount: 0 });

    const result = await confirmTrip(deps(store), confirmationOf(trip));

    expect(result).toMatchObject({ ok: false, errorCode: 'INSUFFICIENT_AVAILABILITY' });
    expect(faults.calls.get(TRANSACT)).toBe(1);
  });

  it('retries a throttled read of the trip before confirming it', async () => {
    const { store, faults } = await faultyStore();
    const slot = await seedSlot(seeder, { capacity: 2 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    faults.queue('GetItemCommand', 'throttle', 'throttle');
    const invoke = createBookingHandler({ ...deps(store), logger: new Logger({ logLevel: 'SILENT' }) });

    const response = await invoke({ paymentId: uniqueId('pi'), tripId: trip.tripId, userId: trip.userId, tripItems: trip.items });

    expect(response).toMatchObject({ success: true });
    expect(faults.calls.get('GetItemCommand')).toBe(3);
  });

  it('uses one DynamoDB request on the happy path: the transaction (the caller read the trip)', async () => {
    const { store, faults } = await faultyStore();
    const slot = await seedSlot(seeder, { capacity: 2 });
    const trip = await createPendingTrip(store, [[slot, 1]]);
    faults.calls.clear();

    const result = await confirmTrip(deps(store), confirmationOf(trip));

    // Counting a confirmation that failed would prove nothing about the happy path.
    expect(result).toMatchObject({ ok: true, replayed: false });
    expect(Object.fromEntries(faults.calls)).toEqual({ [TRANSACT]: 1 });
  });

  it('sends a lost commit again under its own token, and a second commit of the very same write under another', async () => {
    const client = testDocumentClient();
    const faults = injectFaults(client);
    const store = testStore(client);
    const sent: unknown[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        sent.push((args.input as { ClientRequestToken?: unknown }).ClientRequestToken);
        return next(args);
      },
      { step: 'initialize', name: 'sentTokens' },
    );
    const write = {
      at: '2026-11-26T10:00:00.000Z',
      processedEvent: {
        eventId: uniqueId('evt'),
        eventType: 'checkout.session.completed',
        outcome: 'booked',
        references: [],
        processedAt: '2026-11-26T10:00:00.000Z',
        expiresAt: 1_900_000_000,
      },
    };
    faults.queue(TRANSACT, 'lost-response');

    const first = await store.commit(write);
    // The same items, committed again by another caller: its condition decides it, DynamoDB does not answer it as the first.
    const second = await store.commit(write);

    expect(first).toEqual({ committed: true });
    expect(second).toMatchObject({ committed: false, rejection: { eventAlreadyProcessed: true } });
    expect(sent).toHaveLength(3);
    expect(sent[1]).toBe(sent[0]);
    expect(sent[2]).not.toBe(sent[0]);
  });
});
