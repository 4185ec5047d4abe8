// Stripe's gateway at a test's fake with its refunds changed: made and then unanswered, failing for one payment, or made
// while something else happens first. Everything else is the real gateway's.
import { PaymentGatewayUnavailableError, type PaymentGateway, type RefundRequest } from '../../lambdas/shared/domain/payment-gateway';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import type { StripeFake } from '../../scripts/local/stripe-fake';

/** The real gateway at `fake`, whose `refund` is `refund(request, real)`: `real` asks the fake. */
export function gatewayWithRefund(
  fake: StripeFake,
  refund: (request: RefundRequest, real: PaymentGateway) => ReturnType<PaymentGateway['refund']>,
): PaymentGateway {
  const real = new StripePaymentGateway(async () => fake.client());
  return {
    refundable: (paymentId) => real.refundable(paymentId),
    findRefund: (paymentId, refundKey) => real.findRefund(paymentId, refundKey),
    holdsPayment: (paymentId) => real.holdsPayment(paymentId),
    refundedSoFar: (paymentId) => real.refundedSoFar(paymentId),
    refund: (request) => refund(request, real),
  };
}

/** The real gateway at `fake`, whose refunds Stripe makes while their answer is lost on the way back (a timeout). */
export function gatewayLosingRefundAnswers(fake: StripeFake): PaymentGateway {
  return gatewayWithRefund(fake, async (request, real) => {
    await real.refund(request);
    throw new PaymentGatewayUnavailableError('timeout');
  });
}
