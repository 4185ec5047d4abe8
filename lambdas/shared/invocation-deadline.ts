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

/** Milliseconds until only `reserveMs` of the invocation is left (0 once it is); undefined when nothing bounds it. */
export function timeBefore(deadline: CallDeadline | undefined, reserveMs: number): number | undefined {
  const left = deadline?.timeLeft();
  return left === undefined ? undefined : Math.max(0, left - reserveMs);
}

/** What `within` answers for a wait that had not settled when its time was up. */
export const LATE = Symbol('late');

/**
 * `work`'s outcome if it settles within `ms`, else LATE, `work` going on unheeded; the timer goes with the outcome. A value
 * `work` already has (a cache's) is still answered with no time at all: it settles before any timer can fire.
 */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `work`'s outcome, or OutOfTimeError once only `reserveMs` of the invocation is left and it has not settled: the
 * caller is free to answer while `work` goes on unheeded. Without a deadline it is `work` itself, unbounded.
 */
export function settledBefore<T>(work: Promise<T>, deadline: CallDeadline | undefined, reserveMs: number, what: string): Promise<T> {
  const left = deadline?.timeLeft();
  const time = timeBefore(deadline, reserveMs);
  if (left === undefined || time === undefined) return work;
  return within(work, time).then((outcome) => {
    if (outcome === LATE) throw new OutOfTimeError(`${what} did not end ${reserveMs} ms before the invocation does (${Math.max(0, left)} ms were left)`);
    return outcome;
  });
}
