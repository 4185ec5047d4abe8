// The reconciliation sweep on a busy Stripe account: other products' events of the same types fill a window with more
// than one run can list, and a payment whose delivery was lost is still booked, the cursor moving run after run; and a
// sweep that cannot get anywhere in a run says so.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallDeadline } from '../../lambdas/shared/invocation-deadline';
import { StripeEventSource } from '../../lambdas/shared/stripe/stripe-gateway';
import { ReconciliationStoppedError } from '../../lambdas/stripe-reconciler/reconciler';
import { startStripeFake, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { minutesLater, testReconciler } from '../support/reconciler';
import { testStore, uniqueId } from '../support/store';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** A run's time (the stack's timeout) as modelled here: every page Stripe is asked for takes `pageMs` of it. */
const RUN_MS = 240_000;

/** Another product's expired checkouts on the same account, `count` of them spread over `seconds` from `from`. */
function otherEvents(count: number, from: number, seconds: number): void {
  for (let index = 0; index < count; index++) {
    fake.events.push({
      id: `evt_other_${index}_${uniqueId('o')}`,
      object: 'event',
      type: 'checkout.session.expired',
      created: from + Math.floor((index * seconds) / count),
      livemode: false,
      pending_webhooks: 0,
      data: { object: { id: `cs_other_${index}`, object: 'checkout.session', metadata: {} } },
    } as unknown as FakeEvent);
  }
}

/**
 * A paid trip whose delivery is lost, then scheduled runs (15 minutes apart) on a cursor that stood two hours back,
 * until it is booked or `runs` have gone by; each run's outcome and where it left the cursor.
 */
async function sweepUntilBooked(options: { before: (now: number) => void; pageMs: number; runs: number }) {
  const store = testStore();
  const trip = await checkedOutTrip(store, fake);
  const now = Math.floor(Date.now() / 1000);
  options.before(now);
  fake.dropNextDeliveries(1);
  await trip.pay();
  const cursor = uniqueId('cursor');
  await store.moveEventCursor({ source: cursor, resumeAt: now - 7_200, mode: 'test', updatedAt: new Date().toISOString() });

  const runs: { resumeAt: number | undefined; failure?: string; pages: number }[] = [];
  for (let run = 0; run < options.runs && (await trip.trip())?.status !== 'booked'; run++) {
    let spent = 0;
    let pages = 0;
    const deadline: CallDeadline = {
      timeLeft: () => {
        const left = RUN_MS - spent;
        spent += options.pageMs;
        pages++;
        return left;
      },
    };
    const sweep = testReconciler(fake, store, {
      cursor,
      clock: minutesLater(10 + run * 15),
      events: new StripeEventSource(async () => fake.client(), deadline),
    });
    const failure = await sweep.run(undefined, { getRemainingTimeInMillis: () => RUN_MS - spent }).then(
      () => undefined,
      (error: unknown) => (error instanceof ReconciliationStoppedError ? error.message : String(error)),
    );
    runs.push({ resumeAt: (await store.getEventCursor(cursor))?.resumeAt, pages, ...(failure !== undefined && { failure }) });
  }
  return { status: (await trip.trip())?.status, runs };
}

describe('a window of the sweep denser than a run can list', () => {
  it('5,000 events in the hour before the payment, 5 s a page: narrowed where a run could not list or process its window, booked within a few runs, none alarming', {
    timeout: 180_000,
  }, async () => {
    // Listed whole, the hour's window takes 51 pages: more than a run has time for.
    const { status, runs } = await sweepUntilBooked({ before: (now) => otherEvents(5_000, now - 3_600, 3_500), pageMs: 5_000, runs: 8 });

    expect(status).toBe('booked');
    expect(runs.length).toBeLessThan(8);
    expect(runs.filter((run) => run.failure !== undefined)).toEqual([]);
    // A run that gets nowhere learns a narrower width instead (no alarm); the cursor never goes back.
    for (const [index, run] of runs.entries()) if (index > 0) expect(run.resumeAt).toBeGreaterThanOrEqual(runs[index - 1]?.resumeAt ?? 0);
    expect(runs.at(-1)?.resumeAt).toBeGreaterThan(runs[0]?.resumeAt ?? 0);
  });

  it('a burst of 2,000 in a minute on a quiet account (one event a minute), 3 s a page: booked in the first run', { timeout: 180_000 }, async () => {
    const { status, runs } = await sweepUntilBooked({
      before: (now) => {
        otherEvents(2_000, now - 3_600, 60);
        otherEvents(540, now - 8 * 3_600, 9 * 3_600);
      },
      pageMs: 3_000,
      runs: 4,
    });

    expect(status).toBe('booked');
    expect(runs).toHaveLength(1);
    expect(runs[0]?.failure).toBeUndefined();
  });

  it('Stripe too slow for a run to list even narrowed windows (30 s a page): the first run narrows them, and once runs get nowhere they fail as making no progress, so it alarms', {
    timeout: 180_000,
  }, async () => {
    const { status, runs } = await sweepUntilBooked({ before: (now) => otherEvents(1_500, now - 3_600, 3_500), pageMs: 30_000, runs: 4 });

    expect(status).toBe('pending_payment');
    const noProgress = 'The reconciliation sweep made no progress in its run';
    expect(runs[0]?.failure).toBeUndefined();
    expect(runs.at(-1)).toMatchObject({ failure: noProgress, resumeAt: runs.at(-2)?.resumeAt });
  });
});
