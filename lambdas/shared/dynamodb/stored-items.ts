// The way back from the table to the domain: every stored item is checked against the whole shape of its entity.
import { StoredDataError } from '../domain/errors';
import {
  PAYMENT_STATUSES,
  REFUND_STATUSES,
  TRIP_STATUSES,
  type AuditEntry,
  type Booking,
  type EventCursor,
  type Hold,
  type PaymentRecord,
  type ProcessedEvent,
  type Slot,
  type Trip,
  type UnusableEvent,
} from '../domain/model';
import type { RefundsDuePosition } from '../domain/resume-refunds';
import * as z from '../zod';
import { TABLE_KEYS } from './table-definition';

type Item = Record<string, unknown>;

const wholeNumber = z.number().check(z.refine(Number.isInteger, 'must be a whole number'));
const text = z.string();
const optionalText = z.optional(text);

// `z.object` keeps only the fields named here: the table's own attributes (keys, index keys, `entity`, TTL) stay behind.
const slotSchema = z.object({
  slotId: text,
  experienceId: text,
  date: text,
  time: text,
  capacity: wholeNumber,
  availableCount: wholeNumber,
  unheldCount: z.optional(wholeNumber),
  isBlocked: z.boolean(),
  priceAmount: wholeNumber,
  currency: text,
  updatedAt: text,
});

const tripItemSchema = z.object({ experienceId: text, slotId: text, guestCount: wholeNumber, date: text, time: text });

const tripSchema = z.object({
  tripId: text,
  userId: text,
  items: z.array(tripItemSchema),
  amount: wholeNumber,
  currency: text,
  status: z.enum(TRIP_STATUSES),
  checkoutSessionId: optionalText,
  checkoutUrl: optionalText,
  returnUrlsDigest: optionalText,
  paymentId: optionalText,
  // Trips not yet booked were stored without references.
  bookingReferences: z._default(z.array(text), []),
  itemAmounts: z.optional(z.array(wholeNumber)),
  holdExpiresAt: optionalText,
  statusReason: optionalText,
  refundId: optionalText,
  chargeRefundedEarly: z.optional(z.array(z.object({ paymentId: text, amount: wholeNumber, asOf: z.optional(z.number()) }))),
  createdAt: text,
  updatedAt: text,
});

/** Every field a stored trip is read with. */
export const STORED_TRIP_FIELDS = Object.keys(tripSchema.shape) as readonly (keyof Trip)[];

const holdSchema = z.object({
  tripId: text,
  seats: z.array(z.object({ slotId: text, guests: wholeNumber })),
  expiresAt: text,
  status: z.enum(['held', 'consumed', 'released']),
  createdAt: text,
  updatedAt: text,
});

const bookingSchema = z.object({
  bookingId: text,
  reference: text,
  tripId: text,
  userId: text,
  paymentId: text,
  experienceId: text,
  slotId: text,
  guestCount: wholeNumber,
  amount: z.optional(wholeNumber),
  currency: optionalText,
  date: text,
  time: text,
  status: z.enum(['confirmed', 'cancelled']),
  createdAt: text,
  cancelledAt: optionalText,
  cancellationReason: optionalText,
});

const actorType = z.enum(['system', 'operator', 'stripe']);

const auditSchema = z.object({
  auditId: text,
  eventType: text,
  entityType: z.enum(['booking', 'trip', 'slot', 'payment', 'event']),
  entityId: text,
  actorType,
  actorId: optionalText,
  occurredAt: text,
  metadata: z.record(text, z.union([text, z.number(), z.boolean(), z.null()])),
});

const refundSchema = z.object({
  refundKey: text,
  amount: wholeNumber,
  status: z.enum(REFUND_STATUSES),
  requestedBy: actorType,
  actorId: optionalText,
  reason: text,
  bookingReferences: z.array(text),
  stripeRefundId: optionalText,
  providerCreated: z.optional(z.number()),
  failureCode: optionalText,
  failedNoLaterThan: z.optional(z.number()),
  failedAt: z.optional(z.number()),
  offTotalTakenAt: z.optional(z.number()),
  retriedAs: optionalText,
  pricedIn: optionalText,
  resolvedAt: optionalText,
  keyRenewals: z.optional(wholeNumber),
  requestedAt: text,
  updatedAt: text,
});

