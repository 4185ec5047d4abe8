// The reconciliation sweep on a busy Stripe account: other products' events of the same types fill a window with more
// than one run can list, and a payment whose delivery was lost is still booked, the cursor moving run after run.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallDeadline } from '../../lambdas/shared/invocation-deadline';
import { StripeEventSource } from '../../lambdas/shared/stripe/stripe-gateway';
import { startStripeFake, type FakeEvent, type StripeFake } from '../../scripts/local/stripe-fake';
import { checkedOutTrip } from '../support/checked-out';
import { minutesLater, testReconciler } from '../support/reconciler';
import { testStore, uniqueId } from '../support/store';

let fake: StripeFake;
beforeEach(async () => {
  fake = await startStripeFake();
});
afterEach(() => fake.close());

/** A run's time (the stack's timeout) as modelled here: every page Stripe is asked for takes 5 seconds of it (a slow day). */
const RUN_MS = 240_000;
const PAGE_MS = 5_000;
/** Another product's abandoned carts in the hour before the payment: more pages (100 events each) than a run has time for. */
const OTHER_EVENTS = 5_000;

describe('a window of the sweep denser than a run can list', () => {
  it('books the payment whose delivery was lost, within a few runs, each one moving the cursor on', { timeout: 180_000 }, async () => {
    const store = testStore();
    const trip = await checkedOutTrip(store, fake);
    const now = Math.floor(Date.now() / 1000);
    for (let index = 0; index < OTHER_EVENTS; index++) {
      fake.events.push({
        id: `evt_other_${index}_${uniqueId('o')}`,
        object: 'event',
        type: 'checkout.session.expired',
        created: now - 3_600 + Math.floor((index * 3_500) / OTHER_EVENTS),
        livemode: false,
        pending_webhooks: 0,
        data: { object: { id: `cs_other_${index}`, object: 'checkout.session', metadata: {} } },
      } as unknown as FakeEvent);
    }
    fake.dropNextDeliveries(1);
    await trip.pay();
    // The sweep ran an hour before they began, and found nothing since.
    const cursor = uniqueId('cursor');
    await store.moveEventCursor({ source: cursor, resumeAt: now - 7_200, mode: 'test', updatedAt: new Date().toISOString() });

    const runs: { listed: number; resumeAt: number | undefined }[] = [];
    for (let run = 0; run < 8 && (await trip.trip())?.status !== 'booked'; run++) {
      let spent = 0;
      const deadline: CallDeadline = {
        timeLeft: () => {
          const left = RUN_MS - spent;
          spent += PAGE_MS;
          return left;
        },
      };
      const sweep = testReconciler(fake, store, {
        cursor,
        clock: minutesLater(10 + run * 15),
        events: new StripeEventSource(async () => fake.client(), deadline),
      });
      const summary = await sweep.run(undefined, { getRemainingTimeInMillis: () => RUN_MS - spent });
      runs.push({ listed: summary.listed, resumeAt: (await store.getEventCursor(cursor))?.resumeAt });
    }

    expect((await trip.trip())?.status).toBe('booked');
    expect(runs.length).toBeLessThan(8);
    // Every run got somewhere: the cursor moved each time.
    for (const [index, run] of runs.entries()) if (index > 0) expect(run.resumeAt).toBeGreaterThan(runs[index - 1]?.resumeAt ?? 0);
  });
});
