// The DynamoDB adapter of the booking store: reads, and the one transaction that commits an atomic write.
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AtomicWrite, AtomicWriteResult, BookingQueries, BookingStore, ProviderCheckClaim } from '../domain/booking-store';
import { StoredDataError, StoreUnavailableError } from '../domain/errors';
import type { EventCursorStore } from '../domain/reconcile-events';
import type { DueRefund, RefundsDuePosition, RefundsDueQuery } from '../domain/resume-refunds';
import type { AuditEntry, Booking, EventCursor, Hold, PaymentRecord, ProcessedEvent, Slot, Trip, UnusableEvent } from '../domain/model';
import {
  eventCursorItem,
  indexAttributes,
  keys,
  refundsDueAttributes,
  refundsDuePositionItem,
  refundsDueSortKey,
  RETURN_CHECKED_AT,
  tripItem,
  type Key,
} from './items';
import { jitteredDelayMs } from '../backoff';
import { fromItem } from './stored-items';
import { GLOBAL_INDEXES, type GlobalIndexDefinition } from './table-definition';
import { allOf, buildTransaction, guard, requestToken } from './transaction-items';
import { DEFAULT_RETRY_POLICY, withTransientRetries, type RetryObserver, type RetryPolicy } from './transient-retry';
import { decodeRejection, invalidStoredItem } from './write-rejection';

export interface DynamoDbBookingStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly retryPolicy?: RetryPolicy;
  readonly retryObserver?: RetryObserver;
}

const BATCH_GET_LIMIT = 100;

/** The cursor only moves forward: a sweep that ends behind another one (or a retry of its own write) never takes it back. */
const CURSOR_NOT_AHEAD = 'resumeAt <= :resumeAt';

export class DynamoDbBookingStore implements BookingStore, BookingQueries, EventCursorStore, RefundsDueQuery {
  private readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  private readonly retryPolicy: RetryPolicy;
  private readonly retryObserver: RetryObserver;

  constructor(options: DynamoDbBookingStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.retryObserver = options.retryObserver ?? {};
  }

  /**
   * Closes the client's connections (command-line tools, so the process can exit). The document client's own
   * destroy() does nothing: it does not own the client it wraps, whose request handler holds the sockets.
   */
  destroy(): void {
    this.client.config.requestHandler.destroy?.();
  }

