// The read-decide-write loop: how often it reads again, how long it waits before each new read, and when it gives up.
import { describe, expect, it } from 'vitest';
import { jitteredDelayMs } from '../../lambdas/shared/backoff';
import { retryWhileStateMoves, STATE_MOVED, STATE_MOVED_BACKOFF } from '../../lambdas/shared/domain/state-moved';

describe('retryWhileStateMoves', () => {
  it('pauses before every read again, never before the first or after the last, then lets `exhausted` answer', async () => {
    const events: string[] = [];
    const answer = await retryWhileStateMoves(
      4,
      async (attempt) => {
        events.push(`read ${attempt}`);
        return STATE_MOVED;
      },
      () => 'exhausted',
      async (retry) => void events.push(`pause ${retry}`),
    );

    expect(answer).toBe('exhausted');
    expect(events).toEqual(['read 1', 'pause 1', 'read 2', 'pause 2', 'read 3', 'pause 3', 'read 4']);
  });

  it('answers the first answer that is not STATE_MOVED, with no pause when nothing moved', async () => {
    const pauses: number[] = [];
    const none = await retryWhileStateMoves(
      5,
      async () => 'at once',
      () => 'exhausted',
      async (retry) => void pauses.push(retry),
    );
    const second = await retryWhileStateMoves(
      5,
      async (attempt) => (attempt === 1 ? STATE_MOVED : `read ${attempt}`),
      () => 'exhausted',
      async (retry) => void pauses.push(retry),
    );

    expect([none, second]).toEqual(['at once', 'read 2']);
    expect(pauses).toEqual([1]);
  });
});

describe('jitteredDelayMs', () => {
  it('draws each wait between 0 and a ceiling that doubles from the base up to the cap', () => {
    const highest = (retry: number) => jitteredDelayMs(retry, STATE_MOVED_BACKOFF, () => 1);
    const lowest = (retry: number) => jitteredDelayMs(retry, STATE_MOVED_BACKOFF, () => 0);

    expect([1, 2, 3, 4, 5, 6, 7, 8].map(highest)).toEqual([25, 50, 100, 200, 400, 800, 1_000, 1_000]);
    expect([1, 4, 8].map(lowest)).toEqual([0, 0, 0]);
    expect(jitteredDelayMs(3, STATE_MOVED_BACKOFF, () => 0.5)).toBe(50);
  });
});
