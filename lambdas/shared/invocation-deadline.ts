// When the running Lambda invocation ends, read from its context as it begins, so that a slow call can end before it does.

/** What this needs of Lambda's context object. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/** Time left to the end of the invocation under way, for the calls that must not outlive it. */
export interface CallDeadline {
  /** Milliseconds left, or undefined when nothing bounds the invocation (a local server, a test, the operator's CLI). */
  timeLeft(): number | undefined;
}

/**
 * One per function instance: Lambda runs one invocation at a time in it, and the entry point calls `begin` as each one
 * starts. The Stripe adapters hold it and fit each call into what is left.
 */
export class InvocationDeadline implements CallDeadline {
  private endsAt: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Without a context nothing bounds the calls: the entry point was called by something other than Lambda. */
  begin(context: InvocationContext | undefined): void {
    this.endsAt = context === undefined ? undefined : this.now() + context.getRemainingTimeInMillis();
  }

  timeLeft(): number | undefined {
    return this.endsAt === undefined ? undefined : this.endsAt - this.now();
  }
}
