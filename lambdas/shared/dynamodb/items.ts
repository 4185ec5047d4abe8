// How each entity is laid out in the single table: its keys, its index keys, and the way back to the domain.
import { StoredDataError } from '../domain/errors';
import { PAYMENT_STATUSES, REFUND_STATUSES, TRIP_STATUSES, type AuditEntry, type Booking, type Hold, type PaymentRecord, type ProcessedEvent, type Slot, type Trip, type UnusableEvent } from '../domain/model';
import * as z from '../zod';
import { keys, type Key } from './item-keys';
import { GLOBAL_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE } from './table-definition';

type Item = Record<string, unknown>;

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;
const BY_PARENT = GLOBAL_INDEXES.byParent;
const BY_SLOT = GLOBAL_INDEXES.bySlotOrPayment;

// Re-exported for the store, the tools and the tests, which know the keys through this module.
export { keys, type Key };

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
  return {
    ...keys.paymentRecord(record.paymentId),
    entity: 'payment',
    // Only a payment that needs a person is in the index, so listing them never reads the others.
    ...(record.status === 'needs_attention' && {
      [BY_PARENT.partitionKey]: keys.attentionPartition,
      [BY_PARENT.sortKey]: `${record.attention?.since ?? record.updatedAt}#${record.paymentId}`,
    }),
    ...record,
  };
}

export function unusableEventItem(event: UnusableEvent): Item {
  return {
    ...keys.unusableEvent(event.eventId),
    entity: 'unusable_event',
    ...(event.status === 'needs_attention' && {
      [BY_PARENT.partitionKey]: keys.attentionPartition,
      [BY_PARENT.sortKey]: `${event.receivedAt}#${event.eventId}`,
    }),
    ...event,
  };
}

export function holdItem(hold: Hold): Item {
  return {
    ...keys.hold(hold.tripId),
    entity: 'hold',
    ...(hold.status === 'held' && { [BY_PARENT.partitionKey]: keys.holdsPartition, [BY_PARENT.sortKey]: `${hold.expiresAt}#${hold.tripId}` }),
    ...hold,
  };
}

export function processedEventItem(event: ProcessedEvent): Item {
  return { ...keys.processedEvent(event.eventId), entity: 'stripe_event', ...event, [TTL_ATTRIBUTE]: event.expiresAt };
}

const wholeNumber = z.number().check(z.refine(Number.isInteger, 'must be a whole number'));

/** What the code relies on in a stored slot; other attributes pass through. */
const storedSlotSchema = z.looseObject({
  slotId: z.string(),
  experienceId: z.string(),
  capacity: wholeNumber,
  availableCount: wholeNumber,
  unheldCount: z.optional(wholeNumber),
  isBlocked: z.boolean(),
  priceAmount: wholeNumber,
  currency: z.string(),
});

const storedTripSchema = z.looseObject({
  tripId: z.string(),
  userId: z.string(),
  status: z.enum(TRIP_STATUSES),
  amount: wholeNumber,
  currency: z.string(),
  items: z.array(z.looseObject({ slotId: z.string(), experienceId: z.string(), guestCount: wholeNumber })),
});

const storedLegacyPaymentSchema = z.looseObject({ paymentId: z.string(), status: z.enum(['refund_pending', 'refunded']) });

const storedPaymentSchema = z.looseObject({
  paymentId: z.string(),
  status: z.enum(PAYMENT_STATUSES),
  version: wholeNumber,
  amountPaid: wholeNumber,
  amountRefunded: wholeNumber,
  currency: z.string(),
  setAside: z.boolean(),
  refunds: z.array(z.looseObject({ refundKey: z.string(), amount: wholeNumber, status: z.enum(REFUND_STATUSES), bookingReferences: z.array(z.string()) })),
});

const storedHoldSchema = z.looseObject({
  tripId: z.string(),
  status: z.enum(['held', 'consumed', 'released']),
  expiresAt: z.string(),
  seats: z.array(z.looseObject({ slotId: z.string(), guests: wholeNumber })),
});

const storedBookingSchema = z.looseObject({
  reference: z.string(),
  tripId: z.string(),
  paymentId: z.string(),
  slotId: z.string(),
  guestCount: wholeNumber,
  status: z.enum(['confirmed', 'cancelled']),
});

/** Reads a stored item through its schema: an item that fails it is reported, never guessed at. */
function checked(schema: z.ZodMiniType, entity: string, item: Item, id: unknown): Item {
  const result = schema.safeParse(item);
  if (result.success) return item;
  const issue = result.error.issues[0];
  throw new StoredDataError(entity, String(id ?? item[PK]), issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid');
}

/**
 * Payment records written before refunds were tracked held `amount` and `refund_pending`/`refunded` only;
 * they read as records of version 0 with what they said.
 */
function paymentRecordOf(item: Item): PaymentRecord {
  if (item.version !== undefined) return withoutStorageAttributes(checked(storedPaymentSchema, 'payment', item, item.paymentId)) as unknown as PaymentRecord;
  const stored = withoutStorageAttributes(checked(storedLegacyPaymentSchema, 'payment', item, item.paymentId));
  const amount = typeof stored.amount === 'number' ? stored.amount : 0;
  const paymentId = stored.paymentId as string;
  const reason = typeof stored.reason === 'string' ? stored.reason : 'not_bookable';
  const updatedAt = String(stored.updatedAt);
  // Left refund_pending, the old code had not heard back from Stripe: the refund is asked again under a key of
  // its own (the old one was used with other parameters); had it gone through, Stripe says charge_already_refunded.
  const owed =
    stored.status === 'refund_pending' && amount > 0
      ? [{ refundKey: `refund-${paymentId}-resumed`, amount, status: 'requested' as const, requestedBy: 'system' as const, reason, bookingReferences: [], requestedAt: updatedAt, updatedAt }]
      : [];
  return {
    paymentId,
    status: stored.status === 'refunded' ? 'refunded' : 'refund_pending',
    ...(typeof stored.tripId === 'string' && { tripId: stored.tripId }),
    setAside: reason !== 'refunded_before_confirmation',
    reason,
    amountPaid: amount,
    currency: typeof stored.currency === 'string' ? stored.currency : 'eur',
    amountRefunded: stored.status === 'refunded' ? amount : 0,
    ...(stored.status === 'refunded' && { chargeRefunded: amount }),
    refunds: owed,
    version: 0,
    createdAt: String(stored.createdAt),
    updatedAt,
  };
}

export const fromItem = {
  slot: (item: Item): Slot => withoutStorageAttributes(checked(storedSlotSchema, 'slot', item, item.slotId)) as unknown as Slot,
  trip: (item: Item): Trip => {
    const trip = withoutStorageAttributes(checked(storedTripSchema, 'trip', item, item.tripId)) as unknown as Trip;
    return { ...trip, bookingReferences: trip.bookingReferences ?? [] };
  },
  booking: (item: Item): Booking => withoutStorageAttributes(checked(storedBookingSchema, 'booking', item, item.reference)) as unknown as Booking,
  audit: (item: Item): AuditEntry => withoutStorageAttributes(item) as unknown as AuditEntry,
  paymentRecord: paymentRecordOf,
  processedEvent: (item: Item): ProcessedEvent => withoutStorageAttributes(item) as unknown as ProcessedEvent,
  unusableEvent: (item: Item): UnusableEvent => withoutStorageAttributes(item) as unknown as UnusableEvent,
  hold: (item: Item): Hold => withoutStorageAttributes(checked(storedHoldSchema, 'hold', item, item.tripId)) as unknown as Hold,
};