const paymentSchema = z.object({
  paymentId: text,
  status: z.enum(PAYMENT_STATUSES),
  tripId: optionalText,
  sessionId: optionalText,
  paidForTripId: optionalText,
  setAside: z.boolean(),
  reason: optionalText,
  amountPaid: wholeNumber,
  currency: text,
  amountRefunded: wholeNumber,
  chargeRefunded: z.optional(wholeNumber),
  chargeRefundedAsOf: z.optional(z.number()),
  chargeRefundedTakenAt: z.optional(z.number()),
  refunds: z.array(refundSchema),
  attention: z.optional(
    z.object({
      reason: text,
      code: optionalText,
      since: text,
      again: optionalText,
      previousStatus: z.enum(PAYMENT_STATUSES),
      more: z.optional(z.array(z.object({ reason: text, code: optionalText, since: text, again: optionalText }))),
    }),
  ),
  version: wholeNumber,
  createdAt: text,
  updatedAt: text,
});

/** Payment records written before refunds were tracked: `amount` and `refund_pending`/`refunded` only. */
const legacyPaymentSchema = z.object({
  paymentId: text,
  status: z.enum(['refund_pending', 'refunded']),
  tripId: optionalText,
  amount: z.optional(wholeNumber),
  currency: optionalText,
  reason: optionalText,
  createdAt: text,
  updatedAt: text,
});

const unusableEventSchema = z.object({
  eventId: text,
  eventType: text,
  problem: text,
  status: z.enum(['needs_attention', 'resolved']),
  receivedAt: text,
  updatedAt: text,
});

const processedEventSchema = z.object({
  eventId: text,
  eventType: text,
  outcome: text,
  tripId: optionalText,
  references: z._default(z.array(text), []),
  processedAt: text,
  expiresAt: z.number(),
});

const eventCursorSchema = z.object({
  source: text,
  resumeAt: wholeNumber,
  mode: z.optional(z.enum(['live', 'test'])),
  retryEventIds: z.optional(z.array(text)),
  windowSeconds: z.optional(wholeNumber),
  updatedAt: text,
});

const refundsDuePositionSchema = z.object({
  sweep: text,
  after: z.optional(z.object({ paymentId: text, requestedAt: text })),
  updatedAt: text,
});

/** Compiles only when a schema names exactly the fields of its entity: a field added to the model must be read back too. */
type SameFields<Schema extends z.ZodMiniType, Entity> = [keyof z.infer<Schema>] extends [keyof Entity]
  ? [keyof Entity] extends [keyof z.infer<Schema>]
    ? true
    : never
  : never;
const schemasNameEveryField: [
  SameFields<typeof slotSchema, Slot>,
  SameFields<typeof tripSchema, Trip>,
  SameFields<typeof holdSchema, Hold>,
  SameFields<typeof bookingSchema, Booking>,
  SameFields<typeof auditSchema, AuditEntry>,
  SameFields<typeof paymentSchema, PaymentRecord>,
  SameFields<typeof unusableEventSchema, UnusableEvent>,
  SameFields<typeof processedEventSchema, ProcessedEvent>,
  SameFields<typeof eventCursorSchema, EventCursor>,
  SameFields<typeof refundsDuePositionSchema, RefundsDuePosition>,
] = [true, true, true, true, true, true, true, true, true, true];
void schemasNameEveryField;

/**
 * zod types an absent optional field as `T | undefined`, but never produces the key with `undefined` (nor does
 * DynamoDB store one): the parsed item is the entity with its optional fields absent, as the model spells it.
 */
