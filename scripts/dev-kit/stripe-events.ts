// Stripe event fixtures for tests and the benchmark, signed with the stripe package's own test-header helper.
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import type { Trip } from '../../lambdas/shared/domain/model';
import { STRIPE_API_VERSION, TABLE_MARK, TRIP_MARK } from '../../lambdas/shared/stripe/stripe-contract';
import { tripItemsMetadata } from '../../lambdas/shared/stripe/trip-metadata';
import type { FakeRefund } from '../local/stripe-fake';
import { apiGatewayEvent } from './api-gateway-events';

export const SIGNING_SECRET = 'whsec_test_current_secret';

let sequence = 0;
const stripeId = (prefix: string): string => `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 24)}${(sequence++).toString(36)}`;

/** A PaymentIntent id as Stripe spells them (`pi_…`), unique per call. */
export const paymentIntentId = (): string => stripeId('pi');

export interface SessionFacts {
  readonly sessionId?: string;
  readonly paymentIntent?: string | null;
  readonly tripId?: string | null;
  readonly userId?: string;
  readonly amount?: number;
  readonly currency?: string;
  readonly paymentStatus?: 'paid' | 'unpaid' | 'no_payment_required';
  /** The table the session is marked for (TABLE_MARK), as our checkout marks it with its deployment's. @default none */
  readonly table?: string;
  /**
   * Whether the session carries the trip's items in its metadata, as our checkout writes them.
   * @default true when the trip was opened by our checkout (it holds the seats and records the session), false otherwise (a session
   * made before items were written, or by a platform that creates its own)
   */
  readonly withItems?: boolean;
}

/**
 * The Checkout Session our checkout would have created for `trip`, with whatever is overridden. It carries our
 * mark (the trip id under TRIP_MARK); `tripId: null` makes it another product's session, without the mark.
 */
export function checkoutSession(trip: Trip, facts: SessionFacts = {}) {
  const tripId = facts.tripId === undefined ? trip.tripId : facts.tripId;
  const withItems = facts.withItems ?? (trip.checkoutSessionId !== undefined && trip.holdExpiresAt !== undefined);
  const items = withItems ? tripItemsMetadata({ items: trip.items, itemAmounts: trip.itemAmounts ?? [] }) : {};
  return {
    id: facts.sessionId ?? trip.checkoutSessionId ?? stripeId('cs_test'),
    object: 'checkout.session',
    client_reference_id: tripId,
    metadata: {
      ...(tripId !== null && { [TRIP_MARK]: tripId }),
      ...(facts.table !== undefined && { [TABLE_MARK]: facts.table }),
      userId: facts.userId ?? trip.userId,
      ...items,
    },
    payment_intent: facts.paymentIntent === undefined ? stripeId('pi') : facts.paymentIntent,
    payment_status: facts.paymentStatus ?? 'paid',
    amount_total: facts.amount ?? trip.amount,
    currency: facts.currency ?? trip.currency,
    mode: 'payment',
    status: 'complete',
  };
}

export function stripeEvent(type: string, object: Record<string, unknown>, id = stripeId('evt')) {
  return {
    id,
    object: 'event',
    api_version: STRIPE_API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    type,
    data: { object },
  };
}

/** Stripe's refund.updated of the refund's change of state: its `previous_attributes` name the status it left. */
export function refundStatusChange(refund: Record<string, unknown>, previousStatus: string, id = stripeId('evt')) {
  const event = stripeEvent('refund.updated', refund, id);
  return { ...event, data: { ...event.data, previous_attributes: { status: previousStatus } } };
}

/**
 * Stripe's charge.refunded. Stripe copies the PaymentIntent's metadata to its charge, so a charge of our
 * checkout carries our mark: `tripId` gives it (with that trip); `tripId: ''` gives it without a usable trip id.
 */
export function chargeRefunded(paymentIntent: string, amount: number, options: { refunded?: number; tripId?: string; currency?: string; table?: string } = {}) {
  return stripeEvent('charge.refunded', {
    id: stripeId('ch'),
    object: 'charge',
    payment_intent: paymentIntent,
    amount,
    amount_refunded: options.refunded ?? amount,
    refunded: (options.refunded ?? amount) >= amount,
    currency: options.currency ?? 'eur',
    metadata: {
      ...(options.tripId !== undefined && { [TRIP_MARK]: options.tripId }),
      ...(options.table !== undefined && { [TABLE_MARK]: options.table }),
    },
  });
}

export interface SignOptions {
  readonly secret?: string;
  /** Seconds since the epoch when Stripe signed it. @default now */
  readonly timestamp?: number;
}

export function signatureHeader(payload: string, options: SignOptions = {}): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? SIGNING_SECRET,
    ...(options.timestamp !== undefined && { timestamp: options.timestamp }),
  });
}

/** An API Gateway event carrying `event` exactly as Stripe would send it, signed. */
export function signedRequest(event: unknown, options: SignOptions & { base64?: boolean } = {}) {
  const payload = JSON.stringify(event, null, 2);
  return apiGatewayEvent({
    body: options.base64 ? Buffer.from(payload).toString('base64') : payload,
    isBase64Encoded: options.base64 ?? false,
    headers: { 'stripe-signature': signatureHeader(payload, options) },
  });
}

/** The refund object Stripe sends in refund.* events, as the Stripe fake holds it. */
export function refundObject(refund: FakeRefund) {
  return {
    id: refund.id,
    object: 'refund',
    amount: refund.amount,
    charge: refund.charge,
    currency: refund.currency,
    payment_intent: refund.paymentIntent,
    status: refund.status,
    failure_reason: refund.failureReason ?? null,
    metadata: refund.metadata,
    created: refund.created,
  };
}
