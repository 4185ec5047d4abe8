// The DynamoDB adapter of the booking store: the only place that knows expressions, keys and SDK types.
import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type QueryCommandInput,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type {
  AtomicWrite,
  AtomicWriteResult,
  BookingCancellation,
  BookingStore,
  PaymentRecordWrite,
  SlotSettingsChange,
  SeatChange,
  TripTransition,
  WriteRejection,
} from '../domain/booking-store';
import { StoredDataError } from '../domain/errors';
import type { AuditEntry, Booking, Hold, PaymentRecord, ProcessedEvent, Slot, Trip, UnusableEvent } from '../domain/model';
import { auditItem, bookingItem, fromItem, holdItem, keys, paymentRecordItem, processedEventItem, slotItem, tripItem, unusableEventItem, type Key } from './items';
import { GLOBAL_INDEXES, type GlobalIndexDefinition } from './table-definition';
import { DEFAULT_RETRY_POLICY, withTransientRetries, type RetryObserver, type RetryPolicy } from './transient-retry';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Values = Record<string, unknown>;

/** Named guards; each line says what it protects. Joined with AND into one ConditionExpression. */
const guard = {
  /** The item is there at all (an Update would otherwise create it). */
  exists: 'attribute_exists(pk)',
  /** Nothing with this key exists yet: a reference, an audit entry or an event is written once. */
  isNew: 'attribute_not_exists(pk)',
  /** The slot is the one the trip was priced for, not another experience's slot with the same id. */
  slotIsForExperience: 'experienceId = :experienceId',
  /** Operators can close a slot; a closed slot sells nothing. */
  slotNotBlocked: 'isBlocked <> :true',
  /** The decrement never takes availability below zero: this is what stops overselling. */
  enoughSeats: 'availableCount >= :guests',
  /** Nor the seats neither booked nor held: what stops a hold, or an unheld confirmation, from taking a held seat. */
  enoughUnheldSeats: '(unheldCount >= :guests OR (attribute_not_exists(unheldCount) AND availableCount >= :guests))',
  /** A release is computed against the capacity it read; a concurrent capacity change makes it re-read. */
  capacityUnchanged: '#capacity = :capacity',
  /** After the release availability is still at most capacity. */
  roomToGiveBack: 'availableCount <= :ceiling',
  /** A capacity cut removes only free seats, never sold or held ones. */
  seatsLeftToRemove: '(unheldCount >= :mustBeFree OR (attribute_not_exists(unheldCount) AND availableCount >= :mustBeFree))',
  /** A hold is consumed or released once, by whoever finds it still held. */
  holdIsHeld: '#status = :held',
  /** Only a confirmed booking can be cancelled, so seats come back once. */
  bookingConfirmed: '#status = :confirmed',
  /** The trip belongs to the paying user. */
  tripOwnedBy: 'userId = :userId',
  /** The payment record is still the version this step read: no other path moved its money meanwhile. */
  recordVersionIs: '#version = :version',
  /** A record written before versions were kept, still as read. */
  recordUnversioned: 'attribute_not_exists(#version)',
  /** An unusable event is resolved once, by whoever read it waiting. */
  eventStatusIs: '#status = :status',
} as const;

function allOf(...fragments: string[]): string {
  return fragments.join(' AND ');
}

/** One operation of the transaction and what its failure means. */
type Tagged =
  | { kind: 'seat'; change: SeatChange; item: TransactItem }
  | { kind: 'slot'; item: TransactItem }
  | { kind: 'new-booking'; reference: string; item: TransactItem }
  | { kind: 'cancellation'; reference: string; item: TransactItem }
  | { kind: 'trip'; item: TransactItem }
  | { kind: 'event'; item: TransactItem }
  | { kind: 'payment-record'; item: TransactItem }
  | { kind: 'unusable-event'; item: TransactItem }
  | { kind: 'new-trip'; item: TransactItem }
  | { kind: 'hold'; item: TransactItem }
  | { kind: 'audit'; item: TransactItem };

