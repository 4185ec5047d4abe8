// One loop for "read, decide, write guarded by what was read; if that moved meanwhile, read again", bounded.
import { setTimeout as delay } from 'node:timers/promises';
import { jitteredDelayMs, type Backoff } from '../backoff';

/** A step's answer when what it read had moved by the time it wrote: read again and decide again. */
export const STATE_MOVED = Symbol('state moved');

/**
 * Between a moved state and the next read. Callers that moved each other's state (cancellations of one payment and
 * the webhook deliveries their refunds bring, all writing its record) would otherwise read again in step and collide
 * again until their attempts ran out; a random wait spreads them. Each wait is drawn below a ceiling that doubles from 25 ms up to 1 s.
 */
export const STATE_MOVED_BACKOFF: Backoff = { baseDelayMs: 25, maxDelayMs: 1_000 };

/**
 * Attempts of every loop guarded by a payment's record. That one item is written by each cancellation of the payment,
 * by each of its refunds' events (two per refund) and by each answer Stripe gives: five bookings of one payment
 * cancelled at once ran out of five attempts about one time in ten on DynamoDB Local, even with the pauses; eight
 * never did in 250. With the pauses, eight attempts wait 2.6 s at most; a cancellation runs two such loops (its own
 * write, then its refund's answer), 5.2 s.
 */
export const PAYMENT_RECORD_ATTEMPTS = 8;

/** Waits before retry number `retry` (1 for the first). */
export type PauseBeforeRetry = (retry: number) => Promise<void>;

const jitteredPause: PauseBeforeRetry = async (retry) => {
  await delay(jitteredDelayMs(retry, STATE_MOVED_BACKOFF));
};

/**
 * Runs `step` until it answers something other than STATE_MOVED, at most `attempts` times, pausing before each read
 * again; after that, `exhausted` answers (or throws): state that keeps moving is contention, not a reason to loop for ever.
 */
export async function retryWhileStateMoves<T>(
  attempts: number,
  step: (attempt: number) => Promise<T | typeof STATE_MOVED>,
  exhausted: () => T,
  pause: PauseBeforeRetry = jitteredPause,
): Promise<T> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await pause(attempt - 1);
    const answer = await step(attempt);
    if (answer !== STATE_MOVED) return answer;
  }
  return exhausted();
}
