// Bounded exponential backoff with full jitter: how long any retry here waits before trying again.

export interface Backoff {
  /** Ceiling of the wait before the first retry; doubles with each retry after it. */
  readonly baseDelayMs: number;
  /** Ceiling of any one wait. */
  readonly maxDelayMs: number;
}

/**
 * The wait before retry number `retry` (1 for the first): anywhere between 0 and its ceiling, so callers that collided
 * once spread out instead of colliding again in step.
 */
export function jitteredDelayMs(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** (retry - 1));
  return random() * ceiling;
}