type Parsed<T> = T extends readonly (infer E)[] ? Parsed<E>[] : T extends object ? { [K in keyof T]: Parsed<Exclude<T[K], undefined>> } : T;

/** Reads a stored item through its schema: an item that fails it is reported, never guessed at. */
function checked<Schema extends z.ZodMiniType>(schema: Schema, entity: string, item: Item, id: unknown): Parsed<z.infer<Schema>> {
  const result = schema.safeParse(item);
  if (result.success) return result.data as Parsed<z.infer<Schema>>;
  const issue = result.error.issues[0];
  throw new StoredDataError(entity, String(id ?? item[TABLE_KEYS.partitionKey]), issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid');
}

/**
 * Before a refund made in the Dashboard kept Stripe's id from its first event, one reported by `refund.created` (pending)
 * and then another `refund.*` was recorded twice: the second entry, under the same key and without Stripe's id, was found
 * by no event again and counted as money on its way for good. It is read as the one refund it is; the next write keeps that.
 */
function withoutPhantomTwins(record: PaymentRecord): PaymentRecord {
  const keys = new Set<string>();
  const refunds = record.refunds.filter((entry) => {
    const twin = keys.has(entry.refundKey) && entry.requestedBy === 'stripe' && entry.stripeRefundId === undefined;
    keys.add(entry.refundKey);
    return !twin;
  });
  return refunds.length === record.refunds.length ? record : { ...record, refunds };
}

/**
 * Payment records written before refunds were tracked read as records of version 0 with what they said.
 * Left refund_pending, the old code had not heard back from Stripe: the refund is asked again under a key of
 * its own (the old one was used with other parameters); had it gone through, Stripe says charge_already_refunded.
 */
function paymentRecordOf(item: Item): PaymentRecord {
  if (item.version !== undefined) return withoutPhantomTwins(checked(paymentSchema, 'payment', item, item.paymentId));
  const stored = checked(legacyPaymentSchema, 'payment', item, item.paymentId);
  const amount = stored.amount ?? 0;
  const reason = stored.reason ?? 'not_bookable';
  const owed =
    stored.status === 'refund_pending' && amount > 0
      ? [
          {
            refundKey: `refund-${stored.paymentId}-resumed`,
            amount,
            status: 'requested' as const,
            requestedBy: 'system' as const,
            reason,
            bookingReferences: [],
            requestedAt: stored.updatedAt,
            updatedAt: stored.updatedAt,
          },
        ]
      : [];
  return {
    paymentId: stored.paymentId,
    status: stored.status,
    ...(stored.tripId !== undefined && { tripId: stored.tripId }),
    setAside: reason !== 'refunded_before_confirmation',
    reason,
    amountPaid: amount,
    currency: stored.currency ?? 'eur',
    amountRefunded: stored.status === 'refunded' ? amount : 0,
    ...(stored.status === 'refunded' && { chargeRefunded: amount }),
    refunds: owed,
    version: 0,
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
  };
}

export const fromItem = {
  slot: (item: Item): Slot => checked(slotSchema, 'slot', item, item.slotId),
  trip: (item: Item): Trip => checked(tripSchema, 'trip', item, item.tripId),
  booking: (item: Item): Booking => checked(bookingSchema, 'booking', item, item.reference),
  audit: (item: Item): AuditEntry => checked(auditSchema, 'audit entry', item, item.auditId),
  paymentRecord: paymentRecordOf,
  processedEvent: (item: Item): ProcessedEvent => checked(processedEventSchema, 'processed event', item, item.eventId),
  unusableEvent: (item: Item): UnusableEvent => checked(unusableEventSchema, 'unusable event', item, item.eventId),
  hold: (item: Item): Hold => checked(holdSchema, 'hold', item, item.tripId),
  eventCursor: (item: Item): EventCursor => checked(eventCursorSchema, 'event cursor', item, item.source),
  refundsDuePosition: (item: Item): RefundsDuePosition => checked(refundsDuePositionSchema, 'refunds due position', item, item.sweep),
};
