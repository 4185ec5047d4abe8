// The one retry policy for DynamoDB calls: which failures are transient, and bounded jittered backoff for them.
import { setTimeout as delay } from 'node:timers/promises';
import { jitteredDelayMs, type Backoff } from '../backoff';
import { StoreUnavailableError } from '../domain/errors';

/** How many attempts, and the jittered backoff between them. */
export interface RetryPolicy extends Backoff {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
}

/** Up to 25 + 50 + 100 + 200 ms of backoff over five attempts. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 25, maxDelayMs: 1_000 };

/** Failures that say nothing about the data: the same request may succeed a moment later. */
const TRANSIENT_ERROR_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
  'TimeoutError',
]);
/** Cancellation reasons that are contention or load, not a failed condition. */
const TRANSIENT_CANCELLATION_CODES = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
/** Connection failures that happen before a request is sent: nothing can have been written. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
const NETWORK_CODES = new Set([...NOT_SENT_CODES, 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  CancellationReasons?: { Code?: string }[];
}

function asAwsError(error: unknown): AwsLikeError {
  return typeof error === 'object' && error !== null ? (error as AwsLikeError) : {};
}

export function isTransient(error: unknown): boolean {
  const e = asAwsError(error);
  if (e.name === 'TransactionCanceledException') {
    const codes = (e.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
    // A failed condition is a business answer even when another item conflicted, and an item refused as invalid stays
    // so: never retry either.
    return !codes.includes('ConditionalCheckFailed') && !codes.includes('ValidationError') && codes.some((code) => TRANSIENT_CANCELLATION_CODES.has(code));
  }
  if (e.name && TRANSIENT_ERROR_NAMES.has(e.name)) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** Whether a write may have been applied although the call failed (the request may have reached the table). */
function mayHaveReachedTable(error: unknown): boolean {
  const e = asAwsError(error);
  if (e.code && NOT_SENT_CODES.has(e.code)) return false;
  if (e.name === 'TransactionCanceledException' || e.name?.includes('Throughput') || e.name === 'ThrottlingException') {
    return false;
  }
  return true;
}

export interface RetryObserver {
  onRetry?(attempt: number, error: unknown): void;
}

/**
 * Runs `call` until it succeeds, fails for good, or runs out of attempts; then throws StoreUnavailableError.
 * Only safe for idempotent calls: reads, and writes made idempotent by a ClientRequestToken or a condition.
 */
export async function withTransientRetries<T>(
  operation: string,
  call: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  observer: RetryObserver = {},
): Promise<T> {
  let maybeCommitted = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw error;
      maybeCommitted ||= mayHaveReachedTable(error);
      if (attempt >= policy.maxAttempts) {
        throw new StoreUnavailableError(`${operation} failed after ${attempt} attempts`, { cause: error, maybeCommitted });
      }
      observer.onRetry?.(attempt, error);
      await delay(jitteredDelayMs(attempt, policy));
    }
  }
}
