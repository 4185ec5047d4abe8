// When each running Lambda invocation ends, read from its context as it begins, so that a slow call can end before it does.
import { AsyncLocalStorage } from 'node:async_hooks';

/** What this needs of Lambda's context object. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/** Time left to the end of the invocation a call is made in, for the calls that must not outlive it. */
export interface CallDeadline {
  /** Milliseconds left, or undefined when nothing bounds the invocation (a local server, a test, the operator's CLI). */
  timeLeft(): number | undefined;
}

/**
 * One per function instance, held by the Stripe adapters. Each invocation's end is kept in its own asynchronous context,
 * not in the instance: on Lambda Managed Instances one process runs several invocations at once.
 */
export class InvocationDeadline implements CallDeadline {
  private readonly endsAt = new AsyncLocalStorage<number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Runs `invocation`, every call it makes seeing its end; without a context (not called by Lambda) nothing is bounded.
   * A callback attached to a promise sees the end of the invocation that attached it, not of the one that awaits it:
   * a promise shared across invocations (a client built once) must not call Stripe from its own `.then`.
   */
  during<T>(context: InvocationContext | undefined, invocation: () => Promise<T>): Promise<T> {
    if (context === undefined) return invocation();
    return this.endsAt.run(this.now() + context.getRemainingTimeInMillis(), invocation);
  }

  timeLeft(): number | undefined {
    const endsAt = this.endsAt.getStore();
    return endsAt === undefined ? undefined : endsAt - this.now();
  }
}

/** A wait given up because the invocation is about to end. */
export class OutOfTimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutOfTimeError';
  }
}

/**
 * `work`'s outcome, or OutOfTimeError once only `reserveMs` of the invocation is left and it has not settled: the
 * caller is free to answer while `work` goes on unheeded. Without a deadline it is `work` itself, unbounded. A value
 * `work` already has (a cache's) is still returned with no time left: it settles before any timer can fire.
 */
export function settledBefore<T>(work: Promise<T>, deadline: CallDeadline | undefined, reserveMs: number, what: string): Promise<T> {
  const left = deadline?.timeLeft();
  if (left === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OutOfTimeError(`${what} did not end ${reserveMs} ms before the invocation does (${Math.max(0, left)} ms were left)`)),
      Math.max(0, left - reserveMs),
    );
  });
  return Promise.race([work, outOfTime]).finally(() => clearTimeout(timer));
}
