// `npm run bench`: what a confirmation costs through the real webhook handler, against bare transactions (the floor), in one run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { BatchWriteCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import { randomIds } from '../lambdas/shared/domain/collaborators';
import type { Slot, Trip } from '../lambdas/shared/domain/model';
import { MAX_TRIP_ITEMS } from '../lambdas/shared/domain/trip-input';
import { createDocumentClient } from '../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../lambdas/shared/dynamodb/dynamodb-booking-store';
import { auditItem, bookingItem, keys, processedEventItem, tripItem } from '../lambdas/shared/dynamodb/items';
import type { StripeWebhookHandler } from '../lambdas/stripe-webhook/webhook-handler';
import { startDynamoDbLocalWithTable } from '../scripts/dev-kit/booking-table';
import { createLocalWebhookHandler } from '../scripts/dev-kit/local-webhook-handler';
import { startStripeFake } from '../scripts/local/stripe-fake';
import { injectFaults } from '../scripts/dev-kit/faults';
import { checkoutSession, SIGNING_SECRET, signedRequest, stripeEvent } from '../scripts/dev-kit/stripe-events';
import { seededRandom } from '../scripts/dev-kit/seeded-random';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const TABLE = 'bench';
const BENCH_DIR = import.meta.dirname ?? 'bench';

// ---------- measurement helpers ----------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

interface RunStats {
  readonly count: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs `jobs` with `concurrency` workers; each job's latency is its own wall time. */
async function runPool<T>(jobs: readonly T[], concurrency: number, work: (job: T) => Promise<void>): Promise<RunStats> {
  const latencies: number[] = [];
  const queue = [...jobs];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        const t0 = performance.now();
        await work(job);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { count: jobs.length, seconds, perSecond: jobs.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Lambda ships log lines asynchronously; here they are formatted as in production and then dropped. */
async function withQuietStdout<T>(run: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await run();
  } finally {
    process.stdout.write = write;
  }
}

// ---------- the system under test ----------

const dynamo = await startDynamoDbLocalWithTable(TABLE);
const client = createDocumentClient({ endpoint: dynamo.endpoint });
const counter = injectFaults(client); // no faults queued: it only counts requests per command
let retries = 0;
const store = new DynamoDbBookingStore({ client, tableName: TABLE, retryObserver: { onRetry: () => void retries++ } });
const fake = await startStripeFake({ acceptUnknownPaymentIntents: true });
const handler: StripeWebhookHandler = createLocalWebhookHandler({
  store,
  stripeClient: () => fake.client(),
  signingSecrets: async () => [SIGNING_SECRET],
  mode: 'test',
  logger: new Logger({ serviceName: 'bench', logLevel: 'INFO' }),
  metrics: new Metrics({ namespace: 'bench', serviceName: 'bench' }),
});

let slotSequence = 0;
async function newSlot(capacity: number): Promise<Slot> {
  const slot: Slot = {
    slotId: `bench-slot-${slotSequence++}`,
    experienceId: 'bench-experience',
    date: '2027-01-01',
    time: '10:00',
    capacity,
    availableCount: capacity,
    isBlocked: false,
    priceAmount: 1_000,
    currency: 'eur',
    updatedAt: new Date().toISOString(),
  };
  await store.putSlot(slot);
  return slot;
}

let tripSequence = 0;
/**
 * Pending trips as createTrip would store them, written 25 to a batch: setting up thousands of trips is not
 * what is measured, and one use-case call each would take longer than the workloads.
 */
async function newTrips(count: number, itemsOf: (index: number) => { slot: Slot; guests: number }[]): Promise<Trip[]> {
  const now = new Date().toISOString();
  const trips: Trip[] = Array.from({ length: count }, (_, index) => {
    const parts = itemsOf(index);
    const itemAmounts = parts.map(({ slot, guests }) => slot.priceAmount * guests);
    return {
      tripId: `bench-trip-${tripSequence++}`,
      userId: `bench-user-${index}`,
      items: parts.map(({ slot, guests }) => ({ experienceId: slot.experienceId, slotId: slot.slotId, guestCount: guests, date: slot.date, time: slot.time })),
      amount: itemAmounts.reduce((a, b) => a + b, 0),
      itemAmounts,
      currency: 'eur',
      status: 'pending_payment',
      bookingReferences: [],
      createdAt: now,
      updatedAt: now,
    };
  });
  const batches = Array.from({ length: Math.ceil(count / 25) }, (_, i) => trips.slice(i * 25, i * 25 + 25));
  await runPool(batches, 8, async (batch) => {
    let pending: Record<string, unknown>[] = batch.map((trip) => ({ PutRequest: { Item: tripItem(trip) } }));
    while (pending.length > 0) {
      const result = await client.send(new BatchWriteCommand({ RequestItems: { [TABLE]: pending as never } }));
      pending = (result.UnprocessedItems?.[TABLE] ?? []) as Record<string, unknown>[];
    }
  });
  return trips;
}

let paymentSequence = 0;
/** Through the handler: a signed checkout.session.completed in an API Gateway v2 event. */
async function deliver(trip: Trip): Promise<string> {
  const event = stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: `pi_bench${paymentSequence++}` }));
  const response = await handler(signedRequest(event));
  if (response.statusCode !== 200) throw new Error(`webhook answered ${response.statusCode}`);
  return (JSON.parse(response.body ?? '{}') as { outcome: string }).outcome;
}