  private retrying<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return withTransientRetries(operation, call, this.retryPolicy, this.retryObserver);
  }

  private async getItem(key: Key, operation: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.retrying(operation, () => this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })));
    return result.Item;
  }

  async getTrip(tripId: string): Promise<Trip | undefined> {
    const item = await this.getItem(keys.trip(tripId), 'GetItem trip');
    return item && fromItem.trip(item);
  }

  async getProcessedEvent(eventId: string): Promise<ProcessedEvent | undefined> {
    const item = await this.getItem(keys.processedEvent(eventId), 'GetItem processed event');
    return item && fromItem.processedEvent(item);
  }

  async getPaymentRecord(paymentId: string): Promise<PaymentRecord | undefined> {
    const item = await this.getItem(keys.paymentRecord(paymentId), 'GetItem payment record');
    const record = item && fromItem.paymentRecord(item);
    if (item && record) await this.listAmongRefundsDue(item, record);
    return record;
  }

  /**
   * Read repair of a record written before the refunds due had an index: one with a refund still `requested` and none
   * of the index keys gets them, under the version read (a write meanwhile puts them itself). Without it, a refund that
   * version stored and Stripe did not take would never be asked for again by the sweep. Best effort: a role that may
   * not write payment records (the hold sweeper's) reads them all the same.
   */
  private async listAmongRefundsDue(item: Record<string, unknown>, record: PaymentRecord): Promise<void> {
    const index = GLOBAL_INDEXES.bySlotOrPayment;
    const due = refundsDueAttributes(record);
    if (item[index.partitionKey] !== undefined || due[index.partitionKey] === undefined) return;
    const versioned = typeof item.version === 'number';
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.paymentRecord(record.paymentId),
          UpdateExpression: 'SET #pk = :pk, #sk = :sk',
          ConditionExpression: versioned ? '#version = :version' : 'attribute_exists(pk) AND attribute_not_exists(#version)',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey, '#version': 'version' },
          ExpressionAttributeValues: {
            ':pk': due[index.partitionKey],
            ':sk': due[index.sortKey],
            ...(versioned && { ':version': item.version }),
          },
        }),
      )
      .catch(() => undefined);
  }

  async findTripByPayment(paymentId: string): Promise<Trip | undefined> {
    const { partition, sort } = keys.tripOfPayment(paymentId);
    const items = await this.queryIndex(GLOBAL_INDEXES.bySlotOrPayment, partition, sort);
    return items[0] && fromItem.trip(items[0]);
  }

  async listPaymentsNeedingAttention(): Promise<PaymentRecord[]> {
    return (await this.queryAttention()).filter((item) => item.entity === 'payment').map(fromItem.paymentRecord);
  }

  async listEventsNeedingAttention(): Promise<UnusableEvent[]> {
    return (await this.queryAttention()).filter((item) => item.entity === 'unusable_event').map(fromItem.unusableEvent);
  }

  private queryAttention(): Promise<Record<string, unknown>[]> {
    return this.queryIndex(GLOBAL_INDEXES.byParent, keys.attentionPartition);
  }

  async getHold(tripId: string): Promise<Hold | undefined> {
    const item = await this.getItem(keys.hold(tripId), 'GetItem hold');
    return item && fromItem.hold(item);
  }

  async listExpiredHolds(at: string, limit = 100, after?: Pick<Hold, 'tripId' | 'expiresAt'>): Promise<Hold[]> {
    const index = GLOBAL_INDEXES.byParent;
    // Index and table keys of the hold to start after, as holdItem writes them.
    const startAfter = after && {
      ...keys.hold(after.tripId),
      ...indexAttributes(index, { partition: keys.holdsPartition, sort: `${after.expiresAt}#${after.tripId}` }),
    };
    const result = await this.retrying('Query expired holds', () =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.indexName,
          // The sort key starts with the expiry: everything up to `at` has expired.
          KeyConditionExpression: '#pk = :pk AND #sk <= :at',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey },
          ExpressionAttributeValues: { ':pk': keys.holdsPartition, ':at': `${at}#~` },
          Limit: limit,
          ...(startAfter && { ExclusiveStartKey: startAfter }),
        }),
      ),
    );
    return (result.Items ?? []).map(fromItem.hold);
  }

  async listRefundsDue(limit: number, after?: DueRefund): Promise<DueRefund[]> {
    const index = GLOBAL_INDEXES.bySlotOrPayment;
    const result = await this.retrying('Query refunds due', () =>
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.indexName,
          // The sort key starts with when the oldest requested refund was stored: oldest first.
          KeyConditionExpression: after === undefined ? '#pk = :pk' : '#pk = :pk AND #sk > :after',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#sk': index.sortKey, '#paymentId': 'paymentId' },
          ExpressionAttributeValues: { ':pk': keys.refundsDuePartition, ...(after !== undefined && { ':after': refundsDueSortKey(after) }) },
          ProjectionExpression: '#paymentId, #sk',
          Limit: limit,
        }),
      ),
    );
    return (result.Items ?? []).map((item) => {
      const sort = String(item[index.sortKey]);
      return { paymentId: String(item.paymentId), requestedAt: sort.slice(0, sort.lastIndexOf('#')) };
    });
  }

  async getRefundsDuePosition(sweep: string): Promise<RefundsDuePosition | undefined> {
    const item = await this.getItem(keys.refundsDuePosition(sweep), 'GetItem refunds due position');
    return item && fromItem.refundsDuePosition(item);
  }

  async keepRefundsDuePosition(position: RefundsDuePosition): Promise<void> {
    await this.retrying('PutItem refunds due position', () =>
      this.client.send(new PutCommand({ TableName: this.tableName, Item: refundsDuePositionItem(position) })),
    );
  }

  async listActiveHolds(onUnusable?: (problem: StoredDataError) => void): Promise<Hold[]> {
    return readEach(await this.queryIndex(GLOBAL_INDEXES.byParent, keys.holdsPartition), fromItem.hold, onUnusable);
  }

  async getUnusableEvent(eventId: string): Promise<UnusableEvent | undefined> {
    const item = await this.getItem(keys.unusableEvent(eventId), 'GetItem unusable event');
    return item && fromItem.unusableEvent(item);
  }

  async listAllPaymentRecords(onUnusable?: (problem: StoredDataError) => void): Promise<PaymentRecord[]> {
    const items = await this.readAllPages('Scan payment records', (ExclusiveStartKey) =>
      this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'entity = :payment',
          ExpressionAttributeValues: { ':payment': 'payment' },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      ),
    );
    return readEach(items, fromItem.paymentRecord, onUnusable);
  }

  async createTrip(trip: Trip): Promise<boolean> {
    return this.putNew(tripItem(trip), 'PutItem trip');
  }

  /**
   * Puts an item that must not exist yet. A retry after a lost response finds our own item there, so an
   * identical stored item counts as success rather than as a clash.
   */
  private async putNew(item: Record<string, unknown>, operation: string): Promise<boolean> {
    try {
      await this.retrying(operation, () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: guard.isNew,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Compared as stored: the client drops undefined values, so a key set to undefined is a key absent.
      return error.Item !== undefined && isDeepStrictEqual(unmarshall(error.Item), unmarshall(marshall(item, { removeUndefinedValues: true })));
    }
  }

  async getSlots(slotIds: readonly string[]): Promise<Map<string, Slot>> {
    const items = await this.batchGet([...new Set(slotIds)].map(keys.slot), 'BatchGetItem slots');
    return new Map(
      items.map((item) => {
        const slot = fromItem.slot(item);
        return [slot.slotId, slot];
      }),
    );
  }

  async getBookings(references: readonly string[]): Promise<Booking[]> {
    const items = await this.batchGet([...new Set(references)].map(keys.booking), 'BatchGetItem bookings');
    const byReference = new Map(items.map((item) => [item.reference as string, fromItem.booking(item)]));
    return references.flatMap((reference) => byReference.get(reference) ?? []);
  }

  private async batchGet(allKeys: Key[], operation: string): Promise<Record<string, unknown>[]> {
    const found: Record<string, unknown>[] = [];
    for (let start = 0; start < allKeys.length; start += BATCH_GET_LIMIT) {
      let pending: Key[] = allKeys.slice(start, start + BATCH_GET_LIMIT);
      // DynamoDB may return part of a batch under load; what it left out is asked for again, after a wait (as AWS asks).
      // Rounds that got nothing count against giving up; left out that often in a row, the table did not answer: the
      // caller's 503 or retry, as for a throttled read.
      for (let idle = 0; pending.length > 0; ) {
        if (idle >= this.retryPolicy.maxAttempts) {
          throw new StoreUnavailableError(`${operation}: keys left unprocessed after ${idle} rounds that got none`, { maybeCommitted: false });
        }
        if (idle > 0) await delay(jitteredDelayMs(idle, this.retryPolicy));
        const request = { [this.tableName]: { Keys: pending, ConsistentRead: true } };
        const result = await this.retrying(operation, () => this.client.send(new BatchGetCommand({ RequestItems: request })));
        const left = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
        found.push(...(result.Responses?.[this.tableName] ?? []));
        idle = left.length < pending.length ? 0 : idle + 1;
        pending = left;
      }
    }
    return found;
  }

  /** Bookings of a trip by the index, so it also finds bookings the trip item does not list. */
  async listBookingsOfTrip(tripId: string): Promise<Booking[]> {
    const items = await this.queryIndex(GLOBAL_INDEXES.byParent, keys.tripBookingsPartition(tripId), 'BOOKING#');
    return items.map(fromItem.booking);
  }

  async listBookingsOfSlot(slotId: string): Promise<Booking[]> {
    return (await this.queryIndex(GLOBAL_INDEXES.bySlotOrPayment, keys.slotBookingsPartition(slotId), 'BOOKING#')).map(fromItem.booking);
  }

  async listAllSlots(onUnusable?: (problem: StoredDataError) => void): Promise<Slot[]> {
    const items = await this.readAllPages('Scan slots', (ExclusiveStartKey) =>
      this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'entity = :slot',
          ExpressionAttributeValues: { ':slot': 'slot' },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      ),
    );
    return readEach(items, fromItem.slot, onUnusable).sort((a, b) => `${a.date}T${a.time}${a.slotId}`.localeCompare(`${b.date}T${b.time}${b.slotId}`));
  }

  async listSlotsOfExperience(experienceId: string, onUnusable?: (problem: StoredDataError) => void): Promise<Slot[]> {
    const items = await this.queryIndex(GLOBAL_INDEXES.byParent, keys.experiencePartition(experienceId), 'SLOT#');
    return readEach(items, fromItem.slot, onUnusable);
  }

  async listTripsOfUser(userId: string): Promise<Trip[]> {
    return (await this.queryIndex(GLOBAL_INDEXES.byParent, keys.userTripsPartition(userId), 'TRIP#')).map(fromItem.trip);
  }

  /** The audit trail of one entity, oldest first. */
  async listAudit(entityType: string, entityId: string): Promise<AuditEntry[]> {
    const items = await this.queryAll('Query audit', {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.auditPartition(entityType, entityId) },
      ConsistentRead: true,
    });
    return items.map(fromItem.audit);
  }

  private queryIndex(index: GlobalIndexDefinition, partition: string, sortPrefix?: string): Promise<Record<string, unknown>[]> {
    return this.queryAll(`Query ${index.indexName}`, {
      TableName: this.tableName,
      IndexName: index.indexName,
      KeyConditionExpression: sortPrefix === undefined ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': index.partitionKey, ...(sortPrefix !== undefined && { '#sk': index.sortKey }) },
      ExpressionAttributeValues: { ':pk': partition, ...(sortPrefix !== undefined && { ':prefix': sortPrefix }) },
    });
  }

  private queryAll(operation: string, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    return this.readAllPages(operation, (ExclusiveStartKey) => this.client.send(new QueryCommand({ ...input, ExclusiveStartKey })));
  }

  /** Follows LastEvaluatedKey until the last page (Query and Scan page the same way), each page retried alone. */
  private async readAllPages(
    operation: string,
    fetchPage: (
      start: Record<string, unknown> | undefined,
    ) => Promise<{ Items?: Record<string, unknown>[] | undefined; LastEvaluatedKey?: Record<string, unknown> | undefined }>,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.retrying(operation, () => fetchPage(start));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async claimProviderCheck(claim: ProviderCheckClaim): Promise<boolean> {
    const statuses = Object.fromEntries(claim.whileStatusIn.map((status, index) => [`:from${index}`, status]));
    try {
      await this.retrying('UpdateItem trip check', () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.trip(claim.tripId),
            UpdateExpression: `SET ${RETURN_CHECKED_AT} = :at`,
            ConditionExpression: allOf(guard.exists, guard.tripStatusIn(Object.keys(statuses)), guard.tripNotCheckedSince),
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':at': claim.at, ':since': claim.notCheckedSince, ...statuses },
          }),
        ),
      );
      return true;
    } catch (error) {
      // Also a retry whose first try landed unseen: that return then asks nothing, and a later poll asks.
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async getEventCursor(source: string): Promise<EventCursor | undefined> {
    const item = await this.getItem(keys.eventCursor(source), 'GetItem event cursor');
    return item && fromItem.eventCursor(item);
  }

  async moveEventCursor(cursor: EventCursor): Promise<boolean> {
    try {
      await this.retrying('PutItem event cursor', () =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: eventCursorItem(cursor),
            // Equal is allowed: a sweep that does not move it still writes its deployment's mode, or drops a legacy retry list.
            ConditionExpression: `${guard.isNew} OR ${CURSOR_NOT_AHEAD}`,
            ExpressionAttributeValues: { ':resumeAt': cursor.resumeAt },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async commit(write: AtomicWrite): Promise<AtomicWriteResult> {
    const parts = buildTransaction(this.tableName, write);
    const transactItems = parts.map((part) => part.item);
    const input = {
      TransactItems: transactItems,
      // One token for the commit, sent by every retry: a retry after a lost response is answered with the first
      // outcome instead of being applied twice or refused by conditions the first attempt already changed.
      ClientRequestToken: requestToken(),
    };
    try {
      await this.retrying('TransactWriteItems', () => this.client.send(new TransactWriteCommand(input)));
      return { committed: true };
    } catch (error) {
      // Refused because a stored item is not of the shape an update needs: decided by no condition, a stored item that
      // no longer reads, on AWS and DynamoDB Local alike.
      const invalid = invalidStoredItem(parts, error);
      if (invalid) throw invalid;
      if (!(error instanceof TransactionCanceledException)) throw error;
      return { committed: false, rejection: decodeRejection(parts, error.CancellationReasons ?? []) };
    }
  }
}

/** Reads every item; with `onUnusable`, one that fails its shape is reported and left out instead of failing the listing. */
function readEach<T>(items: Record<string, unknown>[], read: (item: Record<string, unknown>) => T, onUnusable?: (problem: StoredDataError) => void): T[] {
  if (!onUnusable) return items.map(read);
  return items.flatMap((item) => {
    try {
      return [read(item)];
    } catch (error) {
      if (!(error instanceof StoredDataError)) throw error;
      onUnusable(error);
      return [];
    }
  });
}
