// The payment port of the booking domain: what the use cases ask of the payment provider (refunds).

export interface RefundRequest {
  /** The payment to refund in full (a Stripe PaymentIntent id). */
  readonly paymentId: string;
  /** Same payment, same key: a retried refund is answered with the first one instead of refunding twice. */
  readonly idempotencyKey: string;
  readonly reason: string;
  readonly tripId?: string;
  /** Minor units to refund; the whole payment when absent. */
  readonly amount?: number;
}

export interface PaymentGateway {
  /** Refunds the payment (in full unless an amount is given); a payment already refunded counts as refunded. */
  refund(request: RefundRequest): Promise<{ readonly refundId: string }>;
}

/** The provider could not be reached or did not answer; the same refund may be asked again later. */
export class PaymentGatewayUnavailableError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PaymentGatewayUnavailableError';
  }
}

/** The one idempotency key a payment's refund is ever asked with. */
export function refundIdempotencyKey(paymentId: string): string {
  return `refund-${paymentId}`;
}
