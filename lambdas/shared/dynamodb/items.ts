// How each entity is laid out in the single table: its index keys and attributes (the way back is stored-items.ts).
import type { AuditEntry, Booking, EventCursor, Hold, PaymentRecord, ProcessedEvent, Slot, Trip, UnusableEvent } from '../domain/model';
import type { RefundsDuePosition } from '../domain/resume-refunds';
import { keys, type IndexKey, type Key } from './item-keys';
import { GLOBAL_INDEXES, TTL_ATTRIBUTE, type GlobalIndexDefinition } from './table-definition';

type Item = Record<string, unknown>;

const BY_PARENT = GLOBAL_INDEXES.byParent;
const BY_SLOT = GLOBAL_INDEXES.bySlotOrPayment;

/** The attributes that put an item under `key` in `index`. */
export function indexAttributes(index: GlobalIndexDefinition, key: IndexKey): Item {
  return { [index.partitionKey]: key.partition, [index.sortKey]: key.sort };
}

// Re-exported for the store, the tools and the tests, which know the keys through this module.
export { keys, type IndexKey, type Key };

export function slotItem(slot: Slot): Item {
  return {
    ...keys.slot(slot.slotId),
    entity: 'slot',
    ...indexAttributes(BY_PARENT, { partition: keys.experiencePartition(slot.experienceId), sort: `SLOT#${slot.date}T${slot.time}#${slot.slotId}` }),
    ...slot,
  };
}

/**
 * On a trip item, beside the trip's fields (not one of them): when a traveller's return last asked Stripe about it,
 * removed by every transition of the trip.
 */
export const RETURN_CHECKED_AT = 'returnCheckedAt';

export function tripItem(trip: Trip): Item {
  return {
    ...keys.trip(trip.tripId),
    entity: 'trip',
    ...indexAttributes(BY_PARENT, { partition: keys.userTripsPartition(trip.userId), sort: `TRIP#${trip.createdAt}#${trip.tripId}` }),
    ...(trip.paymentId !== undefined && indexAttributes(BY_SLOT, keys.tripOfPayment(trip.paymentId))),
    ...trip,
  };
}

export function bookingItem(booking: Booking): Item {
  return {
    ...keys.booking(booking.reference),
    entity: 'booking',
    ...indexAttributes(BY_PARENT, { partition: keys.tripBookingsPartition(booking.tripId), sort: `BOOKING#${booking.reference}` }),
    ...indexAttributes(BY_SLOT, { partition: keys.slotBookingsPartition(booking.slotId), sort: `BOOKING#${booking.reference}` }),
    ...booking,
  };
}

export function auditItem(entry: AuditEntry): Item {
  return {
    pk: keys.auditPartition(entry.entityType, entry.entityId),
    // Sorted by time; the id keeps two entries of the same millisecond apart.
    sk: `${entry.occurredAt}#${entry.auditId}`,
    entity: 'audit',
    ...entry,
  };
}

export function paymentRecordItem(record: PaymentRecord): Item {
  return {
    ...keys.paymentRecord(record.paymentId),
    entity: 'payment',
    // Only a payment that needs a person is in the index, so listing them never reads the others.
    ...(record.status === 'needs_attention' &&
      indexAttributes(BY_PARENT, { partition: keys.attentionPartition, sort: `${record.attention?.since ?? record.updatedAt}#${record.paymentId}` })),
    // A payment with a refund Stripe has not answered yet is in the other index, by its oldest such refund, until it has.
    ...refundsDueAttributes(record),
    ...record,
  };
}

/** A payment's place in the list of refunds due: when its oldest requested refund was stored, then its id. */
export function refundsDueSortKey(due: { readonly requestedAt: string; readonly paymentId: string }): string {
  return `${due.requestedAt}#${due.paymentId}`;
}

/** The index keys that list `record` among the refunds due, or none when no refund of it is still `requested`. */
export function refundsDueAttributes(record: PaymentRecord): Item {
  const oldest = record.refunds
    .filter((entry) => entry.status === 'requested')
    .map((entry) => entry.requestedAt)
    .sort()[0];
  return oldest === undefined
    ? {}
    : indexAttributes(BY_SLOT, { partition: keys.refundsDuePartition, sort: refundsDueSortKey({ requestedAt: oldest, paymentId: record.paymentId }) });
}

export function unusableEventItem(event: UnusableEvent): Item {
  return {
    ...keys.unusableEvent(event.eventId),
    entity: 'unusable_event',
    ...(event.status === 'needs_attention' && indexAttributes(BY_PARENT, { partition: keys.attentionPartition, sort: `${event.receivedAt}#${event.eventId}` })),
    ...event,
  };
}

export function holdItem(hold: Hold): Item {
  return {
    ...keys.hold(hold.tripId),
    entity: 'hold',
    ...(hold.status === 'held' && indexAttributes(BY_PARENT, { partition: keys.holdsPartition, sort: `${hold.expiresAt}#${hold.tripId}` })),
    ...hold,
  };
}

export function processedEventItem(event: ProcessedEvent): Item {
  return { ...keys.processedEvent(event.eventId), entity: 'stripe_event', ...event, [TTL_ATTRIBUTE]: event.expiresAt };
}

export function eventCursorItem(cursor: EventCursor): Item {
  return { ...keys.eventCursor(cursor.source), entity: 'event_cursor', ...cursor };
}

export function refundsDuePositionItem(position: RefundsDuePosition): Item {
  return { ...keys.refundsDuePosition(position.sweep), entity: 'refunds_due_position', ...position };
}
