// How each entity is laid out in the single table: its keys, its index keys, and the way back to the domain.
import type { AuditEntry, Booking, PaymentRecord, ProcessedEvent, Slot, Trip } from '../domain/model';
import { GLOBAL_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from './table-definition';

type Item = Record<string, unknown>;
export interface Key {
  readonly pk: string;
  readonly sk: string;
}

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;
const BY_PARENT = GLOBAL_INDEXES.byParent;
const BY_SLOT = GLOBAL_INDEXES.bySlotOrPayment;

export const keys = {
  slot: (slotId: string): Key => ({ pk: `SLOT#${slotId}`, sk: 'SLOT' }),
  trip: (tripId: string): Key => ({ pk: `TRIP#${tripId}`, sk: 'TRIP' }),
  // Keyed by reference so the table itself guarantees a reference is never issued twice.
  booking: (reference: string): Key => ({ pk: `BOOKING#${reference}`, sk: 'BOOKING' }),
  processedEvent: (eventId: string): Key => ({ pk: `STRIPE_EVENT#${eventId}`, sk: 'STRIPE_EVENT' }),
  paymentRecord: (paymentId: string): Key => ({ pk: `PAYMENT#${paymentId}`, sk: 'PAYMENT' }),
  /** Index key under which a trip is found from the payment that booked it (or is being refunded). */
  tripOfPayment: (paymentId: string): Record<string, string> => ({
    [BY_SLOT.partitionKey]: `PAYMENT#${paymentId}`,
    [BY_SLOT.sortKey]: 'TRIP',
  }),
  auditPartition: (entityType: string, entityId: string): string => `AUDIT#${entityType}#${entityId}`,
  experiencePartition: (experienceId: string): string => `EXPERIENCE#${experienceId}`,
  tripBookingsPartition: (tripId: string): string => `TRIP#${tripId}`,
  userTripsPartition: (userId: string): string => `USER#${userId}`,
  slotBookingsPartition: (slotId: string): string => `SLOT#${slotId}`,
};

/** Attributes that exist only for the table's sake and are stripped on the way back. */
const STORAGE_ATTRIBUTES = [PK, SK, BY_PARENT.partitionKey, BY_PARENT.sortKey, BY_SLOT.partitionKey, BY_SLOT.sortKey, 'entity'];

function withoutStorageAttributes(item: Item): Item {
  const copy: Item = { ...item };
  for (const name of STORAGE_ATTRIBUTES) delete copy[name];
  return copy;
}

export function slotItem(slot: Slot): Item {
  return {
    ...keys.slot(slot.slotId),
    entity: 'slot',
    [BY_PARENT.partitionKey]: keys.experiencePartition(slot.experienceId),
    [BY_PARENT.sortKey]: `SLOT#${slot.date}T${slot.time}#${slot.slotId}`,
    ...slot,
  };
}

export function tripItem(trip: Trip): Item {
  return {
    ...keys.trip(trip.tripId),
    entity: 'trip',
    [BY_PARENT.partitionKey]: keys.userTripsPartition(trip.userId),
    [BY_PARENT.sortKey]: `TRIP#${trip.createdAt}#${trip.tripId}`,
    ...(trip.paymentId !== undefined && keys.tripOfPayment(trip.paymentId)),
    ...trip,
  };
}

export function bookingItem(booking: Booking): Item {
  return {
    ...keys.booking(booking.reference),
    entity: 'booking',
    [BY_PARENT.partitionKey]: keys.tripBookingsPartition(booking.tripId),
    [BY_PARENT.sortKey]: `BOOKING#${booking.reference}`,
    [BY_SLOT.partitionKey]: keys.slotBookingsPartition(booking.slotId),
    [BY_SLOT.sortKey]: `BOOKING#${booking.reference}`,
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
  return { ...keys.paymentRecord(record.paymentId), entity: 'payment', ...record };
}

export function processedEventItem(event: ProcessedEvent): Item {
  return { ...keys.processedEvent(event.eventId), entity: 'stripe_event', ...event, [TTL_ATTRIBUTE]: event.expiresAt };
}

export const fromItem = {
  slot: (item: Item): Slot => withoutStorageAttributes(item) as unknown as Slot,
  trip: (item: Item): Trip => {
    const trip = withoutStorageAttributes(item) as unknown as Trip;
    return { ...trip, bookingReferences: trip.bookingReferences ?? [] };
  },
  booking: (item: Item): Booking => withoutStorageAttributes(item) as unknown as Booking,
  audit: (item: Item): AuditEntry => withoutStorageAttributes(item) as unknown as AuditEntry,
  paymentRecord: (item: Item): PaymentRecord => withoutStorageAttributes(item) as unknown as PaymentRecord,
  processedEvent: (item: Item): ProcessedEvent => withoutStorageAttributes(item) as unknown as ProcessedEvent,
};
