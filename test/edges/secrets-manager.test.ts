// The Secrets Manager read of a function instance, over HTTP against a stand-in: kept, shared, bounded, and never an outage of its own.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvocationDeadline, type CallDeadline } from '../../lambdas/shared/invocation-deadline';
import { COUNTED_LOG_LINES, createLogger, METRIC, SERVICE_NAME, secretNotReplacedReporter } from '../../lambdas/shared/observability';
import {
  SECRET_KEPT_MS,
  SECRET_READ,
  SECRET_REPLACEMENT_WAIT_MS,
  SECRET_REREAD_AFTER_FAILURE_MS,
  SecretUnavailableError,
  secretsManagerSecret,
} from '../../lambdas/shared/secrets-manager';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../../scripts/dev-kit/secrets-manager-stand-in';
import { linesWritten } from '../support/lines-written';

const RESERVE_MS = 3_000;
let secretsManager: SecretsManagerStandIn;
let now: number;

beforeEach(async () => {
  secretsManager = await startSecretsManagerStandIn('first');
  now = 1_000_000;
  vi.stubEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER', secretsManager.endpoint);
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  vi.stubEnv('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await secretsManager.close();
});

/**
 * The secret as the functions read it, its string taken as is unless `parse` says otherwise; `deadline` that of the
 * invocation reading it; `told` collects what onKeptValueNotReplaced is told.
 */
function secretRead(deadline?: CallDeadline, options: { readonly told?: unknown[]; readonly parse?: (value: string) => string } = {}): () => Promise<string> {
  return secretsManagerSecret('arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe', options.parse ?? ((value) => value), {
    ...(deadline !== undefined && { deadline }),
    ...(options.told !== undefined && { onKeptValueNotReplaced: (error: unknown) => options.told?.push(error) }),
    reserveMs: RESERVE_MS,
    now: () => now,
  });
}

const failureOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => 'no failure',
    (error: unknown) => error,
  );