/** The floor: the same writes as one bare TransactWriteItems, without handler, verification, validation or logs. */
async function bareTransaction(documentClient: DynamoDBDocumentClient, trip: Trip): Promise<boolean> {
  const at = new Date().toISOString();
  const paymentId = `pi_floor${paymentSequence++}`;
  const guestsBySlot = new Map<string, number>();
  for (const item of trip.items) guestsBySlot.set(item.slotId, (guestsBySlot.get(item.slotId) ?? 0) + item.guestCount);
  const bookings = trip.items.map((item) => ({ ...item, bookingId: randomIds.uuid(), reference: randomIds.reference(), tripId: trip.tripId, userId: trip.userId, paymentId, status: 'confirmed' as const, createdAt: at }));
  try {
    await documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          ...[...guestsBySlot].map(([slotId, guests]) => ({
            Update: {
              TableName: TABLE,
              Key: keys.slot(slotId),
              UpdateExpression: 'SET availableCount = availableCount - :n',
              ConditionExpression: 'attribute_exists(pk) AND isBlocked <> :t AND availableCount >= :n',
              ExpressionAttributeValues: { ':n': guests, ':t': true },
            },
          })),
          ...bookings.map((booking) => ({ Put: { TableName: TABLE, Item: bookingItem(booking), ConditionExpression: 'attribute_not_exists(pk)' } })),
          ...bookings.map((booking) => ({
            Put: {
              TableName: TABLE,
              Item: auditItem({ auditId: randomIds.uuid(), eventType: 'booking.confirmed', entityType: 'booking', entityId: booking.reference, actorType: 'system', occurredAt: at, metadata: { paymentId } }),
            },
          })),
          {
            Update: {
              TableName: TABLE,
              Key: keys.trip(trip.tripId),
              UpdateExpression: 'SET #s = :booked, paymentId = :p',
              ConditionExpression: '#s = :pending',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':booked': 'booked', ':pending': 'pending_payment', ':p': paymentId },
            },
          },
          { Put: { TableName: TABLE, Item: processedEventItem({ eventId: `evt_${paymentId}`, eventType: 'floor', outcome: 'booked', references: [], processedAt: at, expiresAt: 0 }) } },
        ],
      }),
    );
    return true;
  } catch (error) {
    if ((error as { name?: string }).name === 'TransactionCanceledException') return false;
    throw error;
  }
}

