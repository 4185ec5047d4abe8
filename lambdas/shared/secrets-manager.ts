// Reads one secret from AWS Secrets Manager for a function instance: kept for a while, one read at a time, within the invocation's time.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LATE, OutOfTimeError, settledBefore, timeBefore, within, type CallDeadline } from './invocation-deadline';

/** A rolled secret reaches warm functions within this long (and one request); meanwhile nothing is read per request. */
export const SECRET_KEPT_MS = 300_000;

/** After a read that failed to replace a kept value, the next is tried this much later, not on every request. */
export const SECRET_REREAD_AFTER_FAILURE_MS = 30_000;

/**
 * How long the request that reads a kept value again waits for the new one before going on with the kept one: Secrets
 * Manager answers in tens of milliseconds, so a rolled secret is used from that request on, and a slow Secrets Manager
 * delays that one request by this much at most.
 */
export const SECRET_REPLACEMENT_WAIT_MS = 1_000;

/**
 * Each read's bounds: Secrets Manager answers in tens of milliseconds, and a read that does not answer must end, so
 * that it gives its connection back (a read left hanging would hold one of the client's 50 for good). Two attempts
 * (the SDK's retry of a timeout or a 5xx) of at most 1 s to connect and 2 s for the request and the answer's headers;
 * the whole read, an answer's body arriving slowly or not at all included (the SDK's timeout ends with the headers),
 * is cut at `wholeReadMs`.
 */
export const SECRET_READ = { attempts: 2, connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, wholeReadMs: 7_000 } as const;

/** The secret could not be had. `retryable` when Secrets Manager did not answer (or not in time, or not now: 5xx, throttled). */
export class SecretUnavailableError extends Error {
  readonly retryable: boolean;

  constructor(message: string, options: { cause?: unknown; retryable: boolean }) {
    super(message, { cause: options.cause });
    this.name = 'SecretUnavailableError';
    this.retryable = options.retryable;
  }
}

export interface SecretsManagerSecretOptions {
  /** Each invocation waits for a first read until only `reserveMs` of it is left. */
  readonly deadline?: CallDeadline;
  readonly reserveMs: number;
  /**
   * Told of a read that failed (or answered something unusable) while a value was kept, which goes on being used: the
   * requests all succeed, so only this can say that a rolled secret is not reaching the function.
   */
  readonly onKeptValueNotReplaced?: (error: unknown) => void;
  readonly now?: () => number;
}

/**
 * The value of `secretId`, as `parse` reads its string (throwing SecretUnavailableError when unusable).
 * - Read on first use, and kept SECRET_KEPT_MS.
 * - One read at a time, shared by the invocations that need it, so a Secrets Manager that does not answer holds one
 *   connection, not one per invocation.
 * - With nothing kept, an invocation waits for the read until only `reserveMs` of it is left (its deadline's), then fails
 *   with a retryable SecretUnavailableError; the read goes on to its own bounds and keeps what it gets.
 * - A value kept SECRET_KEPT_MS is read again by the next request, which waits SECRET_REPLACEMENT_WAIT_MS at most for
 *   the new value and otherwise goes on with the kept one (so do the requests meanwhile), the read going on behind it:
 *   a slow or failing Secrets Manager delays a rolled secret, not requests. A read that fails, or whose answer is unusable (a malformed
 *   value, access denied), replaces nothing, is told (`onKeptValueNotReplaced`) and is tried again
 *   SECRET_REREAD_AFTER_FAILURE_MS later: the operator's mistake shows as those errors and at the next cold start, not as
 *   an outage of warm functions.
 */
export function secretsManagerSecret<T>(secretId: string, parse: (secretString: string) => T, options: SecretsManagerSecretOptions): () => Promise<T> {
  const now = options.now ?? Date.now;
  let kept: { value: T; readAgainAt: number } | undefined;
  let reading: Promise<T> | undefined;
  let client: SecretsManagerClient | undefined;

  async function read(): Promise<T> {
    const startedAt = now();
    // Loaded on the first read (a cold start's first request in AWS), not at import: locally the secrets come from the
    // environment and the client is never needed.
    const sdk = await import('@aws-sdk/client-secrets-manager');
    client ??= new sdk.SecretsManagerClient({
      maxAttempts: SECRET_READ.attempts,
      requestHandler: { connectionTimeout: SECRET_READ.connectionTimeoutMs, requestTimeout: SECRET_READ.requestTimeoutMs, throwOnRequestTimeout: true },
    });
    let secretString: string | undefined;
    try {
      ({ SecretString: secretString } = await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId }), {
        abortSignal: AbortSignal.timeout(SECRET_READ.wholeReadMs),
      }));
    } catch (error) {
      throw new SecretUnavailableError('The secret could not be read from Secrets Manager', { cause: error, retryable: mayAnswerLater(error) });
    }
    if (secretString === undefined) throw new SecretUnavailableError('The secret has no string value', { retryable: false });
    const value = parse(secretString);
    kept = { value, readAgainAt: startedAt + SECRET_KEPT_MS };
    return value;
  }

  function readOnce(): Promise<T> {
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  }

  return async () => {
    if (kept !== undefined) {
      if (now() < kept.readAgainAt) return kept.value;
      const before = kept;
      before.readAgainAt = now() + SECRET_REREAD_AFTER_FAILURE_MS;
      // A read still going from before (the function frozen and thawed meanwhile) is one already waited on: the kept
      // value answers at once, and that read's failure is told by whoever started it.
      if (reading !== undefined) return before.value;
      // A failure leaves the kept value, and is told.
      const replacing = readOnce().catch((error: unknown) => {
        options.onKeptValueNotReplaced?.(error);
        return before.value;
      });
      // Within the invocation's time too, less what it keeps for answering.
      const replaced = await within(replacing, Math.min(SECRET_REPLACEMENT_WAIT_MS, timeBefore(options.deadline, options.reserveMs) ?? Infinity));
      return replaced === LATE ? before.value : replaced;
    }
    try {
      return await settledBefore(readOnce(), options.deadline, options.reserveMs, 'Reading the secret');
    } catch (error) {
      if (error instanceof OutOfTimeError) throw new SecretUnavailableError(error.message, { cause: error, retryable: true });
      throw error;
    }
  };
}

/**
 * Whether a failed read may succeed if asked again: no answer (a timeout, a connection lost), or an answer that says
 * "not now" (throttled, 5xx). An answer that says no (access denied, no such secret) stays no until someone acts.
 */
function mayAnswerLater(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status === 429 || status >= 500 || (error as { name?: string }).name === 'ThrottlingException';
}
