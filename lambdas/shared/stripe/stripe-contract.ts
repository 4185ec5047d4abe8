// What this service and Stripe agree on, with no dependency: the pinned API version, our metadata mark, id shapes, modes.

/**
 * The one Stripe API version: the client sends it, the webhook endpoint is created with it (README), and the
 * schemas and fixtures are written for it. It is the version the installed stripe package was generated for;
 * a unit test fails when the package is upgraded without moving this line.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive';

/**
 * The metadata key our checkout writes on every Checkout Session and PaymentIntent it creates (Stripe copies a
 * PaymentIntent's metadata to its charge), holding the trip id. Sessions and charges without it are another
 * product's: acknowledged, never touched.
 */
export const TRIP_MARK = 'pulau_trip_id';

/**
 * The metadata key, beside TRIP_MARK, naming the table the trip lives in: the deployment's own. Stripe sends every
 * event of an account to every endpoint, and the reconciliation sweep lists them all; two deployments on one account
 * (a staging and a production stack, a second region, a developer's stack) each act only on the sessions and charges
 * of their own table, and never refund the other's as a payment for a trip they do not know. A session without it
 * (opened before it was written, or by a checkout side that does not send it) is read as before: ours when marked.
 */
export const TABLE_MARK = 'pulau_table';

/** The metadata key under which every refund carries our key, so it can be found again after Stripe forgot the idempotency key. */
export const REFUND_KEY_METADATA = 'refund_key';

/** Plausible Stripe ids (prefix, then letters, digits and `_`), checked before any becomes part of a table key. */
export const STRIPE_ID_PATTERNS = {
  paymentIntent: /^pi_[A-Za-z0-9_]{1,250}$/,
  checkoutSession: /^cs_[A-Za-z0-9_]{1,250}$/,
  charge: /^(ch|py)_[A-Za-z0-9_]{1,250}$/,
  refund: /^(re|pyr)_[A-Za-z0-9_]{1,250}$/,
} as const;

/** Stripe's test and live modes (the domain's ProviderMode). */
export type StripeMode = 'live' | 'test';

/**
 * A deployment's mode follows the key that issues its refunds, so the two can never disagree: a live key
 * (`sk_live_`, `rk_live_`) is live, anything else (test keys, a local stand-in's key) is test.
 */
export function stripeModeOf(apiKey: string): StripeMode {
  return /^(sk|rk)_live_/.test(apiKey) ? 'live' : 'test';
}

export type StripeRefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';

/** Stripe's refund states; one added in a later API version is not final, so it is read as still under way. */
export function refundStatusOf(status: string | null | undefined): StripeRefundStatus {
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

/**
 * A request Stripe answered without executing it because of our API key: 401 (the key was rolled, deleted or mistyped) or
 * 403 (a restricted key without the permission the request needs). Nothing that calls Stripe works until a person puts a
 * working key in the secret.
 */
export interface StripeKeyRejection {
  readonly status: 401 | 403;
  readonly method: string;
  /** The API path, e.g. `/v1/refunds`: with a 403, the permission the key lacks. */
  readonly path: string;
  readonly requestId?: string;
}
