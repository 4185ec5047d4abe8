// The Stripe adapter: the only place that calls Stripe's API (refunds), knows its client, its ids and its errors.
import Stripe from 'stripe';
import {
  CheckoutRefusedError,
  PaymentGatewayUnavailableError,
  type CheckoutSession,
  type CheckoutSessionRequest,
  type CheckoutSessions,
  type FoundRefund,
  type PaymentGateway,
  type RefundAnswer,
  type RefundRequest,
} from '../domain/payment-gateway';
import { REFUND_KEY_METADATA, refundStatusOf, STRIPE_API_VERSION, STRIPE_ID_PATTERNS, TRIP_MARK } from './stripe-contract';

export interface StripeClientOptions {
  readonly apiKey: string;
  /** Another API origin (a local fake of Stripe's API, e.g. `http://127.0.0.1:12111`); Stripe's own when absent. */
  readonly apiBase?: string;
  /** Stripe's own retries (same idempotency key, so they never refund twice). @default 2 */
  readonly maxNetworkRetries?: number;
}

/** Well inside the function's timeout, so a slow Stripe ends in a 500 Stripe redelivers, not a killed Lambda. */
const STRIPE_TIMEOUT_MS = 8_000;

export { REFUND_KEY_METADATA } from './stripe-contract';

export function createStripeClient(options: StripeClientOptions): Stripe {
  const base = options.apiBase ? new URL(options.apiBase) : undefined;
  return new Stripe(options.apiKey, {
    // Pinned: the account's default version may differ from the one our schemas were written for.
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: STRIPE_TIMEOUT_MS,
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
      protocol: base.protocol === 'http:' ? 'http' : 'https',
    }),
  });
}

/** Error codes that mean "not now" although Stripe answers them with a 4xx. */
const TRANSIENT_CODES = new Set(['lock_timeout', 'rate_limit', 'idempotency_key_in_use']);

/**
 * Stripe's errors, classified once. Transient: the connection failed, Stripe failed (5xx, 409), asked us to
 * slow down (429, lock timeouts), or our key was refused (401/403: an operator fixes the secret, and Stripe's
 * redeliveries then succeed). Everything else is Stripe's final word on this request.
 */
export function isTransientStripeError(error: InstanceType<typeof Stripe.errors.StripeError>): boolean {
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError) return true;
  if (error instanceof Stripe.errors.StripeRateLimitError) return true;
  if (error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError) return true;
  if (error.code !== undefined && TRANSIENT_CODES.has(error.code)) return true;
  return (error.statusCode ?? 0) >= 500;
}

export class StripePaymentGateway implements PaymentGateway {
  /** `client` is asked for on each call so the API key can come from a secret loaded lazily. */
  constructor(private readonly client: () => Promise<Stripe>) {}

  /** Only PaymentIntents are refunded: a Checkout Session id (a free or subscription checkout) never reaches Stripe's refund API. */
  refundable(paymentId: string): boolean {
    return STRIPE_ID_PATTERNS.paymentIntent.test(paymentId);
  }

  async refund(request: RefundRequest): Promise<RefundAnswer> {
    if (!this.refundable(request.paymentId)) {
      return { kind: 'refused', code: 'not_a_payment_intent', message: `${request.paymentId} is not a PaymentIntent` };
    }
    try {
      const stripe = await this.client();
      // Only what identifies the refund goes to Stripe: free text would make a retry clash with the key.
      const refund = await stripe.refunds.create(
        {
          payment_intent: request.paymentId,
          amount: request.amount,
          metadata: { [REFUND_KEY_METADATA]: request.refundKey, ...(request.tripId !== undefined && { tripId: request.tripId }) },
        },
        { idempotencyKey: request.refundKey },
      );
      return { kind: 'created', refundId: refund.id, status: refundStatusOf(refund.status) };
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeError)) throw error;
      if (isTransientStripeError(error)) {
        throw new PaymentGatewayUnavailableError(
          `Stripe did not answer the refund of ${request.paymentId} (${error.type}${error.code ? `: ${error.code}` : ''})`,
          {
            cause: error,
          },
        );
      }
      if (error.code === 'charge_already_refunded') return { kind: 'already_refunded' };
      return { kind: 'refused', code: error.code ?? error.type, message: error.message };
    }
  }

  async findRefund(paymentId: string, refundKey: string): Promise<FoundRefund | undefined> {
    if (!this.refundable(paymentId)) return undefined;
    try {
      const stripe = await this.client();
      for await (const refund of stripe.refunds.list({ payment_intent: paymentId, limit: 100 })) {
        if (refund.metadata?.[REFUND_KEY_METADATA] === refundKey) {
          return { refundId: refund.id, status: refundStatusOf(refund.status), amount: refund.amount };
        }
      }
      return undefined;
    } catch (error) {
      if (error instanceof Stripe.errors.StripeError && !isTransientStripeError(error)) return undefined;
      throw new PaymentGatewayUnavailableError(`Stripe did not list the refunds of ${paymentId}`, { cause: error });
    }
  }
}

/** Stripe Checkout: the hosted page a traveller pays on, marked as ours. */
export class StripeCheckoutSessions implements CheckoutSessions {
  constructor(private readonly client: () => Promise<Stripe>) {}

  async createSession(request: CheckoutSessionRequest): Promise<CheckoutSession> {
    // The mark on the session and on its PaymentIntent (Stripe copies that to the charge) is what makes its events ours.
    const mark = { [TRIP_MARK]: request.tripId, userId: request.userId };
    try {
      const stripe = await this.client();
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          client_reference_id: request.tripId,
          metadata: mark,
          payment_intent_data: { metadata: mark },
          line_items: request.lines.map((line) => ({
            quantity: line.quantity,
            price_data: { currency: request.currency, unit_amount: line.unitAmount, product_data: { name: line.name } },
          })),
          expires_at: Math.floor(request.expiresAt.getTime() / 1000),
          success_url: request.successUrl,
          cancel_url: request.cancelUrl,
        },
        // One session per trip, however often the request is retried.
        { idempotencyKey: `checkout-${request.tripId}` },
      );
      if (!session.url) throw new Error('Stripe answered a Checkout Session without a url');
      return { sessionId: session.id, url: session.url };
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeError)) throw error;
      if (isTransientStripeError(error))
        throw new PaymentGatewayUnavailableError(`Stripe did not create the checkout session of ${request.tripId}`, { cause: error });
      throw new CheckoutRefusedError(error.code ?? error.type, error.message);
    }
  }
}