export interface DynamoDbBookingStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly retryPolicy?: RetryPolicy;
  readonly retryObserver?: RetryObserver;
}

const BATCH_GET_LIMIT = 100;

export class DynamoDbBookingStore implements BookingStore {
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

  /** Closes the client's connections (command-line tools, so the process can exit). */
  destroy(): void {
    this.client.destroy();
  }

  private retrying<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return withTransientRetries(operation, call, this.retryPolicy, this.retryObserver);
  }

  private async getItem(key: Key, operation: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.retrying(operation, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
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
    return item && fromItem.paymentRecord(item);
  }

  async findTripByPayment(paymentId: string): Promise<Trip | undefined> {
    const index = GLOBAL_INDEXES.bySlotOrPayment;
    const [partition] = Object.values(keys.tripOfPayment(paymentId));
    const items = await this.queryIndex(index, partition as string, 'TRIP');
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

  async listExpiredHolds(at: string, limit = 100): Promise<Hold[]> {
    const index = GLOBAL_INDEXES.byParent;
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
        }),
      ),
    );
    return (result.Items ?? []).map(fromItem.hold);
  }

  async listActiveHolds(): Promise<Hold[]> {
    return (await this.queryIndex(GLOBAL_INDEXES.byParent, keys.holdsPartition)).map(fromItem.hold);
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

  async putSlot(slot: Slot): Promise<void> {
    await this.retrying('PutItem slot', () => this.client.send(new PutCommand({ TableName: this.tableName, Item: slotItem(slot) })));
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
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      const existing = (error as { Item?: Record<string, AttributeValue> }).Item;
      return existing !== undefined && JSON.stringify(sortKeys(unmarshall(existing))) === JSON.stringify(sortKeys(item));
    }
  }

  async getSlots(slotIds: readonly string[]): Promise<Map<string, Slot>> {
    const items = await this.batchGet([...new Set(slotIds)].map(keys.slot), 'BatchGetItem slots');
    return new Map(items.map((item) => {
      const slot = fromItem.slot(item);
      return [slot.slotId, slot];
    }));
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
      // DynamoDB may return part of a batch under load; what it left out is asked for again.
      for (let round = 0; pending.length > 0; round++) {
        if (round >= this.retryPolicy.maxAttempts) throw new Error(`${operation}: keys left unprocessed after ${round} rounds`);
        const request = { [this.tableName]: { Keys: pending, ConsistentRead: true } };
        const result = await this.retrying(operation, () => this.client.send(new BatchGetCommand({ RequestItems: request })));
        found.push(...(result.Responses?.[this.tableName] ?? []));
        pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
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

  async listSlotsOfExperience(experienceId: string): Promise<Slot[]> {
    return (await this.queryIndex(GLOBAL_INDEXES.byParent, keys.experiencePartition(experienceId), 'SLOT#')).map(fromItem.slot);
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
    fetchPage: (start: Record<string, unknown> | undefined) => Promise<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }>,
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

  async commit(write: AtomicWrite): Promise<AtomicWriteResult> {
    const tagged = this.buildTransaction(write);
    const transactItems = tagged.map((entry) => entry.item);
    const input: TransactWriteCommandInput = {
      TransactItems: transactItems,
      // Same request, same token: a retry after a lost response is answered with the first outcome
      // instead of being applied twice or refused by conditions the first attempt already changed.
      ClientRequestToken: requestToken(transactItems),
    };
    try {
      await this.retrying('TransactWriteItems', () => this.client.send(new TransactWriteCommand(input)));
      return { committed: true };
    } catch (error) {
      if ((error as { name?: string }).name !== 'TransactionCanceledException') throw error;
      const reasons = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
      return { committed: false, rejection: decodeRejection(tagged, reasons) };
    }
  }

  private buildTransaction(write: AtomicWrite): Tagged[] {
    const table = this.tableName;
    const at = write.at;
    const tagged: Tagged[] = [];
    if (write.newSlot) tagged.push({ kind: 'slot', item: putNewItem(table, slotItem(write.newSlot), true) });
    if (write.slotSettings) tagged.push({ kind: 'slot', item: slotSettingsItem(table, write.slotSettings, at) });
    for (const change of write.seatChanges ?? []) tagged.push({ kind: 'seat', change, item: seatChangeItem(table, change, at) });
    for (const booking of write.newBookings ?? []) {
      tagged.push({ kind: 'new-booking', reference: booking.reference, item: putNewItem(table, bookingItem(booking)) });
    }
    for (const cancellation of write.cancellations ?? []) {
      tagged.push({ kind: 'cancellation', reference: cancellation.reference, item: cancellationItem(table, cancellation, at) });
    }
    for (const audit of write.audits ?? []) tagged.push({ kind: 'audit', item: putNewItem(table, auditItem(audit)) });
    if (write.tripTransition) tagged.push({ kind: 'trip', item: tripTransitionItem(table, write.tripTransition, at) });
    if (write.paymentRecord) tagged.push({ kind: 'payment-record', item: paymentRecordPutItem(table, write.paymentRecord) });
    if (write.unusableEvent) tagged.push({ kind: 'unusable-event', item: unusableEventPutItem(table, write.unusableEvent) });
    if (write.newTrip) tagged.push({ kind: 'new-trip', item: putNewItem(table, tripItem(write.newTrip)) });
    if (write.newHold) tagged.push({ kind: 'hold', item: putNewItem(table, holdItem(write.newHold), true) });
    if (write.holdTransition) tagged.push({ kind: 'hold', item: holdTransitionItem(table, write.holdTransition, at) });
    if (write.processedEvent) tagged.push({ kind: 'event', item: putNewItem(table, processedEventItem(write.processedEvent)) });
    return tagged;
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

interface CancellationReason {
  Code?: string;
  Item?: Record<string, AttributeValue>;
}

function decodeRejection(tagged: Tagged[], reasons: CancellationReason[]): WriteRejection {
  const rejection = {
    seatChanges: [] as { change: SeatChange; current?: Slot }[],
    slot: undefined as { current?: Slot } | undefined,
    takenReferences: [] as string[],
    bookingsNotConfirmed: [] as string[],
    trip: undefined as { current?: Trip } | undefined,
    paymentRecord: undefined as { current?: PaymentRecord } | undefined,
    unusableEvent: undefined as { current?: UnusableEvent } | undefined,
    hold: undefined as { current?: Hold } | undefined,
    tripExisted: false,
    eventAlreadyProcessed: false,
  };
  tagged.forEach((entry, index) => {
    const reason = reasons[index];
    if (reason?.Code !== 'ConditionalCheckFailed') return;
    const old = reason.Item ? unmarshall(reason.Item) : undefined;
    switch (entry.kind) {
      case 'seat':
        rejection.seatChanges.push(old ? { change: entry.change, current: fromItem.slot(old) } : { change: entry.change });
        break;
      case 'slot':
        rejection.slot = old ? { current: fromItem.slot(old) } : {};
        break;
      case 'new-booking':
        rejection.takenReferences.push(entry.reference);
        break;
      case 'cancellation':
        rejection.bookingsNotConfirmed.push(entry.reference);
        break;
      case 'trip':
        rejection.trip = old ? { current: fromItem.trip(old) } : {};
        break;
      case 'event':
        rejection.eventAlreadyProcessed = true;
        break;
      case 'payment-record':
        rejection.paymentRecord = old ? { current: fromItem.paymentRecord(old) } : {};
        break;
      case 'unusable-event':
        rejection.unusableEvent = old ? { current: fromItem.unusableEvent(old) } : {};
        break;
      case 'new-trip':
        rejection.tripExisted = true;
        break;
      case 'hold':
        rejection.hold = old ? { current: fromItem.hold(old) } : {};
        break;
      case 'audit':
        // Audit ids are fresh UUIDs: a clash means a retried request, which the token already covers.
        break;
    }
  });
  return rejection;
}

/** Slots stored before holds carry no unheldCount: for them it is availableCount. */
const UNHELD = 'if_not_exists(unheldCount, availableCount)';

function seatUpdate(table: string, slotId: string, update: string, conditions: string[], values: Values, names?: Record<string, string>): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: keys.slot(slotId),
      UpdateExpression: update,
      ConditionExpression: allOf(...conditions),
      ...(names && { ExpressionAttributeNames: names }),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function seatChangeItem(table: string, change: SeatChange, at: string): TransactItem {
  switch (change.kind) {
    case 'take':
    case 'hold': {
      const conditions: string[] = [guard.exists, guard.slotNotBlocked];
      const values: Values = { ':guests': change.guests, ':true': true, ':at': at };
      if (change.experienceId !== undefined) {
        conditions.splice(1, 0, guard.slotIsForExperience);
        values[':experienceId'] = change.experienceId;
      }
      if (change.kind === 'hold') {
        conditions.push(guard.enoughUnheldSeats);
        return seatUpdate(table, change.slotId, `SET unheldCount = ${UNHELD} - :guests, updatedAt = :at`, conditions, values);
      }
      conditions.push(guard.enoughSeats);
      // Seats this trip held are in availableCount only; any other seats must also be neither booked nor held.
      if (change.held) return seatUpdate(table, change.slotId, 'SET availableCount = availableCount - :guests, updatedAt = :at', conditions, values);
      conditions.push(guard.enoughUnheldSeats);
      return seatUpdate(table, change.slotId, `SET availableCount = availableCount - :guests, unheldCount = ${UNHELD} - :guests, updatedAt = :at`, conditions, values);
    }
    case 'unhold':
      // The hold's own transition (held → released, in the same transaction) is what makes this happen once.
      return seatUpdate(table, change.slotId, `SET unheldCount = ${UNHELD} + :guests, updatedAt = :at`, [guard.exists], { ':guests': change.guests, ':at': at });
    case 'give':
      return seatUpdate(
        table,
        change.slotId,
        `SET availableCount = availableCount + :guests, unheldCount = ${UNHELD} + :guests, updatedAt = :at`,
        [guard.exists, guard.capacityUnchanged, guard.roomToGiveBack],
        { ':guests': change.guests, ':capacity': change.capacity, ':ceiling': change.capacity - change.guests, ':at': at },
        { '#capacity': 'capacity' }, // a reserved word in expressions
      );
  }
}

function slotSettingsItem(table: string, change: SlotSettingsChange, at: string): TransactItem {
  const names: Record<string, string> = {};
  const values: Values = { ':at': at };
  const sets = ['updatedAt = :at'];
  const conditions: string[] = [guard.exists];
  if (change.isBlocked !== undefined) {
    sets.push('isBlocked = :blocked');
    values[':blocked'] = change.isBlocked;
  }
  if (change.capacity) {
    const delta = change.capacity.to - change.capacity.from;
    names['#capacity'] = 'capacity';
    sets.push('#capacity = :to', 'availableCount = availableCount + :delta', `unheldCount = ${UNHELD} + :delta`);
    conditions.push(guard.capacityUnchanged, guard.seatsLeftToRemove);
    Object.assign(values, { ':capacity': change.capacity.from, ':to': change.capacity.to, ':delta': delta, ':mustBeFree': Math.max(0, -delta) });
  }
  return {
    Update: {
      TableName: table,
      Key: keys.slot(change.slotId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: allOf(...conditions),
      ...(Object.keys(names).length > 0 && { ExpressionAttributeNames: names }),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function putNewItem(table: string, item: Record<string, unknown>, returnOld = false): TransactItem {
  return {
    Put: {
      TableName: table,
      Item: item,
      ConditionExpression: guard.isNew,
      ...(returnOld && { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const }),
    },
  };
}

/** The whole record, new or replacing exactly the version read, so two paths about one payment never both write. */
function paymentRecordPutItem(table: string, write: PaymentRecordWrite): TransactItem {
  if (write.expectedVersion === undefined) return putNewItem(table, paymentRecordItem(write.record), true);
  const versioned = write.expectedVersion > 0;
  return {
    Put: {
      TableName: table,
      Item: paymentRecordItem(write.record),
      ConditionExpression: allOf(guard.exists, versioned ? guard.recordVersionIs : guard.recordUnversioned),
      ExpressionAttributeNames: { '#version': 'version' },
      ...(versioned && { ExpressionAttributeValues: { ':version': write.expectedVersion } }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function holdTransitionItem(table: string, transition: NonNullable<AtomicWrite['holdTransition']>, at: string): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: keys.hold(transition.tripId),
      // Leaving `held`, the hold leaves the index the sweeper reads.
      UpdateExpression: `SET #status = :to, updatedAt = :at REMOVE ${GLOBAL_INDEXES.byParent.partitionKey}, ${GLOBAL_INDEXES.byParent.sortKey}`,
      ConditionExpression: allOf(guard.exists, guard.holdIsHeld),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':to': transition.to, ':held': 'held', ':at': at },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function unusableEventPutItem(table: string, write: NonNullable<AtomicWrite['unusableEvent']>): TransactItem {
  if (write.expectedStatus === undefined) return putNewItem(table, unusableEventItem(write.event), true);
  return {
    Put: {
      TableName: table,
      Item: unusableEventItem(write.event),
      ConditionExpression: allOf(guard.exists, guard.eventStatusIs),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':status': write.expectedStatus },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

function cancellationItem(table: string, cancellation: BookingCancellation, at: string): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: keys.booking(cancellation.reference),
      UpdateExpression: 'SET #status = :cancelled, cancelledAt = :at, cancellationReason = :reason',
      ConditionExpression: allOf(guard.exists, guard.bookingConfirmed),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':cancelled': 'cancelled', ':confirmed': 'confirmed', ':at': at, ':reason': cancellation.reason },
    },
  };
}

function tripTransitionItem(table: string, transition: TripTransition, at: string): TransactItem {
  const names: Record<string, string> = { '#status': 'status' };
  const values: Values = { ':to': transition.to, ':at': at };
  const fromPlaceholders = transition.from.map((status, index) => {
    values[`:from${index}`] = status;
    return `:from${index}`;
  });
  /** The trip is in a state this event may move it from; this is what makes a second confirmation impossible. */
  const conditions = [guard.exists, `#status IN (${fromPlaceholders.join(', ')})`];
  if (transition.userId !== undefined) {
    conditions.push(guard.tripOwnedBy);
    values[':userId'] = transition.userId;
  }
  const sets = ['#status = :to', 'updatedAt = :at'];
  const optional: [keyof TripTransition, unknown][] = [
    ['paymentId', transition.paymentId],
    ['bookingReferences', transition.bookingReferences],
    ['statusReason', transition.statusReason],
    ['checkoutSessionId', transition.checkoutSessionId],
    ['checkoutUrl', transition.checkoutUrl],
    ['refundId', transition.refundId],
  ];
  for (const [name, value] of optional) {
    if (value === undefined) continue;
    sets.push(`${name} = :${name}`);
    values[`:${name}`] = value;
  }
  if (transition.paymentId !== undefined) {
    // Indexed so that a refund event, which names only the payment, finds the trip.
    for (const [attribute, value] of Object.entries(keys.tripOfPayment(transition.paymentId))) {
      sets.push(`${attribute} = :${attribute}`);
      values[`:${attribute}`] = value;
    }
  }
  return {
    Update: {
      TableName: table,
      Key: keys.trip(transition.tripId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: allOf(...conditions),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** ClientRequestToken allows at most 36 characters: a hash of the request's content fits and is deterministic. */
function requestToken(transactItems: TransactItem[]): string {
  return createHash('sha256').update(JSON.stringify(transactItems)).digest('base64url').slice(0, 36);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}
