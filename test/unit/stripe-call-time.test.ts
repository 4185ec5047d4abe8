// A call to Stripe fitted into what is left of a Lambda invocation: fewer retries, then a shorter attempt, then no call.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvocationDeadline, OutOfTimeError, settledBefore, type CallDeadline } from '../../lambdas/shared/invocation-deadline';
import { ANSWER_RESERVE_MS, STRIPE_CALL, stripeCallWithin, type StripeCallTime } from '../../lambdas/shared/stripe/stripe-call-time';

const SESSION_LOOKUP: StripeCallTime = { timeout: 3_000, maxNetworkRetries: 0 };

/**
 * The longest stripe-node can take with these options (RequestSender): each attempt its timeout, 0.5 s at most before
 * the first retry and 1 s before the second; without retries, a closed connection is still tried once more after 0.5 s.
 */
function longestStripeNodeCall({ timeout, maxNetworkRetries }: StripeCallTime): number {
  if (maxNetworkRetries === 0) return 2 * timeout + 500;
  return (maxNetworkRetries + 1) * timeout + [0, 500, 1_500][maxNetworkRetries]!;
}

describe('stripeCallWithin', () => {
  it.each([
    { left: 900_000, fitted: { timeout: 8_000, maxNetworkRetries: 2 } },
    { left: 28_500, fitted: { timeout: 8_000, maxNetworkRetries: 2 } },
    { left: 28_499, fitted: { timeout: 8_000, maxNetworkRetries: 1 } },
    { left: 20_000, fitted: { timeout: 8_000, maxNetworkRetries: 1 } },
    { left: 19_500, fitted: { timeout: 8_000, maxNetworkRetries: 1 } },
    { left: 19_499, fitted: { timeout: 7_999, maxNetworkRetries: 0 } },
    { left: 6_000, fitted: { timeout: 1_250, maxNetworkRetries: 0 } },
    { left: 5_500, fitted: { timeout: 1_000, maxNetworkRetries: 0 } },
    { left: 5_499, fitted: undefined },
    { left: 0, fitted: undefined },
    { left: -4_000, fitted: undefined },
  ])('a call that may take 8 s three times, with $left ms left: $fitted', ({ left, fitted }) => {
    expect(stripeCallWithin(STRIPE_CALL, left)).toEqual(fitted);
  });

  it.each([
    { left: 20_000, fitted: { timeout: 3_000, maxNetworkRetries: 0 } },
    { left: 9_500, fitted: { timeout: 3_000, maxNetworkRetries: 0 } },
    { left: 7_000, fitted: { timeout: 1_750, maxNetworkRetries: 0 } },
    { left: 5_000, fitted: undefined },
  ])('a session lookup (one attempt of 3 s), with $left ms left: $fitted', ({ left, fitted }) => {
    expect(stripeCallWithin(SESSION_LOOKUP, left)).toEqual(fitted);
  });

  it('never gives a call more than it asked for, and every call it allows ends before the reserve for the answer', () => {
    for (const wanted of [STRIPE_CALL, SESSION_LOOKUP, { timeout: 8_000, maxNetworkRetries: 1 }]) {
      for (let left = -1_000; left <= 60_000; left += 37) {
        const fitted = stripeCallWithin(wanted, left);
        if (fitted === undefined) continue;
        expect(fitted.timeout).toBeLessThanOrEqual(wanted.timeout);
        expect(fitted.maxNetworkRetries).toBeLessThanOrEqual(wanted.maxNetworkRetries);
        expect(longestStripeNodeCall(fitted)).toBeLessThanOrEqual(left - ANSWER_RESERVE_MS);
      }
    }
  });
});

describe('InvocationDeadline', () => {
  it("counts down from the context's time left as the invocation began, and is unbounded outside one or without a context", async () => {
    let now = 1_000_000;
    const deadline = new InvocationDeadline(() => now);
    expect(deadline.timeLeft()).toBeUndefined();

    const left = await deadline.during({ getRemainingTimeInMillis: () => 20_000 }, async () => {
      now += 4_500;
      return deadline.timeLeft();
    });
    const unbounded = await deadline.during(undefined, async () => deadline.timeLeft());

    expect(left).toBe(15_500);
    expect(unbounded).toBeUndefined();
    expect(deadline.timeLeft()).toBeUndefined();
  });

  it('gives each of two invocations running at once in one process its own end', async () => {
    let now = 1_000_000;
    const deadline = new InvocationDeadline(() => now);
    let letThemRead: () => void = () => {};
    const bothStarted = new Promise<void>((resolve) => {
      letThemRead = resolve;
    });

    const short = deadline.during({ getRemainingTimeInMillis: () => 4_000 }, async () => {
      await bothStarted;
      return deadline.timeLeft();
    });
    const long = deadline.during({ getRemainingTimeInMillis: () => 20_000 }, async () => {
      await bothStarted;
      return deadline.timeLeft();
    });
    now += 1_000;
    letThemRead();

    expect(await Promise.all([short, long])).toEqual([3_000, 19_000]);
  });
});

describe('settledBefore', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const left = (ms: number | undefined): CallDeadline => ({ timeLeft: () => ms });
  const never = new Promise<string>(() => {});

  it('gives up on a wait still going when only the reserve is left, and not before; the timer goes with the outcome', async () => {
    vi.useFakeTimers();
    const outcome = settledBefore(never, left(5_000), 3_000, 'Reading the secret').catch((error: unknown) => error);

    await vi.advanceTimersByTimeAsync(1_999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);

    expect(await outcome).toEqual(new OutOfTimeError('Reading the secret did not end 3000 ms before the invocation does (5000 ms were left)'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('answers what the wait settles with in time, its failure included, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const answered = settledBefore(Promise.resolve('the secret'), left(20_000), 3_000, 'Reading the secret');
    const failed = settledBefore(Promise.reject(new Error('AccessDenied')), left(20_000), 3_000, 'Reading the secret');

    expect(await answered).toBe('the secret');
    await expect(failed).rejects.toThrow('AccessDenied');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('answers a value already at hand even with no time left (a cached secret), and waits unbounded outside an invocation', async () => {
    expect(await settledBefore(Promise.resolve('cached'), left(1_000), 3_000, 'Reading the secret')).toBe('cached');
    expect(await settledBefore(Promise.resolve('cached'), left(-50), 3_000, 'Reading the secret')).toBe('cached');
    const unbounded = Promise.resolve('no deadline');
    expect(settledBefore(unbounded, left(undefined), 3_000, 'Reading the secret')).toBe(unbounded);
    expect(settledBefore(unbounded, undefined, 3_000, 'Reading the secret')).toBe(unbounded);
  });
});
