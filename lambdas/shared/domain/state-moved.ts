// One loop for "read, decide, write guarded by what was read; if that moved meanwhile, read again", bounded.

/** A step's answer when what it read had moved by the time it wrote: read again and decide again. */
export const STATE_MOVED = Symbol('state moved');

/**
 * Runs `step` until it answers something other than STATE_MOVED, at most `attempts` times; after that,
 * `exhausted` answers (or throws): state that keeps moving is contention, not a reason to loop for ever.
 */
export async function retryWhileStateMoves<T>(attempts: number, step: (attempt: number) => Promise<T | typeof STATE_MOVED>, exhausted: () => T): Promise<T> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const answer = await step(attempt);
    if (answer !== STATE_MOVED) return answer;
  }
  return exhausted();
}
