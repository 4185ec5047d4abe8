// `npm run bench:c1`: where the handler's time over the floor goes at C=1 — in DynamoDB Local, or in Node — measured with the sides taking turns.
import { performance } from 'node:perf_hooks';
import type { Trip } from '../lambdas/shared/domain/model';
import { bareTransaction } from './floor';
import { percentile, withQuietStdout } from './measurement';
import { BENCH_TABLE, type BenchSystem, startBenchSystem } from './system-under-test';
import { warmUp } from './workloads';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Confirmations per side in each part. */
const TRIPS = Number(process.argv[2] ?? 2_000);

type Side = 'handler' | 'floor';

interface SideFigures {
  /** Wall time per confirmation, median and mean, ms. */
  readonly p50: number;
  readonly mean: number;
  /** This process's CPU (user + system) per confirmation, ms. */
  readonly cpu: number;
  /** Mean wall time before the transaction is handed to the SDK, inside the SDK's send (the request to DynamoDB Local and its answer), and after, ms. */
  readonly before: number;
  readonly send: number;
  readonly after: number;
}

/** When the last DynamoDB request was handed to the SDK, and when the SDK answered it (performance.now()). */
const lastSend = { start: 0, end: 0 };

/** Times every request from the outermost step of the SDK's middleware stack, so the split holds for both sides alike. */
function timeEachSend(system: BenchSystem): void {
  system.client.middlewareStack.add(
    (next) => async (args) => {
      lastSend.start = performance.now();
      try {
        return await next(args);
      } finally {
        lastSend.end = performance.now();
      }
    },
    { step: 'initialize', priority: 'high', name: 'timeEachSend' },
  );
}

/**
 * Every trip of both sides, confirmation by confirmation in turns (in reverse order every other turn), so the machine's
 * drift falls on both alike; each confirmation's wall time and this process's CPU time are its own.
 */
async function inTurns(system: BenchSystem, trips: Record<Side, Trip[]>): Promise<Record<Side, SideFigures>> {
  const wall: Record<Side, number[]> = { handler: [], floor: [] };
  const cpu: Record<Side, number> = { handler: 0, floor: 0 };
  const parts: Record<Side, { before: number; send: number; after: number }> = {
    handler: { before: 0, send: 0, after: 0 },
    floor: { before: 0, send: 0, after: 0 },
  };
  await withQuietStdout(async () => {
    for (let index = 0; index < TRIPS; index++) {
      for (const side of (index % 2 === 0 ? ['handler', 'floor'] : ['floor', 'handler']) as Side[]) {
        const trip = trips[side][index] as Trip;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        if (side === 'handler') await system.deliver(trip);
        else await bareTransaction(system.client, BENCH_TABLE, trip);
        const t1 = performance.now();
        const used = process.cpuUsage(cpu0);
        wall[side].push(t1 - t0);
        cpu[side] += (used.user + used.system) / 1000;
        // Each confirmation of either side makes one request (the bench's request counts check it for the handler).
        parts[side].before += lastSend.start - t0;
        parts[side].send += lastSend.end - lastSend.start;
        parts[side].after += t1 - lastSend.end;
      }
    }
  });
  const figures = (side: Side): SideFigures => {
    const sorted = wall[side].sort((a, b) => a - b);
    const { before, send, after } = parts[side];
    return {
      p50: percentile(sorted, 50),
      mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
      cpu: cpu[side] / TRIPS,
      before: before / TRIPS,
      send: send / TRIPS,
      after: after / TRIPS,
    };
  };
  return { handler: figures('handler'), floor: figures('floor') };
}

async function tripsOfBothSides(system: BenchSystem): Promise<Record<Side, Trip[]>> {
  const slot = await system.newSlot(2 * TRIPS);
  return {
    handler: await system.newTrips(TRIPS, () => [{ slot, guests: 1 }], true),
    floor: await system.newTrips(TRIPS, () => [{ slot, guests: 1 }], true),
  };
}

const system = await startBenchSystem();
try {
  timeEachSend(system);
  await warmUp(system);
  const real = await inTurns(system, await tripsOfBothSides(system));
  // The same code with every DynamoDB request answered by a middleware in front of the network: Node's own work, run hot.
  const trips = await tripsOfBothSides(system);
  system.client.middlewareStack.add(() => async () => ({ output: { $metadata: {} }, response: {} }) as never, {
    step: 'finalizeRequest',
    priority: 'low',
    name: 'answeredWithoutDynamoDb',
  });
  const hot = await inTurns(system, trips);

  const f = (value: number) => value.toFixed(3);
  const wallMore = real.handler.mean - real.floor.mean;
  const cpuMore = real.handler.cpu - real.floor.cpu;
  console.log(`C=1, ${TRIPS} confirmations per side, in turns (ms per confirmation):`);
  console.log(`  wall p50      handler ${f(real.handler.p50)}  floor ${f(real.floor.p50)}  ratio ${(real.handler.p50 / real.floor.p50).toFixed(3)}`);
  console.log(
    `  wall mean     handler ${f(real.handler.mean)}  floor ${f(real.floor.mean)}  ratio ${(real.handler.mean / real.floor.mean).toFixed(3)}  (+${f(wallMore)})`,
  );
  console.log(`  Node CPU      handler ${f(real.handler.cpu)}  floor ${f(real.floor.cpu)}  (+${f(cpuMore)})`);
  console.log(`  the rest, mostly DynamoDB Local: +${f(wallMore - cpuMore)}`);
  const part = (name: 'before' | 'send' | 'after') => `${f(real.handler[name])} vs ${f(real.floor[name])} (+${f(real.handler[name] - real.floor[name])})`;
  console.log(`  wall mean before the request ${part('before')}, in the SDK's send ${part('send')}, after it ${part('after')}`);
  console.log(`  Node CPU hot, no network: handler ${f(hot.handler.cpu)}  floor ${f(hot.floor.cpu)}  (+${f(hot.handler.cpu - hot.floor.cpu)})`);
} finally {
  await system.stop();
}
