// The payment event a returning traveller's paid session stands for: the session as Stripe answered it, wrapped as the
// checkout.session.completed event Stripe would send, and read by the webhook's own parser.
import type { PaymentEvent } from '../shared/domain/payment-events';
import type { ProviderCheckoutSession } from '../shared/domain/payment-gateway';
import { STRIPE_API_VERSION } from '../shared/stripe/stripe-contract';
import { parseStripeEvent } from '../stripe-webhook/stripe-events';

/**
 * The same for every return to one session, so however often the traveller reloads the page it is one processed
 * event; never a Stripe event id (`evt_...`), so it cannot stand in for the webhook's own delivery.
 */
export function returnEventId(sessionId: string): string {
  return `return_${sessionId}`;
}

/** `table`: the deployment's own, as the webhook reads sessions with it. */
export function paymentEventOfSession(session: ProviderCheckoutSession, table: string): { readonly event: PaymentEvent } | { readonly problem: string } {
  const parsed = parseStripeEvent(
    {
      id: returnEventId(session.sessionId),
      object: 'event',
      type: 'checkout.session.completed',
      api_version: STRIPE_API_VERSION,
      livemode: session.object.livemode,
      data: { object: session.object },
    },
    table,
  );
  switch (parsed.kind) {
    case 'handled':
      return { event: parsed.event };
    case 'poison':
    case 'invalid':
      return { problem: parsed.problem };
    case 'ignored':
      return { problem: `not a session to act on (${parsed.why})` };
  }
}