async function slotState(slot: Slot) {
  const now = (await store.getSlots([slot.slotId])).get(slot.slotId);
  const confirmed = (await store.listBookingsOfSlot(slot.slotId)).filter((booking) => booking.status === 'confirmed');
  const guests = confirmed.reduce((sum, booking) => sum + booking.guestCount, 0);
  return { left: now?.availableCount, bookings: confirmed.length, oversold: Math.max(0, guests - slot.capacity) };
}

// ---------- workloads ----------

/**
 * Which side runs first alternates from workload to workload, so neither always meets a JVM the other has
 * just warmed up (or a table the other has just grown).
 */
let workloadIndex = 0;
function sides(): readonly ('handler' | 'floor')[] {
  return workloadIndex++ % 2 === 0 ? ['handler', 'floor'] : ['floor', 'handler'];
}

/** DynamoDB Local is a JVM: the first thousands of requests run colder than the rest. */
async function warmUp(): Promise<void> {
  const slot = await newSlot(600);
  const trips = await newTrips(600, () => [{ slot, guests: 1 }]);
  await withQuietStdout(() => runPool(trips, 8, async (trip) => void ((trip.userId.endsWith('0') || trip.userId.endsWith('5')) ? await bareTransaction(client, trip) : await deliver(trip))));
}

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: 2 };
const table: string[][] = [];
const ms = (value: number): string => value.toFixed(1);
const row = (...cells: (string | number)[]): void => void table.push(cells.map(String));

async function lastSeat(): Promise<void> {
  for (const mode of sides()) {
    const successes: number[] = [];
    const roundMs: number[] = [];
    for (let round = 0; round < 20; round++) {
      const slot = await newSlot(1);
      const trips = await newTrips(10, () => [{ slot, guests: 1 }]);
      let release!: () => void;
      const barrier = new Promise<void>((resolve) => (release = resolve));
      // All ten wait behind one barrier, so none gets a head start from being created first.
      const running = trips.map(async (trip) => {
        await barrier;
        return mode === 'handler' ? (await deliver(trip)) === 'booked' : bareTransaction(client, trip);
      });
      const t0 = performance.now();
      release();
      const outcomes = await withQuietStdout(() => Promise.all(running));
      roundMs.push(performance.now() - t0);
      successes.push(outcomes.filter(Boolean).length);
    }
    roundMs.sort((a, b) => a - b);
    results[`lastSeat.${mode}`] = { successesPerRound: successes, roundP50Ms: percentile(roundMs, 50), roundP99Ms: percentile(roundMs, 99) };
    row(`last-seat (${mode})`, '10', `${successes.every((n) => n === 1) ? 'all 1' : successes.join(',')} success/round`, '', ms(percentile(roundMs, 50)), ms(percentile(roundMs, 99)), '');
  }
}

async function hotSlot(concurrency: number): Promise<void> {
  const measured: Record<string, RunStats> = {};
  for (const mode of sides()) {
    const slot = await newSlot(2_000);
    const trips = await newTrips(2_000, () => [{ slot, guests: 1 }]);
    retries = 0;
    const stats = await withQuietStdout(() => runPool(trips, concurrency, async (trip) => void (mode === 'handler' ? await deliver(trip) : await bareTransaction(client, trip))));
    const state = await slotState(slot);
    measured[mode] = stats;
    results[`hotSlot.c${concurrency}.${mode}`] = { ...stats, retries, ...state };
    row(`hot-slot C=${concurrency} (${mode})`, String(concurrency), stats.perSecond.toFixed(0), '', ms(stats.p50), ms(stats.p99), `left ${state.left}, ${state.bookings} bookings, oversold ${state.oversold}, retries ${retries}`);
  }
  ratios(`hot-slot C=${concurrency}`, measured.handler!, measured.floor!);
}

