// The Stripe events we act on, as zod schemas, and their translation into the domain's payment events.
import * as z from '../shared/zod';
import type { PaymentEvent } from '../shared/domain/payment-events';
import { idSchema } from '../shared/domain/trip-input';
import { REFUND_KEY_METADATA } from '../shared/stripe/stripe-gateway';

/** The event types this endpoint acts on; operators subscribe the endpoint to exactly these. */
export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'charge.refunded',
  'refund.created',
  'refund.updated',
  'refund.failed',
] as const;
export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

const envelopeSchema = z.object({
  // Ids become keys of the processed-event record, so they must be key-safe.
  id: idSchema,
  object: z.literal('event'),
  type: z.string().check(z.minLength(1)),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/** Amounts in the currency's minor unit: whole and never negative. */
const minorUnits = z.number().check(z.refine(Number.isInteger, 'must be a whole number'), z.minimum(0));
const metadataSchema = z.nullish(z.record(z.string(), z.string()));
const expandable = z.nullish(z.union([z.string(), z.object({ id: z.string() })]));

const checkoutSessionSchema = z.object({
  id: idSchema,
  object: z.literal('checkout.session'),
  client_reference_id: z.nullish(z.string()),
  metadata: metadataSchema,
  payment_intent: expandable,
  payment_status: z.enum(['paid', 'unpaid', 'no_payment_required']),
  amount_total: z.nullable(minorUnits),
  amount_subtotal: z.nullish(minorUnits),
  total_details: z.nullish(z.object({ amount_discount: z.nullish(minorUnits) })),
  currency: z.nullable(z.string()),
});

const refundSchema = z.object({
  id: z.string(),
  object: z.literal('refund'),
  payment_intent: expandable,
  amount: minorUnits,
  status: z.nullable(z.string()),
  failure_reason: z.nullish(z.string()),
  metadata: metadataSchema,
});

/** Stripe's refund states; one added in a later API version is treated as still under way. */
function refundStatusOf(status: string | null): 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled' {
  switch (status) {
    case 'requires_action':
    case 'succeeded':
    case 'failed':
    case 'canceled':
      return status;
    default:
      return 'pending';
  }
}

const chargeSchema = z.object({
  id: z.string(),
  object: z.literal('charge'),
  payment_intent: expandable,
  amount: minorUnits,
  amount_refunded: minorUnits,
  currency: z.string(),
  metadata: metadataSchema,
});

export type ParsedEvent =
  | { readonly handled: true; readonly event: PaymentEvent }
  | { readonly handled: false; readonly type: string }
  | { readonly invalid: true; readonly problem: string };

function idOf(value: z.infer<typeof expandable>): string | undefined {
  if (!value) return undefined;
  return typeof value === 'string' ? value : value.id;
}

/**
 * A trip id as the checkout side wrote it. One that is not key-safe names no trip we could have created:
 * the payment is then handled as one for an unknown trip (set aside and refunded), never dropped.
 */
function tripIdOf(...candidates: (string | null | undefined)[]): string | undefined {
  const candidate = candidates.find((value): value is string => typeof value === 'string' && value.length > 0);
  return candidate !== undefined && idSchema.safeParse(candidate).success ? candidate : undefined;
}

function describe(error: { issues: readonly { path: PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(event)'}: ${issue.message}` : 'invalid';
}

export function parseStripeEvent(json: unknown): ParsedEvent {
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) return { invalid: true, problem: describe(envelope.error) };
  const { id: eventId, type: eventType } = envelope.data;
  if (!(HANDLED_EVENT_TYPES as readonly string[]).includes(eventType)) return { handled: false, type: eventType };

  if (eventType === 'charge.refunded') {
    const charge = chargeSchema.safeParse(envelope.data.data.object);
    if (!charge.success) return { invalid: true, problem: `data.object.${describe(charge.error)}` };
    const paymentId = idOf(charge.data.payment_intent);
    if (!paymentId) return { invalid: true, problem: 'data.object.payment_intent: a refunded charge must name its payment' };
    const tripId = tripIdOf(charge.data.metadata?.tripId);
    return {
      handled: true,
      event: {
        kind: 'charge-refunded',
        eventId,
        eventType,
        paymentId,
        amount: charge.data.amount,
        amountRefunded: charge.data.amount_refunded,
        currency: charge.data.currency.toLowerCase(),
        ...(tripId !== undefined && { tripId }),
      },
    };
  }

  if (eventType.startsWith('refund.')) {
    const refund = refundSchema.safeParse(envelope.data.data.object);
    if (!refund.success) return { invalid: true, problem: `data.object.${describe(refund.error)}` };
    const paymentId = idOf(refund.data.payment_intent);
    // A refund of a charge made without a PaymentIntent is not one of ours.
    if (!paymentId) return { handled: false, type: eventType };
    const refundKey = refund.data.metadata?.[REFUND_KEY_METADATA];
    return {
      handled: true,
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
      },
    };
  }

  const session = checkoutSessionSchema.safeParse(envelope.data.data.object);
  if (!session.success) return { invalid: true, problem: `data.object.${describe(session.error)}` };
  const tripId = tripIdOf(session.data.client_reference_id, session.data.metadata?.tripId);
  const common = { eventId, eventType, sessionId: session.data.id, ...(tripId !== undefined && { tripId }) };
  switch (eventType as Exclude<HandledEventType, 'charge.refunded' | `refund.${string}`>) {
    case 'checkout.session.async_payment_failed':
      return { handled: true, event: { kind: 'checkout-ended', to: 'payment_failed', ...common } };
    case 'checkout.session.expired':
      return { handled: true, event: { kind: 'checkout-ended', to: 'expired', ...common } };
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const paymentId = idOf(session.data.payment_intent);
      const userId = session.data.metadata?.userId;
      return {
        handled: true,
        event: {
          kind: 'checkout-completed',
          paid: eventType === 'checkout.session.async_payment_succeeded' || session.data.payment_status !== 'unpaid',
          amount: session.data.amount_total,
          amountSubtotal: session.data.amount_subtotal ?? null,
          amountDiscount: session.data.total_details?.amount_discount ?? 0,
          currency: session.data.currency,
          ...common,
          ...(paymentId !== undefined && { paymentId }),
          ...(userId !== undefined && { userId }),
        },
      };
    }
  }
}
