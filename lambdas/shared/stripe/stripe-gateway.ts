// The Stripe adapter: the only place that calls Stripe's API (refunds) and knows its client and errors.
import Stripe from 'stripe';
import { PaymentGatewayUnavailableError, type PaymentGateway, type RefundRequest } from '../domain/payment-gateway';

export interface StripeClientOptions {
  readonly apiKey: string;
  /** Another API origin (a local fake of Stripe's API, e.g. `http://127.0.0.1:12111`); Stripe's own when absent. */
  readonly apiBase?: string;
  /** Stripe's own retries (same idempotency key, so they never refund twice). @default 2 */
  readonly maxNetworkRetries?: number;
}

/** Well inside the function's timeout, so a slow Stripe ends in a 500 Stripe redelivers, not a killed Lambda. */
const STRIPE_TIMEOUT_MS = 8_000;

export function createStripeClient(options: StripeClientOptions): Stripe {
  const base = options.apiBase ? new URL(options.apiBase) : undefined;
  return new Stripe(options.apiKey, {
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: STRIPE_TIMEOUT_MS,
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
      protocol: base.protocol === 'http:' ? 'http' : 'https',
    }),
  });
}

export class StripePaymentGateway implements PaymentGateway {
  /** `client` is asked for on each refund so the API key can come from a secret loaded lazily. */
  constructor(private readonly client: () => Promise<Stripe>) {}

  async refund(request: RefundRequest): Promise<{ refundId: string }> {
    try {
      const stripe = await this.client();
      const refund = await stripe.refunds.create(
        {
          payment_intent: request.paymentId,
          ...(request.amount !== undefined && { amount: request.amount }),
          metadata: { reason: request.reason, ...(request.tripId !== undefined && { tripId: request.tripId }) },
        },
        { idempotencyKey: request.idempotencyKey },
      );
      return { refundId: refund.id };
    } catch (error) {
      // Refunded already (by an operator in the dashboard, or a refund older than the idempotency window).
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'charge_already_refunded') {
        return { refundId: 'already_refunded' };
      }
      throw new PaymentGatewayUnavailableError(`Stripe refused or did not answer the refund of ${request.paymentId}`, { cause: error });
    }
  }
}
