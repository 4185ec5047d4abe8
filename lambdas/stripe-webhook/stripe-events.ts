// The Stripe events we act on, as zod schemas: which are ours, which are unusable, and their translation into the domain's payment events.
import * as z from '../shared/zod';
import type { PaymentEvent } from '../shared/domain/payment-events';
import { idSchema, MAX_AMOUNT_MINOR_UNITS } from '../shared/domain/trip-input';
import { REFUND_KEY_METADATA, refundStatusOf, STRIPE_ID_PATTERNS, TABLE_MARK, TRIP_MARK } from '../shared/stripe/stripe-contract';
import { checkoutTripOf } from '../shared/stripe/trip-metadata';
import { HANDLED_EVENT_TYPES, type HandledEventType } from './webhook-contract';

/** What makes a body a Stripe event at all; anything less is answered 400. */
const eventIdentitySchema = z.object({
  // Ids become keys of the processed-event record, so they must be key-safe.
  id: idSchema,
  object: z.literal('event'),
  type: z.string().check(z.minLength(1)),
});

/** The rest of the envelope, checked only for the types we handle: a failure there is an unusable event, not a 400. */
const envelopeSchema = z.object({
  api_version: z.nullish(z.string()),
  created: z.optional(z.number()),
  livemode: z.boolean(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/** Amounts in the currency's minor unit: whole, never negative, never beyond what Stripe charges (anything larger is not a real amount). */
const minorUnits = z.number().check(z.refine(Number.isInteger, 'must be a whole number'), z.minimum(0), z.maximum(MAX_AMOUNT_MINOR_UNITS));
const metadataSchema = z.nullish(z.record(z.string(), z.string()));
const expandable = z.nullish(z.union([z.string(), z.object({ id: z.string() })]));
const stripeId = (pattern: RegExp, what: string) => z.string().check(z.regex(pattern, `is not a plausible ${what} id`));
const expandableId = (pattern: RegExp, what: string) => z.nullish(z.union([stripeId(pattern, what), z.object({ id: stripeId(pattern, what) })]));

const checkoutSessionSchema = z.object({
  id: stripeId(STRIPE_ID_PATTERNS.checkoutSession, 'Checkout Session'),
  object: z.literal('checkout.session'),
  client_reference_id: z.nullish(z.string()),
  metadata: metadataSchema,
  payment_intent: expandableId(STRIPE_ID_PATTERNS.paymentIntent, 'PaymentIntent'),
  // A value added in a later API version is not ours to guess at: the event is kept for a person.
  payment_status: z.enum(['paid', 'unpaid', 'no_payment_required']),
  amount_total: minorUnits,
  amount_subtotal: z.nullish(minorUnits),
  total_details: z.nullish(z.object({ amount_discount: z.nullish(minorUnits) })),
  currency: z.string().check(z.regex(/^[A-Za-z]{3}$/, 'must be a three-letter currency code')),
  // Read leniently: only an expired session's end is compared with its trip's hold, and an odd value means "not known".
  expires_at: z.catch(z.nullish(z.number()), undefined),
});

const chargeSchema = z.object({
  id: stripeId(STRIPE_ID_PATTERNS.charge, 'charge'),
  object: z.literal('charge'),
  payment_intent: expandableId(STRIPE_ID_PATTERNS.paymentIntent, 'PaymentIntent'),
  amount: minorUnits,
  amount_refunded: minorUnits,
  currency: z.string(),
  metadata: metadataSchema,
});

const refundSchema = z.object({
  id: stripeId(STRIPE_ID_PATTERNS.refund, 'refund'),
  object: z.literal('refund'),
  payment_intent: expandableId(STRIPE_ID_PATTERNS.paymentIntent, 'PaymentIntent'),
  amount: minorUnits,
  status: z.nullable(z.string()),
  failure_reason: z.nullish(z.string()),
  metadata: metadataSchema,
  created: z.optional(z.number()),
});

export type ParsedEvent =
  /** One of ours, to act on. */
  | { readonly kind: 'handled'; readonly event: PaymentEvent; readonly livemode?: boolean; readonly apiVersion?: string }
  /**
   * Acknowledged and left alone: a type we do not handle, a session that is not ours (`another_table`: marked for
   * another deployment's table), a thin event.
   */
  | {
      readonly kind: 'ignored';
      readonly type: string;
      readonly why: 'not_handled' | 'not_ours' | 'another_table' | 'thin_event';
      readonly livemode?: boolean;
    }
  /**
   * Validly signed, of a type we handle, in a shape we cannot act on: kept for a person, never retried. One that
   * carries no mark (a charge or refund) is ours only if we hold its payment's record (`paymentId`).
   */
  | {
      readonly kind: 'poison';
      readonly eventId: string;
      readonly eventType: string;
      readonly problem: string;
      readonly livemode?: boolean;
      readonly unmarkedPaymentId?: string;
      readonly unmarked?: boolean;
    }
  /** Not a Stripe event at all. */
  | { readonly kind: 'invalid'; readonly problem: string };

function idOf(value: z.infer<typeof expandable>): string | undefined {
  if (!value) return undefined;
  return typeof value === 'string' ? value : value.id;
}

/**
 * A trip id as our checkout wrote it. One that is not key-safe names no trip we could have created:
 * the payment is then handled as one for an unknown trip (set aside and refunded), never dropped.
 */
function tripIdOf(candidate: string | undefined): string | undefined {
  return candidate !== undefined && idSchema.safeParse(candidate).success ? candidate : undefined;
}

function describe(error: { issues: readonly { path: PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(event)'}: ${issue.message}` : 'invalid';
}

/** `table`: the deployment's own (TABLE_MARK), what a session or charge marked for another table is not. */
export function parseStripeEvent(json: unknown, table: string): ParsedEvent {
  if (typeof json === 'object' && json !== null && (json as { object?: unknown }).object === 'v2.core.event') {
    // A thin event carries no object to act on; this endpoint is subscribed to snapshot events.
    return { kind: 'ignored', type: String((json as { type?: unknown }).type), why: 'thin_event' };
  }
  const identity = eventIdentitySchema.safeParse(json);
  if (!identity.success) return { kind: 'invalid', problem: describe(identity.error) };
  const { id: eventId, type: eventType } = identity.data;
  const rawLivemode = (json as { livemode?: unknown }).livemode;
  const mode = typeof rawLivemode === 'boolean' ? { livemode: rawLivemode } : {};
  if (!(HANDLED_EVENT_TYPES as readonly string[]).includes(eventType)) return { kind: 'ignored', type: eventType, why: 'not_handled', ...mode };
  const object = (json as { data?: { object?: unknown } }).data?.object;
  const ownership = ownershipOf(eventType as HandledEventType, object, table);
  if (ownership.foreign) return { kind: 'ignored', type: eventType, why: ownership.anotherTable ? 'another_table' : 'not_ours', ...mode };
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) return { kind: 'poison', eventId, eventType, problem: describe(envelope.error), ...mode, ...ownership.unmarked };
  const parsed = parseObject(eventId, eventType as HandledEventType, envelope.data.data.object, envelope.data.created, statusChangedBy(json), {
    tripMarkTrusted: !ownership.anotherTable,
  });
  if ('problem' in parsed) return { kind: 'poison', eventId, eventType, problem: parsed.problem, ...mode, ...ownership.unmarked };
  if (!parsed.event) return { kind: 'ignored', type: eventType, why: 'not_ours', ...mode };
  return { kind: 'handled', event: parsed.event, ...mode, ...(envelope.data.api_version && { apiVersion: envelope.data.api_version }) };
}

/**
 * Whether the object can be ours, read before its shape is checked, so another product's odd object is never
 * kept or counted: a session is ours only with our mark, and not another table's; a charge with the mark (or a refund
 * with our refund key) is ours, and one without it, or another table's, is ours only if we hold the record of its
 * PaymentIntent (the handler asks).
 */
function ownershipOf(
  eventType: HandledEventType,
  object: unknown,
  table: string,
): { foreign: boolean; anotherTable?: true; unmarked?: { unmarked: true; unmarkedPaymentId?: string } } {
  const fields = typeof object === 'object' && object !== null ? (object as Record<string, unknown>) : undefined;
  const metadata = typeof fields?.metadata === 'object' && fields.metadata !== null ? (fields.metadata as Record<string, unknown>) : {};
  const anotherTables = ofAnotherTable(metadata, table);
  // Another deployment's session on the same Stripe account: its trip is in its table, and its payment is its own.
  if (anotherTables && eventType.startsWith('checkout.session.')) return { foreign: true, anotherTable: true };
  // Our refunds carry our refund key; sessions and (through their PaymentIntent) charges carry the trip. A charge marked
  // for another table is read as one without the mark: a table restored from a backup holds the records of payments whose
  // charges name the table it was restored from, and another stack's table holds none.
  const marked = !anotherTables && typeof metadata[eventType.startsWith('refund.') ? REFUND_KEY_METADATA : TRIP_MARK] === 'string';
  if (eventType.startsWith('checkout.session.')) return { foreign: fields !== undefined && !marked };
  if (marked) return { foreign: false };
  const intent = fields?.payment_intent;
  const paymentId = typeof intent === 'string' ? intent : typeof intent === 'object' && intent !== null ? (intent as { id?: unknown }).id : undefined;
  const plausible = typeof paymentId === 'string' && STRIPE_ID_PATTERNS.paymentIntent.test(paymentId);
  return { foreign: false, ...(anotherTables && { anotherTable: true }), unmarked: { unmarked: true, ...(plausible && { unmarkedPaymentId: paymentId }) } };
}

/** The object names a table (TABLE_MARK), and not this one. */
function ofAnotherTable(metadata: Readonly<Record<string, unknown>>, table: string): boolean {
  const named = metadata[TABLE_MARK];
  return named !== undefined && named !== table;
}

type ObjectParse = { readonly event?: PaymentEvent } | { readonly problem: string };

/**
 * Whether the event is the one of its object's change of state: Stripe's `previous_attributes` (on `*.updated` events) name
 * the fields that changed with it. Read leniently: an odd value there only means the time of the change is not known.
 */
function statusChangedBy(json: unknown): boolean {
  const previous = (json as { data?: { previous_attributes?: unknown } }).data?.previous_attributes;
  return typeof previous === 'object' && previous !== null && typeof (previous as { status?: unknown }).status === 'string';
}

function parseObject(
  eventId: string,
  eventType: HandledEventType,
  object: Record<string, unknown>,
  created: number | undefined,
  statusChanged: boolean,
  ownership: { readonly tripMarkTrusted: boolean },
): ObjectParse {
  const occurredAt = created === undefined ? {} : { occurredAt: created };
  switch (eventType) {
    case 'charge.refunded':
      return withTime(parseCharge(eventId, eventType, object, ownership.tripMarkTrusted), occurredAt);
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
      return withTime(parseRefund(eventId, eventType, object, eventType === 'refund.updated' && statusChanged), occurredAt);
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
    case 'checkout.session.async_payment_failed':
    case 'checkout.session.expired':
      return parseSession(eventId, eventType, object);
  }
}

function withTime(parsed: ObjectParse, occurredAt: { occurredAt?: number }): ObjectParse {
  return 'event' in parsed && parsed.event ? { event: { ...parsed.event, ...occurredAt } as PaymentEvent } : parsed;
}

/** `tripMarkTrusted`: false for another table's charge, whose trip mark names a trip of that table. */
function parseCharge(eventId: string, eventType: string, object: Record<string, unknown>, tripMarkTrusted: boolean): ObjectParse {
  const charge = chargeSchema.safeParse(object);
  if (!charge.success) return { problem: `data.object.${describe(charge.error)}` };
  const paymentId = idOf(charge.data.payment_intent);
  // A charge made without a PaymentIntent (the Charges API) was never one of our checkouts.
  if (!paymentId) return {};
  // Another table's charge names a trip of that table: only this table's record of its payment can make it ours.
  const mark = tripMarkTrusted ? charge.data.metadata?.[TRIP_MARK] : undefined;
  const tripId = tripIdOf(mark);
  return {
    event: {
      kind: 'charge-refunded',
      eventId,
      eventType,
      paymentId,
      amount: charge.data.amount,
      amountRefunded: charge.data.amount_refunded,
      currency: charge.data.currency.toLowerCase(),
      // Stripe copies the PaymentIntent's metadata to its charge: our mark says the payment came from our checkout.
      marked: mark !== undefined,
      ...(tripId !== undefined && { tripId }),
    },
  };
}

function parseRefund(eventId: string, eventType: string, object: Record<string, unknown>, statusChanged: boolean): ObjectParse {
  const refund = refundSchema.safeParse(object);
  if (!refund.success) return { problem: `data.object.${describe(refund.error)}` };
  const paymentId = idOf(refund.data.payment_intent);
  if (!paymentId) return {};
  const refundKey = refund.data.metadata?.[REFUND_KEY_METADATA];
  return {
    event: {
      kind: 'refund-changed',
      eventId,
      eventType,
      refundId: refund.data.id,
      paymentId,
      amount: refund.data.amount,
      status: refundStatusOf(refund.data.status),
      ...(refundKey !== undefined && { refundKey }),
      ...(refund.data.failure_reason && { failureReason: refund.data.failure_reason }),
      ...(refund.data.created !== undefined && { created: refund.data.created }),
      ...(statusChanged && { statusChanged }),
    },
  };
}

function parseSession(
  eventId: string,
  eventType: Exclude<HandledEventType, 'charge.refunded' | `refund.${string}`>,
  object: Record<string, unknown>,
): ObjectParse {
  // Every session of the account reaches this endpoint: one our checkout did not mark is another product's.
  const mark = (object.metadata as Record<string, unknown> | null | undefined)?.[TRIP_MARK];
  if (typeof mark !== 'string') return {};
  const session = checkoutSessionSchema.safeParse(object);
  if (!session.success) return { problem: `data.object.${describe(session.error)}` };
  const tripId = tripIdOf(mark);
  const common = { eventId, eventType, sessionId: session.data.id, ...(tripId !== undefined && { tripId }) };
  switch (eventType) {
    case 'checkout.session.async_payment_failed':
      return { event: { kind: 'checkout-ended', to: 'payment_failed', ...common } };
    case 'checkout.session.expired':
      return {
        event: {
          kind: 'checkout-ended',
          to: 'expired',
          ...common,
          ...(typeof session.data.expires_at === 'number' && { sessionExpiresAt: session.data.expires_at }),
        },
      };
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const paymentId = idOf(session.data.payment_intent);
      const userId = session.data.metadata?.userId;
      const checkoutTrip = checkoutTripOf(session.data.metadata);
      return {
        event: {
          kind: 'checkout-completed',
          paid: eventType === 'checkout.session.async_payment_succeeded' || session.data.payment_status !== 'unpaid',
          amount: session.data.amount_total,
          amountSubtotal: session.data.amount_subtotal ?? null,
          amountDiscount: session.data.total_details?.amount_discount ?? 0,
          currency: session.data.currency.toLowerCase(),
          ...common,
          ...(paymentId !== undefined && { paymentId }),
          ...(userId !== undefined && { userId }),
          ...(checkoutTrip && { checkoutTrip }),
        },
      };
    }
  }
}