async function spread(): Promise<void> {
  const slots = await Promise.all(Array.from({ length: 500 }, () => newSlot(60)));
  const random = seededRandom(42);
  const measured: Record<string, RunStats> = {};
  for (const mode of sides()) {
    const trips = await newTrips(3_000, () => {
      const picked = new Set<number>();
      while (picked.size < 3) picked.add(random.int(0, slots.length - 1));
      return [...picked].map((index) => ({ slot: slots[index] as Slot, guests: 1 }));
    });
    const stats = await withQuietStdout(() => runPool(trips, 32, async (trip) => void (mode === 'handler' ? await deliver(trip) : await bareTransaction(client, trip))));
    measured[mode] = stats;
    results[`spread.${mode}`] = stats;
    row(`spread 3 items/500 slots (${mode})`, '32', stats.perSecond.toFixed(0), '', ms(stats.p50), ms(stats.p99), '');
  }
  ratios('spread', measured.handler!, measured.floor!);
}

async function largeTrip(): Promise<void> {
  const measured: Record<string, RunStats> = {};
  for (const mode of sides()) {
    const slots = await Promise.all(Array.from({ length: MAX_TRIP_ITEMS }, () => newSlot(50)));
    const trips = await newTrips(40, () => slots.map((slot) => ({ slot, guests: 1 })));
    const stats = await withQuietStdout(() => runPool(trips, 1, async (trip) => void (mode === 'handler' ? await deliver(trip) : await bareTransaction(client, trip))));
    measured[mode] = stats;
    results[`largeTrip.${mode}`] = stats;
    row(`large trip, ${MAX_TRIP_ITEMS} items (${mode})`, '1', stats.perSecond.toFixed(0), '', ms(stats.p50), ms(stats.p99), '');
  }
  ratios(`large trip`, measured.handler!, measured.floor!);
}

function ratios(name: string, handler: RunStats, floor: RunStats): void {
  const value = { throughput: floor.perSecond / handler.perSecond, p50: handler.p50 / floor.p50, p99: handler.p99 / floor.p99 };
  results[`ratio.${name}`] = value;
  row(`  ratio handler/floor`, '', `${value.throughput.toFixed(2)}x slower`, '', `${value.p50.toFixed(2)}x`, `${value.p99.toFixed(2)}x`, '');
}

async function requestCosts(): Promise<void> {
  const count = async (run: () => Promise<unknown>) => {
    counter.calls.clear();
    await withQuietStdout(run);
    return Object.fromEntries(counter.calls);
  };
  const slot = await newSlot(5);
  const [trip] = await newTrips(1, () => [{ slot, guests: 1 }]);
  const event = stripeEvent('checkout.session.completed', checkoutSession(trip!, { paymentIntent: 'pi_bench_costs' }));
  const happy = await count(() => handler(signedRequest(event)));
  const duplicate = await count(() => handler(signedRequest(event)));
  const full = await newSlot(1);
  const [unlucky] = await newTrips(1, () => [{ slot: full, guests: 1 }]);
  await store.putSlot({ ...full, availableCount: 0 });
  const refund = await count(() => handler(signedRequest(stripeEvent('checkout.session.completed', checkoutSession(unlucky!, { paymentIntent: 'pi_bench_refund' })))));
  const total = (calls: Record<string, number>): number => Object.values(calls).reduce((a, b) => a + b, 0);
  results.requests = { happyPath: happy, duplicateDelivery: duplicate, refundPath: refund };
  row('DynamoDB requests: confirmation', '', String(total(happy)), '', '', '', JSON.stringify(happy));
  row('DynamoDB requests: duplicate', '', String(total(duplicate)), '', '', '', JSON.stringify(duplicate));
  row('DynamoDB requests: refund path', '', String(total(refund)), '', '', '', `${JSON.stringify(refund)} + 1 Stripe call`);

  // Capacity units: DynamoDB Local reports none for transactions, so they are computed. A transactional write
  // costs 2 units per started KB of each item, and every item here is under 1 KB; the payment ConditionCheck
  // is counted like a write too, which makes the figure an upper bound.
  const itemsPerConfirmation = (items: number, slots: number): number => slots + 2 * items + 3;
  const oneItem = itemsPerConfirmation(1, 1);
  const maxItems = itemsPerConfirmation(MAX_TRIP_ITEMS, MAX_TRIP_ITEMS);
  results.transactionItems = { oneItemTrip: oneItem, largestTrip: maxItems, capacityUnitsOneItem: 2 * oneItem, capacityUnitsLargest: 2 * maxItems };
  row('transaction items: 1-item trip', '', String(oneItem), '', '', '', `at most ${2 * oneItem} capacity units (2 per item under 1 KB)`);
  row(`transaction items: ${MAX_TRIP_ITEMS}-item trip`, '', String(maxItems), '', '', '', `at most ${2 * maxItems} capacity units`);
}

