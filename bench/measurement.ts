// Measuring a workload: latency percentiles, a pool of concurrent workers timing each job, and stdout kept quiet meanwhile.
import { performance } from 'node:perf_hooks';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export interface RunStats {
  readonly count: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs `jobs` with `concurrency` workers; each job's latency is its own wall time. */
export async function runPool<T>(jobs: readonly T[], concurrency: number, work: (job: T) => Promise<void>): Promise<RunStats> {
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
export async function withQuietStdout<T>(run: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await run();
  } finally {
    process.stdout.write = write;
  }
}
