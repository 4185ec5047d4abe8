// How long one call to Stripe may take: its attempts fitted into what is left of the invocation, less the time its answer needs.

/** stripe-node's per-request options that bound a call: each attempt's timeout, and the attempts after the first. */
export interface StripeCallTime {
  readonly timeout: number;
  readonly maxNetworkRetries: number;
}

/** A call with all the time it wants: 8 s an attempt, and Stripe's own two retries (same idempotency key, so never twice). */
export const STRIPE_CALL: StripeCallTime = { timeout: 8_000, maxNetworkRetries: 2 };

/**
 * Kept back from the end of the invocation for what follows Stripe's answer: recording it (a few writes, with their own
 * retries and pauses) and answering the caller. A call that cannot end before it is not made.
 */
export const ANSWER_RESERVE_MS = 3_000;

/** An attempt given less than this would mostly time out: the call is not made, and the caller asks again later. */
export const SHORTEST_ATTEMPT_MS = 1_000;

/**
 * stripe-node's pause before each retry is at most 0.5 s before the first and 1 s before the second (RequestSender); a
 * closed connection tried again without retries waits the first.
 */
const PAUSE_BEFORE_FIRST_RETRY_MS = 500;
const PAUSE_BEFORE_RETRY_MS = [PAUSE_BEFORE_FIRST_RETRY_MS, 1_000];

/** The longest a call may take with `retries` after its first attempt, each of `timeout`, Stripe's pauses included. */
function longestCall(timeout: number, retries: number): number {
  const pauses = PAUSE_BEFORE_RETRY_MS.slice(0, retries).reduce((sum, pause) => sum + pause, 0);
  return (retries + 1) * timeout + pauses;
}

/**
 * The most of `wanted` that ends `ANSWER_RESERVE_MS` before the invocation does: fewer retries first, then a shorter
 * single attempt. Undefined when even that would be shorter than `SHORTEST_ATTEMPT_MS`: do not call.
 */
export function stripeCallWithin(wanted: StripeCallTime, timeLeftMs: number): StripeCallTime | undefined {
  const usable = timeLeftMs - ANSWER_RESERVE_MS;
  for (let retries = wanted.maxNetworkRetries; retries >= 1; retries--) {
    if (longestCall(wanted.timeout, retries) <= usable) return { timeout: wanted.timeout, maxNetworkRetries: retries };
  }
  // stripe-node tries a closed connection once more even without retries (RequestSender._shouldRetry): the single
  // attempt gets half of what is left, so that the second try ends in time too.
  const timeout = Math.min(wanted.timeout, Math.floor((usable - PAUSE_BEFORE_FIRST_RETRY_MS) / 2));
  return timeout >= SHORTEST_ATTEMPT_MS ? { timeout, maxNetworkRetries: 0 } : undefined;
}