describe('a secret read from Secrets Manager', () => {
  it('is read once for callers arriving together, then answered from what was kept', async () => {
    const secret = secretRead();

    expect(await Promise.all([secret(), secret(), secret(), secret(), secret()])).toEqual(['first', 'first', 'first', 'first', 'first']);
    expect(await secret()).toBe('first');

    expect(secretsManager.reads()).toBe(1);
  });

  it('kept five minutes, is read again by the next request, which goes on with the rolled value when it comes at once', async () => {
    const secret = secretRead();
    expect(await secret()).toBe('first');
    secretsManager.answer('rolled');

    now += SECRET_KEPT_MS - 1;
    expect(await secret()).toBe('first');
    expect(secretsManager.reads()).toBe(1);

    now += 1;
    expect(await secret()).toBe('rolled');
    expect(secretsManager.reads()).toBe(2);
  });

  it('kept five minutes, with Secrets Manager silent, is answered after a moment at most, while the read goes on behind it', async () => {
    const secret = secretRead();
    expect(await secret()).toBe('first');
    now += SECRET_KEPT_MS;
    secretsManager.silent(true);

    const started = Date.now();
    expect(await secret()).toBe('first');
    expect(Date.now() - started).toBeLessThan(SECRET_REPLACEMENT_WAIT_MS + 500);
    // Others meanwhile answer at once with what is kept, and start no read of their own.
    expect(await Promise.all([secret(), secret()])).toEqual(['first', 'first']);
    expect(secretsManager.reads()).toBe(1 + 1);
  });

  it('kept, is not replaced by a read that fails or answers something unusable; the next read is tried 30 s later, not per request', async () => {
    let usable = true;
    const secret = secretRead(undefined, {
      parse: (value) => {
        if (!usable) throw new SecretUnavailableError('unusable', { retryable: false });
        return value;
      },
    });
    expect(await secret()).toBe('first');

    now += SECRET_KEPT_MS;
    secretsManager.refuse('AccessDeniedException', 400);
    expect(await secret()).toBe('first');
    expect(secretsManager.reads()).toBe(2);
    expect(await Promise.all([secret(), secret(), secret()])).toEqual(['first', 'first', 'first']);

    now += SECRET_REREAD_AFTER_FAILURE_MS;
    secretsManager.answer('malformed');
    usable = false;
    expect(await secret()).toBe('first');
    expect(secretsManager.reads()).toBe(3);
    expect(await secret()).toBe('first');

    now += SECRET_REREAD_AFTER_FAILURE_MS;
    usable = true;
    secretsManager.answer('rolled');
    expect(await secret()).toBe('rolled');
    expect(secretsManager.reads()).toBe(4);
  });

  it('joined by a request 30 s later while still going (a function frozen and thawed), is not waited on again, nor its failure told twice', async () => {
    const told: unknown[] = [];
    const secret = secretRead(undefined, { told });
    expect(await secret()).toBe('first');
    now += SECRET_KEPT_MS;
    secretsManager.silent(true);
    expect(await secret()).toBe('first');

    now += SECRET_REREAD_AFTER_FAILURE_MS;
    const started = Date.now();
    expect(await secret()).toBe('first');
    const waited = Date.now() - started;

    await secretsManager.givenUp(SECRET_READ.attempts);
    await vi.waitFor(() => expect(told.length).toBeGreaterThan(0));
    expect(waited).toBeLessThan(SECRET_REPLACEMENT_WAIT_MS / 2);
    expect(told).toHaveLength(1);
    expect(secretsManager.reads()).toBe(1 + SECRET_READ.attempts);
  });

  it('never answered, fails each invocation retryably when only its reserve is left; one read is in flight however many give up, it ends, and the next is answered', async () => {
    const deadline = new InvocationDeadline();
    const secret = secretRead(deadline);
    secretsManager.silent(true);

    const given = await Promise.all(Array.from({ length: 60 }, () => failureOf(deadline.during({ getRemainingTimeInMillis: () => RESERVE_MS + 200 }, secret))));
    for (const failure of given) {
      expect(failure).toBeInstanceOf(SecretUnavailableError);
      expect(failure).toMatchObject({ retryable: true, message: expect.stringContaining('did not end 3000 ms before the invocation does') });
    }
    expect(secretsManager.reads()).toBe(1);

    // The read ends by its own bounds (the SDK's retry included), giving its connection back.
    await secretsManager.givenUp(SECRET_READ.attempts);
    expect(secretsManager.reads()).toBe(SECRET_READ.attempts);
    secretsManager.silent(false);
    expect(await deadline.during({ getRemainingTimeInMillis: () => 20_000 }, secret)).toBe('first');
    expect(secretsManager.reads()).toBe(SECRET_READ.attempts + 1);
  });

  it('answered with headers and then a body that stalls, still ends at the whole read’s bound, and the next read is answered', async () => {
    const secret = secretRead();
    secretsManager.halfAnswer(true);

    const failure = await failureOf(secret());
    expect(failure).toBeInstanceOf(SecretUnavailableError);
    expect(failure).toMatchObject({ retryable: true });
    await secretsManager.givenUp(1);
    expect(secretsManager.reads()).toBe(1);

    secretsManager.halfAnswer(false);
    expect(await secret()).toBe('first');
  });

  it('kept, and not replaced by reads that fail, tells each such read, and only those', async () => {
    const told: unknown[] = [];
    const secret = secretRead(undefined, { told });
    expect(await secret()).toBe('first');

    now += SECRET_KEPT_MS;
    secretsManager.refuse('AccessDeniedException', 400);
    expect(await secret()).toBe('first');
    await vi.waitFor(() => expect(told).toHaveLength(1));
    now += SECRET_REREAD_AFTER_FAILURE_MS;
    expect(await secret()).toBe('first');
    await vi.waitFor(() => expect(told).toHaveLength(2));
    now += SECRET_REREAD_AFTER_FAILURE_MS;
    secretsManager.answer('rolled');
    await vi.waitFor(async () => expect(await secret()).toBe('rolled'));

    expect(told).toHaveLength(2);
    expect(told[0]).toMatchObject({ name: 'SecretUnavailableError', retryable: false, cause: expect.objectContaining({ name: 'AccessDeniedException' }) });
  });

  it('kept, and not replaced by a read that fails, is said in the one error line the stack counts as StripeSecretNotReplaced', async () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'ERROR');
    const told: unknown[] = [];
    const report = secretNotReplacedReporter(createLogger());
    const secret = secretsManagerSecret('arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe', (value) => value, {
      onKeptValueNotReplaced: (error) => {
        told.push(error);
        report(error);
      },
      reserveMs: RESERVE_MS,
      now: () => now,
    });
    expect(await secret()).toBe('first');
    now += SECRET_KEPT_MS;
    secretsManager.refuse('AccessDeniedException', 400);

    const lines = await linesWritten(async () => {
      expect(await secret()).toBe('first');
      await vi.waitFor(() => expect(told).toHaveLength(1));
    });

    expect(lines).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        service: SERVICE_NAME,
        message: COUNTED_LOG_LINES.stripeSecretNotReplaced.message,
        error: expect.objectContaining({ name: 'SecretUnavailableError' }),
      }),
    ]);
    expect(COUNTED_LOG_LINES.stripeSecretNotReplaced.metric).toBe(METRIC.stripeSecretNotReplaced);
  });

  it('never answered and with no invocation to end (the CLI), still ends, retryably', async () => {
    secretsManager.silent(true);
    const failure = await failureOf(secretRead()());
    expect(failure).toBeInstanceOf(SecretUnavailableError);
    expect(failure).toMatchObject({ retryable: true });
    expect(secretsManager.reads()).toBe(SECRET_READ.attempts);
  });

  it.each([
    ['AccessDeniedException', 400, false],
    ['ResourceNotFoundException', 400, false],
    ['ThrottlingException', 400, true],
    ['InternalServiceError', 500, true],
  ])('answered %s (%i): retryable %s', async (type, status, retryable) => {
    secretsManager.refuse(type, status);
    const failure = await failureOf(secretRead()());
    expect(failure).toBeInstanceOf(SecretUnavailableError);
    expect(failure).toMatchObject({ retryable, cause: expect.objectContaining({ name: type }) });
  });
});
