// How each entity is laid out in the single table: its keys and its index keys (the way back is stored-items.ts).
import type { AuditEntry, Booking, Hold, PaymentRecord, ProcessedEvent, Slot, Trip, UnusableEvent } from '../domain/model';
import { GLOBAL_INDEXES, TTL_ATTRIBUTE, type GlobalIndexDefinition } from './table-definition';

type Item = Record<string, unknown>;
export interface Key {
  readonly pk: string;
  readonly sk: string;
}

/** Where an item sits in a global index: named parts, never the order of an object's values. */
export interface IndexKey {
  readonly partition: string;
  readonly sort: string;
}

const BY_PARENT = GLOBAL_INDEXES.byParent;
const BY_SLOT = GLOBAL_INDEXES.bySlotOrPayment;

/** The attributes that put an item under `key` in `index`. */
export function indexAttributes(index: GlobalIndexDefinition, key: IndexKey): Item {
  return { [index.partitionKey]: key.partition, [index.sortKey]: key.sort };
}

export const keys = {
  slot: (slotId: string): Key => ({ pk: `SLOT#${slotId}`, sk: 'SLOT' }),
  trip: (tripId: string): Key => ({ pk: `TRIP#${tripId}`, sk: 'TRIP' }),
  // Keyed by reference so the table itself guarantees a reference is never issued twice.
  booking: (reference: string): Key => ({ pk: `BOOKING#${reference}`, sk: 'BOOKING' }),
  processedEvent: (eventId: string): Key => ({ pk: `STRIPE_EVENT#${eventId}`, sk: 'STRIPE_EVENT' }),
  unusableEvent: (eventId: string): Key => ({ pk: `STRIPE_EVENT#${eventId}`, sk: 'UNUSABLE' }),
  hold: (tripId: string): Key => ({ pk: `HOLD#${tripId}`, sk: 'HOLD' }),
  /** Index partition of the holds still held, sorted by expiry (sparse: a hold leaves it when consumed or released). */
  holdsPartition: 'HOLDS',
  paymentRecord: (paymentId: string): Key => ({ pk: `PAYMENT#${paymentId}`, sk: 'PAYMENT' }),
  /** Index key under which a trip is found from the payment that booked it (or is being refunded). */
  tripOfPayment: (paymentId: string): IndexKey => ({ partition: `PAYMENT#${paymentId}`, sort: 'TRIP' }),
  auditPartition: (entityType: string, entityId: string): string => `AUDIT#${entityType}#${entityId}`,
  experiencePartition: (experienceId: string): string => `EXPERIENCE#${experienceId}`,
  tripBookingsPartition: (tripId: string): string => `TRIP#${tripId}`,
  userTripsPartition: (userId: string): string => `USER#${userId}`,
  slotBookingsPartition: (slotId: string): string => `SLOT#${slotId}`,
  /** Index partition of the payments that need a person (sparse: only they carry it). */
  attentionPartition: 'ATTENTION',
};

export function slotItem(slot: Slot): Item {
  return {
    ...keys.slot(slot.slotId),
    entity: 'slot',
    ...indexAttributes(BY_PARENT, { partition: keys.experiencePartition(slot.experienceId), sort: `SLOT#${slot.date}T${slot.time}#${slot.slotId}` }),
    ...slot,
  };
}

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
    ...record,
  };
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
