// The stripe package and the client built from it: the one module that loads the SDK, imported only when Stripe is called.
import Stripe from 'stripe';
import { STRIPE_CALL } from './stripe-call-time';
import { STRIPE_API_VERSION, type StripeKeyRejection } from './stripe-contract';

export interface StripeClientOptions {
  readonly apiKey: string;
  /** Another API origin (a local fake of Stripe's API, e.g. `http://127.0.0.1:12111`); Stripe's own when absent. */
  readonly apiBase?: string;
  /** Stripe's own retries (same idempotency key, so they never refund twice). @default STRIPE_CALL's 2 */
  readonly maxNetworkRetries?: number;
  /** Told of every answer that refuses the key (401, 403), whichever call made it and whatever the caller does with it. */
  readonly onKeyRejected?: (rejection: StripeKeyRejection) => void;
}

/** What undici's fetch names a connection the other side closed or reset (the `cause` of its `TypeError`). */
const CLOSED_CONNECTION_CAUSES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * fetch, with a connection closed under a request named as Node's http client names it (`ECONNRESET`), so that stripe-node
 * tries it once more even without retries, as it does for that client: a keep-alive socket may have gone stale while the
 * function was frozen between invocations. The request keeps its idempotency key, so trying again never does it twice.
 */
async function fetchNamingClosedConnections(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(input, init);
  } catch (error) {
    const cause: unknown = error instanceof TypeError ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
    if (typeof cause === 'string' && CLOSED_CONNECTION_CAUSES.has(cause)) Object.assign(error as TypeError, { code: 'ECONNRESET' });
    throw error;
  }
}

export function createStripeClient(options: StripeClientOptions): Stripe {
  const base = options.apiBase ? new URL(options.apiBase) : undefined;
  const stripe = new Stripe(options.apiKey, {
    // Pinned: the account's default version may differ from the one our schemas were written for.
    apiVersion: STRIPE_API_VERSION,
    // fetch's timeout bounds each attempt whole: connecting, the headers and the body. Node's http client arms its timeout
    // only once connected, and any byte received starts it again, so a slow answer could outlast the invocation.
    httpClient: Stripe.createFetchHttpClient(fetchNamingClosedConnections),
    // A call's longest; in a Lambda function each call is fitted into the invocation's time left (stripe-call-time.ts).
    maxNetworkRetries: options.maxNetworkRetries ?? STRIPE_CALL.maxNetworkRetries,
    timeout: STRIPE_CALL.timeout,
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
      protocol: base.protocol === 'http:' ? 'http' : 'https',
    }),
  });
  const { onKeyRejected } = options;
  if (onKeyRejected) {
    // Every answer passes here, the refusals of a key included (the SDK never retries them): one place sees them all.
    stripe.on('response', ({ status, method, path, request_id }: Stripe.ResponseEvent) => {
      if (status !== 401 && status !== 403) return;
      try {
        onKeyRejected({ status, method, path: path.split('?')[0] ?? path, ...(request_id && { requestId: request_id }) });
      } catch {
        // Telling of it must never stand in the call's way: the SDK emits before it settles the call, and a throw here
        // would leave the call pending for ever.
      }
    });
  }
  return stripe;
}

export type StripeError = InstanceType<typeof Stripe.errors.StripeError>;

export function isStripeError(error: unknown): error is StripeError {
  return error instanceof Stripe.errors.StripeError;
}

/** Error codes that mean "not now" although Stripe answers them with a 4xx. */
const TRANSIENT_CODES = new Set(['lock_timeout', 'rate_limit', 'idempotency_key_in_use']);

/**
 * Stripe's errors, classified once. Transient: the connection failed, Stripe failed (5xx, 409), asked us to
 * slow down (429, lock timeouts), or our key was refused (401/403: an operator fixes the secret, and Stripe's
 * redeliveries then succeed; `onKeyRejected` makes it known at once). Everything else is Stripe's final word on this
 * request.
 */
export function isTransientStripeError(error: StripeError): boolean {
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError) return true;
  if (error instanceof Stripe.errors.StripeRateLimitError) return true;
  if (error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError) return true;
  if (error.code !== undefined && TRANSIENT_CODES.has(error.code)) return true;
  return (error.statusCode ?? 0) >= 500;
}

/**
 * A server error Stripe had kept under the request's idempotency key and answered again (its `Idempotent-Replayed`
 * header): Stripe keeps a 5xx under the key for a day, so every retry under that key gets it, and none executes.
 */
export function isReplayedServerError(error: StripeError): boolean {
  return (error.statusCode ?? 0) >= 500 && error.headers?.['idempotent-replayed'] === 'true';
}

/** Our key, not the request, was refused (401, 403): transient, and a person's to fix. */
export function isKeyRejection(error: StripeError): boolean {
  return error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError;
}
