// Test helpers: a store on the test file's own table of the shared DynamoDB Local, unique ids per test, slot seeding and table reads, and the clients closed after each file.
import { randomUUID } from 'node:crypto';
import { expect, inject, onTestFinished } from 'vitest';
import { DeleteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { keys } from '../../lambdas/shared/dynamodb/items';
import { overwriteSlot as writeSlot } from '../../scripts/dev-kit/overwrite-slot';
import type { RetryPolicy } from '../../lambdas/shared/dynamodb/transient-retry';
import { randomIds, systemClock, type Deps } from '../../lambdas/shared/domain/collaborators';
import type { BookingQueries, BookingStore } from '../../lambdas/shared/domain/booking-store';
import type { Slot } from '../../lambdas/shared/domain/model';
import { createBookingTable, deleteBookingTable } from '../../scripts/dev-kit/booking-table';
import { destroyDocumentClient } from '../../scripts/dev-kit/document-client';

/** Short backoff so retry paths do not slow the suite; the attempt count stays the production default. */
export const FAST_RETRIES: RetryPolicy = { maxAttempts: 5, baseDelayMs: 2, maxDelayMs: 20 };

/**
 * This test file's own table, created before its tests by file-table.ts and deleted after them. Every file has one, so
 * a sweep run with its clock hours ahead (expired holds, refunds due, Stripe's events) acts only on the file's own
 * holds and refunds, and files can run at the same time.
 */
const FILE_TABLE = uniqueId('file-table');

/** The table of this test file's shared store (the module is evaluated afresh for each file). */
export function testTableName(): string {
  return FILE_TABLE;
}

/** The clients this test file opened; file-table.ts destroys them once the file's tests are done. */
const openClients = new Set<DynamoDBDocumentClient>();

export function testDocumentClient(): DynamoDBDocumentClient {
  const client = createDocumentClient({ endpoint: inject('dynamoEndpoint') });
  openClients.add(client);
  return client;
}

/** What tests ask of a store: the port the use cases see, and the queries the operator tools use. */
export type TestStore = BookingStore & BookingQueries;

/** The table a test's store is on (the deployment's own, as its Stripe sessions are marked with it): the file's unless it says. */
export function tableOf(store: TestStore): string {
  return store instanceof DynamoDbBookingStore ? store.tableName : testTableName();
}

export function destroyTestClients(): void {
  for (const client of openClients) destroyDocumentClient(client);
  openClients.clear();
}

export function testStore(client: DynamoDBDocumentClient = testDocumentClient(), tableName: string = testTableName()): DynamoDbBookingStore {
  return new DynamoDbBookingStore({ client, tableName, retryPolicy: FAST_RETRIES });
}

/**
 * A store on a table of the test's own, deleted when the test ends: for what must not stay in the file's table,
 * such as deliberate overselling, which would make every `ops check` of it fail whatever the check was testing.
 */
export async function storeOnOwnTable(): Promise<DynamoDbBookingStore> {
  const endpoint = inject('dynamoEndpoint');
  const tableName = uniqueId('own-table');
  await createBookingTable(endpoint, tableName);
  onTestFinished(() => deleteBookingTable(endpoint, tableName));
  return testStore(testDocumentClient(), tableName);
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

export function deps(store: TestStore): Deps & { store: TestStore } {
  return { store, clock: systemClock, ids: randomIds };
}

export interface SlotSeed {
  capacity?: number;
  availableCount?: number;
  isBlocked?: boolean;
  priceAmount?: number;
  currency?: string;
  experienceId?: string;
  date?: string;
  time?: string;
}

export async function seedSlot(store: BookingStore, seed: SlotSeed = {}): Promise<Slot> {
  const capacity = seed.capacity ?? 10;
  const slot: Slot = {
    slotId: uniqueId('slot'),
    experienceId: seed.experienceId ?? uniqueId('exp'),
    date: seed.date ?? '2027-03-14',
    time: seed.time ?? '09:30',
    capacity,
    availableCount: seed.availableCount ?? capacity,
    isBlocked: seed.isBlocked ?? false,
    priceAmount: seed.priceAmount ?? 4_500,
    currency: seed.currency ?? 'eur',
    updatedAt: new Date().toISOString(),
  };
  // Through the store's own atomic write, so a slot can be seeded into any table a test runs against.
  const stored = await store.commit({ at: slot.updatedAt, newSlot: slot });
  if (!stored.committed) expect.fail(`slot ${slot.slotId} could not be seeded`);
  return slot;
}

/** Writes the slot as given, past every guard: to stage sold-out seats, drift or a block without a use case. */
export async function overwriteSlot(
  slot: Slot,
  table: { endpoint: string; tableName: string } = { endpoint: inject('dynamoEndpoint'), tableName: testTableName() },
): Promise<void> {
  const client = createDocumentClient({ endpoint: table.endpoint });
  openClients.add(client);
  await writeSlot(client, table.tableName, slot);
}

export async function readSlot(store: BookingStore, slotId: string): Promise<Slot | undefined> {
  return (await store.getSlots([slotId])).get(slotId);
}

/** Removes a slot outright, as no use case does: to prove a missing slot is refused. */
export async function deleteSlot(slotId: string): Promise<void> {
  await testDocumentClient().send(new DeleteCommand({ TableName: testTableName(), Key: keys.slot(slotId) }));
}

/** checkConsistency's options on DynamoDB Local, which updates its indexes in the write itself: a re-check need not wait. */
export const LOCAL_INDEXES = { settleMs: 0 } as const;

/** Makes a slot's unheld count a string: an update of it is refused by DynamoDB, as for any slot that no longer reads. */
export async function spoilSlotCounts(tableName: string, slotId: string): Promise<void> {
  await testDocumentClient().send(
    new UpdateCommand({
      TableName: tableName,
      Key: keys.slot(slotId),
      UpdateExpression: 'SET unheldCount = :bad',
      ExpressionAttributeValues: { ':bad': 'two' },
    }),
  );
}