async function bundlesAndColdStart(): Promise<void> {
  const out = join(BENCH_DIR, '.tmp');
  mkdirSync(out, { recursive: true });
  for (const [name, entry] of [
    ['stripe-webhook', 'lambdas/stripe-webhook/handler.ts'],
    ['create-booking', 'lambdas/create-booking/handler.ts'],
  ] as const) {
    const outfile = join(out, `${name}.cjs`);
    // The options the CDK construct gives esbuild, but for the Node here (Lambda runs Node 24 on ARM64).
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: true, sourcemap: true, outfile, logLevel: 'error' });
    const initMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const probe = spawnSync(
        process.execPath,
        ['--enable-source-maps', '-e', `const t=process.hrtime.bigint();require(${JSON.stringify(resolve(outfile))});console.log(Number(process.hrtime.bigint()-t)/1e6)`],
        { env: { PATH: process.env.PATH, TABLE_NAME: 'bench', AWS_REGION: 'eu-west-1', STRIPE_API_KEY: 'sk_test_x', STRIPE_WEBHOOK_SECRETS: 'whsec_x', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, encoding: 'utf8' },
      );
      if (probe.status !== 0) throw new Error(`cold start probe failed: ${probe.stderr}`);
      initMs.push(Number(probe.stdout.trim()));
    }
    initMs.sort((a, b) => a - b);
    const bytes = statSync(outfile).size;
    results[`bundle.${name}`] = { bytes, coldInitMedianMs: percentile(initMs, 50), coldInitP90Ms: percentile(initMs, 90) };
    row(`bundle ${name}`, '', `${(bytes / 1024).toFixed(0)} KiB`, '', ms(percentile(initMs, 50)), '', 'cold init: import + clients, median of 20 fresh processes');
  }
}

// ---------- run and report ----------

const started = performance.now();
async function step(name: string, run: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await run();
  console.error(`[bench] ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
try {
  await step('warm-up (not reported)', warmUp);
  await step('last-seat', lastSeat);
  for (const concurrency of [1, 8, 32]) await step(`hot-slot C=${concurrency}`, () => hotSlot(concurrency));
  await step('spread', spread);
  await step('large trip', largeTrip);
  await step('request costs', requestCosts);
  await step('bundles and cold start', bundlesAndColdStart);
} finally {
  await fake.close();
  store.destroy();
  await dynamo.stop();
}
results.totalSeconds = (performance.now() - started) / 1000;

const header = ['workload', 'C', 'per second / result', '', 'p50 ms', 'p99 ms', 'notes'];
const widths = header.map((_, column) => Math.max(...[header, ...table].map((cells) => (cells[column] ?? '').length)));
const lines = [header, header.map((_, i) => '-'.repeat(widths[i] ?? 0)), ...table].map((cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`);
console.log(lines.join('\n'));
console.log(`\nTotal ${(results.totalSeconds as number).toFixed(0)} s on Node ${process.version}; results in bench/results.json`);
writeFileSync(join(BENCH_DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
