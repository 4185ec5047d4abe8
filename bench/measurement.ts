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
  const run = await timedPool(jobs, concurrency, work);
  return statsOf(jobs.length, run.seconds, run.latencies);
}

async function timedPool<T>(jobs: readonly T[], concurrency: number, work: (job: T) => Promise<void>): Promise<{ seconds: number; latencies: number[] }> {
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
  return { seconds: (performance.now() - started) / 1000, latencies };
}

function statsOf(count: number, seconds: number, latencies: number[]): RunStats {
  latencies.sort((a, b) => a - b);
  return { count, seconds, perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/**
 * Runs each side's jobs in `blocks` turns, the sides taking turns block by block (in reverse order every other block),
 * so that both meet the same machine: a background load that comes and goes, a JVM warming up or a table growing falls
 * on both alike instead of on whichever side ran second. Each side's figures are over all of its blocks.
 */
export async function runInTurns<T>(
  sides: readonly { readonly name: string; readonly jobs: readonly T[]; readonly work: (job: T) => Promise<void> }[],
  concurrency: number,
  blocks: number,
): Promise<Record<string, RunStats>> {
  const runs = sides.map(() => ({ seconds: 0, latencies: [] as number[] }));
  const indexed = [...sides.entries()];
  for (let block = 0; block < blocks; block++) {
    for (const [index, side] of block % 2 === 0 ? indexed : [...indexed].reverse()) {
      const size = Math.ceil(side.jobs.length / blocks);
      const run = await timedPool(side.jobs.slice(block * size, (block + 1) * size), concurrency, side.work);
      const total = runs[index]!;
      total.seconds += run.seconds;
      total.latencies.push(...run.latencies);
    }
  }
  return Object.fromEntries(sides.map((side, index) => [side.name, statsOf(side.jobs.length, runs[index]!.seconds, runs[index]!.latencies)]));
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
