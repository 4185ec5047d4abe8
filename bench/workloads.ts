// The workloads, each run through the handler and as the floor: the last seat, a hot slot, trips spread over many slots, the largest trip, and request costs.
import { performance } from 'node:perf_hooks';
import type { Slot, Trip } from '../lambdas/shared/domain/model';
import { MAX_TRIP_ITEMS } from '../lambdas/shared/domain/trip-input';
import { countConfirmationWrites } from '../lambdas/shared/dynamodb/transaction-items';
import { overwriteSlot } from '../scripts/dev-kit/overwrite-slot';
import { seededRandom } from '../scripts/dev-kit/seeded-random';
import { checkoutSession, signedRequest, stripeEvent } from '../scripts/dev-kit/stripe-events';
import { bareTransaction } from './floor';
import { percentile, runInTurns, runPool, withQuietStdout, type RunStats } from './measurement';
import { ms, type BenchReport } from './report';
import { BENCH_TABLE, type BenchSystem } from './system-under-test';

type Side = 'handler' | 'floor';

/**
 * Which side runs first alternates from workload to workload, so neither always meets a JVM the other has
 * just warmed up (or a table the other has just grown).
 */
let workloadIndex = 0;
function sides(): readonly Side[] {
  return workloadIndex++ % 2 === 0 ? ['handler', 'floor'] : ['floor', 'handler'];
}

/** One confirmation of `trip` by either side; true when it booked. */
async function confirm(system: BenchSystem, side: Side, trip: Trip): Promise<boolean> {
  return side === 'handler' ? (await system.deliver(trip)) === 'booked' : bareTransaction(system.client, BENCH_TABLE, trip);
}

/** DynamoDB Local is a JVM: the first thousands of requests run colder than the rest. */
export async function warmUp(system: BenchSystem): Promise<void> {
  const slot = await system.newSlot(600);
  const trips = await system.newTrips(600, () => [{ slot, guests: 1 }], true);
  await withQuietStdout(() =>
    runPool(trips, 8, async (trip) => void (await confirm(system, trip.userId.endsWith('0') || trip.userId.endsWith('5') ? 'floor' : 'handler', trip))),
  );
}

export async function lastSeat(system: BenchSystem, report: BenchReport): Promise<void> {
  for (const mode of sides()) {
    const successes: number[] = [];
    const roundMs: number[] = [];
    for (let round = 0; round < 20; round++) {
      const slot = await system.newSlot(1);
      const trips = await system.newTrips(10, () => [{ slot, guests: 1 }]);
      let release!: () => void;
      const barrier = new Promise<void>((resolve) => (release = resolve));
      // All ten wait behind one barrier, so none gets a head start from being created first.
      const running = trips.map(async (trip) => {
        await barrier;
        return confirm(system, mode, trip);
      });
      const t0 = performance.now();
      release();
      const outcomes = await withQuietStdout(() => Promise.all(running));
      roundMs.push(performance.now() - t0);
      successes.push(outcomes.filter(Boolean).length);
    }
    roundMs.sort((a, b) => a - b);
    report.record(`lastSeat.${mode}`, { successesPerRound: successes, roundP50Ms: percentile(roundMs, 50), roundP99Ms: percentile(roundMs, 99) });
    report.row(
      `last-seat (${mode})`,
      '10',
      `${successes.every((n) => n === 1) ? 'all 1' : successes.join(',')} success/round`,
      '',
      ms(percentile(roundMs, 50)),
      ms(percentile(roundMs, 99)),
      '',
    );
  }
}

/** Seats of a hot slot, and one-guest trips to sell them out, per side. */
const HOT_SLOT_TRIPS = 2_000;

export async function hotSlot(system: BenchSystem, report: BenchReport, concurrency: number): Promise<void> {
  const order = sides();
  const slots: Record<string, Slot> = {};
  const trips: Record<string, Trip[]> = {};
  for (const side of order) {
    slots[side] = await system.newSlot(HOT_SLOT_TRIPS);
    trips[side] = await system.newTrips(HOT_SLOT_TRIPS, () => [{ slot: slots[side]!, guests: 1 }], true);
  }
  system.retries.count = 0;
  // In turns, so that the two sides meet the same machine (see runInTurns): one buyer at a time takes turns
  // confirmation by confirmation, where a drift of the machine is least able to fall on one side; concurrent buyers
  // take turns in ten blocks of 200, each block long enough for its C buyers to overlap.
  const blocks = concurrency === 1 ? HOT_SLOT_TRIPS : 10;
  const measured = await withQuietStdout(() =>
    runInTurns(
      order.map((side) => ({ name: side, jobs: trips[side]!, work: async (trip: Trip) => void (await confirm(system, side, trip)) })),
      concurrency,
      blocks,
    ),
  );
  const retries = system.retries.count;
  for (const side of order) {
    const stats = measured[side]!;
    const state = await system.slotState(slots[side]!);
    report.record(`hotSlot.c${concurrency}.${side}`, { ...stats, ...(side === 'handler' && { retries }), ...state });
    report.row(
      `hot-slot C=${concurrency} (${side})`,
      String(concurrency),
      stats.perSecond.toFixed(0),
      '',
      ms(stats.p50),
      ms(stats.p99),
      `left ${state.left}, ${state.bookings} bookings, oversold ${state.oversold}${side === 'handler' ? `, retries ${retries}` : ''}`,
    );
  }
  report.ratios(`hot-slot C=${concurrency}`, measured.handler!, measured.floor!);
}

