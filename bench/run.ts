// `npm run bench`: what a confirmation costs through the real webhook handler, against bare transactions (the floor), in one run.
import { performance } from 'node:perf_hooks';
import { bundlesAndColdStart } from './cold-start';
import { BenchReport } from './report';
import { startBenchSystem } from './system-under-test';
import { hotSlot, largeTrip, lastSeat, requestCosts, spread, warmUp } from './workloads';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const BENCH_DIR = import.meta.dirname ?? 'bench';

const system = await startBenchSystem();
const report = new BenchReport();

const started = performance.now();
async function step(name: string, run: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await run();
  console.error(`[bench] ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
try {
  await step('warm-up (not reported)', () => warmUp(system));
  await step('last-seat', () => lastSeat(system, report));
  for (const concurrency of [1, 8, 32]) await step(`hot-slot C=${concurrency}`, () => hotSlot(system, report, concurrency));
  await step('spread', () => spread(system, report));
  await step('large trip', () => largeTrip(system, report));
  await step('request costs', () => requestCosts(system, report));
  await step('bundles and cold start', () => bundlesAndColdStart(report, BENCH_DIR, system));
} finally {
  await system.stop();
}
report.finish((performance.now() - started) / 1000, BENCH_DIR);
