// Which Lambda memory size minimises cost × latency of a confirmation, from the CPU time the bench measures per confirmation.

/** Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB (Lambda's "memory and computing power"). */
export const FULL_VCPU_MB = 1769;

/** Lambda on arm64, first pricing tier (the same in eu-west-1 as in us-east-1); the init phase is billed like the rest. */
export const LAMBDA_PRICE = { perGbSecond: 0.0000133334, perRequest: 0.0000002 } as const;

/** The sizes weighed: Lambda's minimum, the usual steps, one full vCPU, and beyond it (a second vCPU a single thread cannot use). */
export const MEMORY_SIZES_MB = [128, 256, 512, 768, 1024, 1280, 1536, 1769, 2048, 3008] as const;

export interface Work {
  /** CPU milliseconds at one full vCPU: what the bench measures on one core of this machine. */
  readonly cpuMs: number;
  /** Milliseconds spent waiting on the network, which memory does not shorten. */
  readonly ioMs: number;
}

export interface Estimate {
  readonly memoryMb: number;
  readonly durationMs: number;
  readonly costUsd: number;
  /** Dollars × seconds: the figure to minimise. */
  readonly costTimesLatency: number;
}

export function estimate(memoryMb: number, work: Work): Estimate {
  // Below one vCPU the function gets that share of one; above, the extra vCPU sits idle for single-threaded Node.
  const cpuShare = Math.min(1, memoryMb / FULL_VCPU_MB);
  const durationMs = work.cpuMs / cpuShare + work.ioMs;
  const costUsd = (memoryMb / 1024) * (Math.ceil(durationMs) / 1000) * LAMBDA_PRICE.perGbSecond + LAMBDA_PRICE.perRequest;
  return { memoryMb, durationMs, costUsd, costTimesLatency: costUsd * (durationMs / 1000) };
}

/** Every size's estimate for `work`, and the size whose cost × latency is least. */
export function bestMemorySize(work: Work): { best: Estimate; all: Estimate[] } {
  const all = MEMORY_SIZES_MB.map((memoryMb) => estimate(memoryMb, work));
  const best = all.reduce((a, b) => (b.costTimesLatency < a.costTimesLatency ? b : a));
  return { best, all };
}