export async function spread(system: BenchSystem, report: BenchReport): Promise<void> {
  const slots = await Promise.all(Array.from({ length: 500 }, () => system.newSlot(60)));
  const random = seededRandom(42);
  const measured: Record<string, RunStats> = {};
  for (const mode of sides()) {
    const trips = await system.newTrips(
      3_000,
      () => {
        const picked = new Set<number>();
        while (picked.size < 3) picked.add(random.int(0, slots.length - 1));
        return [...picked].map((index) => ({ slot: slots[index] as Slot, guests: 1 }));
      },
      true,
    );
    const stats = await withQuietStdout(() => runPool(trips, 32, async (trip) => void (await confirm(system, mode, trip))));
    measured[mode] = stats;
    report.record(`spread.${mode}`, stats);
    report.row(`spread 3 items/500 slots (${mode})`, '32', stats.perSecond.toFixed(0), '', ms(stats.p50), ms(stats.p99), '');
  }
  report.ratios('spread', measured.handler!, measured.floor!);
}

export async function largeTrip(system: BenchSystem, report: BenchReport): Promise<void> {
  const measured: Record<string, RunStats> = {};
  for (const mode of sides()) {
    const slots = await Promise.all(Array.from({ length: MAX_TRIP_ITEMS }, () => system.newSlot(50)));
    const trips = await system.newTrips(40, () => slots.map((slot) => ({ slot, guests: 1 })), true);
    const stats = await withQuietStdout(() => runPool(trips, 1, async (trip) => void (await confirm(system, mode, trip))));
    measured[mode] = stats;
    report.record(`largeTrip.${mode}`, stats);
    report.row(`large trip, ${MAX_TRIP_ITEMS} items (${mode})`, '1', stats.perSecond.toFixed(0), '', ms(stats.p50), ms(stats.p99), '');
  }
  report.ratios(`large trip`, measured.handler!, measured.floor!);
}

export async function requestCosts(system: BenchSystem, report: BenchReport): Promise<void> {
  const { handler, requests: counter } = system;
  const count = async (run: () => Promise<unknown>) => {
    counter.calls.clear();
    await withQuietStdout(run);
    return Object.fromEntries(counter.calls);
  };
  const slot = await system.newSlot(5);
  const [trip] = await system.newTrips(1, () => [{ slot, guests: 1 }], true);
  const event = stripeEvent('checkout.session.completed', checkoutSession(trip!, { paymentIntent: 'pi_bench_costs' }));
  const happy = await count(() => handler(signedRequest(event)));
  const duplicate = await count(() => handler(signedRequest(event)));
  // A session opened before sessions carried their items: the trip is read first.
  const [older] = await system.newTrips(1, () => [{ slot, guests: 1 }]);
  const withoutItems = await count(() =>
    handler(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(older!, { paymentIntent: 'pi_bench_older', withItems: false })))),
  );
  const full = await system.newSlot(1);
  const [unlucky] = await system.newTrips(1, () => [{ slot: full, guests: 1 }]);
  await overwriteSlot(system.client, BENCH_TABLE, { ...full, availableCount: 0 });
  const refund = await count(() =>
    handler(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(unlucky!, { paymentIntent: 'pi_bench_refund' })))),
  );
  const total = (calls: Record<string, number>): number => Object.values(calls).reduce((a, b) => a + b, 0);
  report.record('requests', { happyPath: happy, duplicateDelivery: duplicate, sessionWithoutItems: withoutItems, refundPath: refund });
  report.row('DynamoDB requests: confirmation', '', String(total(happy)), '', '', '', JSON.stringify(happy));
  report.row('DynamoDB requests: duplicate', '', String(total(duplicate)), '', '', '', JSON.stringify(duplicate));
  report.row('DynamoDB requests: session without items', '', String(total(withoutItems)), '', '', '', JSON.stringify(withoutItems));
  report.row('DynamoDB requests: refund path', '', String(total(refund)), '', '', '', `${JSON.stringify(refund)} + 1 Stripe call`);

  // Capacity units: DynamoDB Local reports none for transactions, so they are computed. A transactional write
  // costs 2 units per started KB of each item, and every item here is under 1 KB. Counted for a trip checkout
  // held (its hold is one more item), each item on its own slot.
  const itemsOnOwnSlots = (count: number) => Array.from({ length: count }, (_, index) => ({ slotId: `slot-${index}` }));
  const oneItem = countConfirmationWrites(itemsOnOwnSlots(1));
  const maxItems = countConfirmationWrites(itemsOnOwnSlots(MAX_TRIP_ITEMS));
  report.record('transactionItems', { oneItemTrip: oneItem, largestTrip: maxItems, capacityUnitsOneItem: 2 * oneItem, capacityUnitsLargest: 2 * maxItems });
  report.row('transaction items: 1-item trip', '', String(oneItem), '', '', '', `at most ${2 * oneItem} capacity units (2 per item under 1 KB)`);
  report.row(`transaction items: ${MAX_TRIP_ITEMS}-item trip`, '', String(maxItems), '', '', '', `at most ${2 * maxItems} capacity units`);
}
