// Which DynamoDB failures are transient, and how the retry loop gives up.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../lambdas/shared/domain/errors';
import { isTransient, withTransientRetries } from '../../lambdas/shared/dynamodb/transient-retry';

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });
const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });

describe('isTransient', () => {
  it.each([
    ['a conflict', cancelled('None', 'TransactionConflict')],
    ['a throttled transaction item', cancelled('ThrottlingError')],
    ['throttling', named('ThrottlingException')],
    ['exceeded throughput', named('ProvisionedThroughputExceededException')],
    ['a 500', named('InternalServerError', { $metadata: { httpStatusCode: 500 } })],
    ['a reset connection', Object.assign(new Error('reset'), { code: 'ECONNRESET' })],
    ['a refused connection', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })],
  ])('retries %s', (_name, error) => {
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    ['a failed condition', cancelled('ConditionalCheckFailed')],
    ['a failed condition beside a conflict', cancelled('ConditionalCheckFailed', 'TransactionConflict')],
    ['a validation error', named('ValidationException', { $metadata: { httpStatusCode: 400 } })],
    ['a missing table', named('ResourceNotFoundException', { $metadata: { httpStatusCode: 400 } })],
    ['a programming error', new TypeError('x is undefined')],
  ])('does not retry %s', (_name, error) => {
    expect(isTransient(error)).toBe(false);
  });
});

describe('withTransientRetries', () => {
  const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

  it('gives up after the last attempt with a StoreUnavailableError that says whether a write may have landed', async () => {
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    };
    const error = await withTransientRetries('op', failing, policy).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toMatchObject({ maybeCommitted: true, message: 'op failed after 3 attempts' });
    expect(calls).toBe(3);
  });

  it('knows a refused connection never reached the table', async () => {
    const refused = () => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    await expect(withTransientRetries('op', refused, policy)).rejects.toMatchObject({ maybeCommitted: false });
  });

  it('passes a business failure through at once', async () => {
    let calls = 0;
    const condition = () => {
      calls++;
      return Promise.reject(cancelled('ConditionalCheckFailed'));
    };
    await expect(withTransientRetries('op', condition, policy)).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(calls).toBe(1);
  });
});
