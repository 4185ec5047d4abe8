// What a refused transaction means in domain terms: each cancellation reason read against the part that caused it.
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { SeatChange, WriteRejection } from '../domain/booking-store';
import { StoredDataError } from '../domain/errors';
import type { Slot } from '../domain/model';
import { fromItem } from './stored-items';
import type { TransactionPart } from './transaction-items';

/** Reads the cancellation reasons (one per item, in order) against the parts that caused them; parts whose refusal means nothing more are skipped. */
export function decodeRejection(parts: readonly TransactionPart[], reasons: readonly CancellationReason[]): WriteRejection {
  const seatChanges: { change: SeatChange; current?: Slot }[] = [];
  const takenReferences: string[] = [];
  let rejection: Omit<WriteRejection, 'seatChanges' | 'takenReferences'> = { eventAlreadyProcessed: false };
  parts.forEach((part, index) => {
    const reason = reasons[index];
    if (reason?.Code !== 'ConditionalCheckFailed') return;
    const old = reason.Item ? unmarshall(reason.Item) : undefined;
    switch (part.kind) {
      case 'seat':
        seatChanges.push({ change: part.change, ...asItWas(old, fromItem.slot) });
        break;
      case 'new-booking':
        takenReferences.push(part.reference);
        break;
      case 'trip':
        rejection = { ...rejection, trip: asItWas(old, fromItem.trip) };
        break;
      case 'event':
        rejection = { ...rejection, eventAlreadyProcessed: true };
        break;
      case 'payment-record':
        rejection = { ...rejection, paymentRecord: asItWas(old, fromItem.paymentRecord) };
        break;
      case 'unusable-event':
        rejection = { ...rejection, unusableEvent: asItWas(old, fromItem.unusableEvent) };
        break;
      case 'new-trip':
        rejection = { ...rejection, tripExisted: true };
        break;
      case 'hold':
        rejection = { ...rejection, hold: asItWas(old, fromItem.hold) };
        break;
      case 'slot': // a new slot's id taken, or a settings guard: the caller reads the slot again to say which
      case 'cancellation': // a booking no longer confirmed: the release reads its bookings again
      case 'share': // a booking cancelled or its share changed meanwhile: the step reads its payment again
      case 'audit': // audit ids are fresh UUIDs: a clash means a retried request, which the token already covers
        break;
      default:
        part satisfies never;
    }
  });
  return { ...rejection, seatChanges, takenReferences };
}

/** The refused item as it was (`ALL_OLD`), or nothing when it did not exist. */
function asItWas<T>(old: Record<string, unknown> | undefined, read: (item: Record<string, unknown>) => T): { current?: T } {
  return old ? { current: read(old) } : {};
}

/**
 * A transaction DynamoDB refused because an item it updates is not of the shape the update needs (AWS: the transaction
 * cancelled with a `ValidationError` reason on that item; DynamoDB Local: a ValidationException saying an operand has an
 * incorrect data type, naming no item): no condition decided it and no retry changes it. A stored item no longer reads
 * as ours, as a read would have found: a StoredDataError, naming the item when DynamoDB says which.
 */
export function invalidStoredItem(parts: readonly TransactionPart[], error: unknown): StoredDataError | undefined {
  const { name, message, CancellationReasons: reasons } = error as { name?: string; message?: string; CancellationReasons?: readonly CancellationReason[] };
  if (name === 'ValidationException' && message?.includes('incorrect data type')) return new StoredDataError('item', 'of the transaction', message);
  if (name !== 'TransactionCanceledException') return undefined;
  // A failed condition answers the write whatever else was refused with it: the caller reads again and decides.
  if ((reasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed')) return undefined;
  const index = (reasons ?? []).findIndex((reason) => reason.Code === 'ValidationError');
  if (index < 0) return undefined;
  const part = parts[index];
  const problem = reasons?.[index]?.Message ?? 'refused as invalid';
  if (part?.kind === 'seat') return new StoredDataError('slot', part.change.slotId, problem);
  return new StoredDataError(part?.kind ?? 'item', keyOf(part?.item) ?? 'of the transaction', problem);
}

/** The item's partition key (`SLOT#…`, `TRIP#…`), which says what it is. */
function keyOf(item: TransactionPart['item'] | undefined): string | undefined {
  const key = item?.Update?.Key ?? item?.Put?.Item ?? item?.ConditionCheck?.Key ?? item?.Delete?.Key;
  return typeof key?.pk === 'string' ? key.pk : undefined;
}
