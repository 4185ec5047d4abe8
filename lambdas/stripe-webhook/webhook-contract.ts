// What the stack and Stripe need to know of the webhook (its path, its body cap, the events it acts on), free of imports
// so that `cdk synth` reads them without loading Stripe, Powertools or the domain.

/** The route Stripe is configured to call, in AWS and locally. */
export const WEBHOOK_PATH = '/webhooks/stripe';

/** Stripe's events are a few KB; anything this large is refused before its HMAC is computed. */
export const MAX_BODY_BYTES = 256 * 1024;

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
