// Bundle sizes and cold starts of the Lambda entry points: bundled as the stack bundles them and, beside them, as the
// reference commit bundled them; each loaded in fresh Node processes, the variants taking turns, in one run.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import type { Trip } from '../lambdas/shared/domain/model';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lambdas/shared/observability-contract';
import { ENTRY_NAME } from '../lib/bundling';
import { bundleFunction, loadedWithEntry } from '../lib/function-bundle';
import { checkoutSession, SIGNING_SECRET, signedRequest, stripeEvent } from '../scripts/dev-kit/stripe-events';
import { percentile } from './measurement';
import { bestMemorySize, FULL_VCPU_MB, type Estimate } from './memory-model';
import { ms, type BenchReport } from './report';
import { startSecretsManagerStandIn } from '../scripts/dev-kit/secrets-manager-stand-in';
import { BENCH_TABLE, type BenchSystem } from './system-under-test';

/** The commit the cold-start work started from: CommonJS, one file per function, NODE_OPTIONS=--enable-source-maps. */
export const REFERENCE_COMMIT = '332767f1a390a9aa0e18ef69a21f65c99323296b';
const PROBES = 20;
/** Deliveries after the first in each webhook probe: a warm function's CPU time per confirmation. */
const WARM_DELIVERIES = 10;
/**
 * Network waits in AWS, which memory does not shorten. Assumed, not measured here: two DynamoDB requests in the region
 * at about 5 ms each; a cold start adds the Secrets Manager read and a TLS handshake with each of the two services.
 */
const AWS_IO_MS = { warm: 10, cold: 60 } as const;

const FUNCTIONS = [
  { name: 'stripe-webhook', entry: 'lambdas/stripe-webhook/handler.ts', delivers: true },
  { name: 'create-booking', entry: 'lambdas/create-booking/handler.ts', delivers: false },
] as const;
type FunctionName = (typeof FUNCTIONS)[number]['name'];

interface Built {
  /** The file Lambda loads: index.mjs, or the reference's single CommonJS file. */
  readonly bundle: string;
  readonly loadedAtInit: readonly string[];
  readonly files: readonly string[];
  readonly metafile: Metafile;
  /** The metafile's names of the outputs loaded at init. */
  readonly initOutputs: readonly string[];
}

interface Variant {
  readonly key: string;
  readonly label: string;
  readonly fn: (typeof FUNCTIONS)[number];
  readonly built: Built;
  readonly nodeOptions?: string;
}

interface Probe {
  readonly initMs: number;
  readonly initCpuMs: number;
  readonly deliveries: { ms: number; cpuMs: number; statusCode: number; outcome?: string }[];
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
const median = (values: readonly number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

export async function bundlesAndColdStart(report: BenchReport, benchDir: string, system: BenchSystem): Promise<void> {
  const projectRoot = resolve(benchDir, '..');
  const tmp = join(benchDir, '.tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });

  const current = new Map<FunctionName, Built>();
  for (const fn of FUNCTIONS) {
    const outdir = join(tmp, 'current', fn.name);
    const bundle = bundleFunction({ entry: fn.entry, outdir, projectRoot });
    current.set(fn.name, { ...bundle, bundle: join(outdir, `${ENTRY_NAME}.mjs`), initOutputs: loadedWithEntry(bundle.metafile, fn.entry) });
  }
  const reference = await buildReference(projectRoot, tmp);

  for (const fn of FUNCTIONS) recordSizes(report, fn.name, current.get(fn.name) as Built, reference?.get(fn.name));

  const variants: Variant[] = FUNCTIONS.flatMap((fn) => [
    ...(reference
      ? [
          {
            key: 'before',
            label: 'before, as deployed (--enable-source-maps)',
            fn,
            built: reference.get(fn.name) as Built,
            nodeOptions: '--enable-source-maps',
          },
          { key: 'beforeWithoutSourceMaps', label: 'before, without --enable-source-maps', fn, built: reference.get(fn.name) as Built },
        ]
      : []),
    { key: 'after', label: 'after, as deployed (no flag)', fn, built: current.get(fn.name) as Built },
    { key: 'afterWithSourceMaps', label: 'after, with --enable-source-maps', fn, built: current.get(fn.name) as Built, nodeOptions: '--enable-source-maps' },
  ]);
  const probes = await runProbes(variants, system, tmp);

  for (const fn of FUNCTIONS) {
    const ofFunction = variants.filter((variant) => variant.fn === fn);
    for (const variant of ofFunction) recordProbes(report, variant, probes.get(variant) ?? []);
    const before = probes.get(ofFunction.find((variant) => variant.key === 'before') as Variant);
    const after = probes.get(ofFunction.find((variant) => variant.key === 'after') as Variant) ?? [];
    if (before) {
      const initRatio = median(after.map((probe) => probe.initMs)) / median(before.map((probe) => probe.initMs));
      const cold = (probe: Probe): number => probe.initMs + (probe.deliveries[0]?.ms ?? 0);
      const coldRatio = fn.delivers ? median(after.map(cold)) / median(before.map(cold)) : undefined;
      report.record(`coldStart.${fn.name}.ratio`, { initMedian: initRatio, ...(coldRatio !== undefined && { initAndFirstConfirmationMedian: coldRatio }) });
      report.row(
        `  ratio after/before ${fn.name}`,
        '',
        '',
        '',
        `${initRatio.toFixed(2)}x`,
        '',
        coldRatio === undefined ? 'cold init' : `cold init; init + first confirmation ${coldRatio.toFixed(2)}x`,
      );
    }
    if (fn.delivers) recordMemoryModel(report, after);
  }
}

/**
 * The reference commit's functions, bundled with that commit's own settings from its sources (git archive, so the
 * working tree is never touched). Undefined where the history is missing (a shallow clone): the rows are then left out.
 */
async function buildReference(projectRoot: string, tmp: string): Promise<Map<FunctionName, Built> | undefined> {
  // Inside the project, so that its imports resolve to this node_modules, the very packages the current bundles use.
  const sources = join(tmp, 'reference-src');
  mkdirSync(sources, { recursive: true });
  try {
    const archive = execFileSync('git', ['-C', projectRoot, 'archive', REFERENCE_COMMIT, 'lambdas', 'lib/bundling.ts'], { maxBuffer: 64 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', sources], { input: archive });
  } catch (error) {
    console.error(`[bench] reference ${REFERENCE_COMMIT.slice(0, 7)} not available (${(error as Error).message.split('\n')[0]}); its rows are left out`);
    return undefined;
  }
  const { LAMBDA_BUNDLING: settings } = (await import(pathToFileURL(join(sources, 'lib/bundling.ts')).href)) as { LAMBDA_BUNDLING: object };
  const built = new Map<FunctionName, Built>();
  for (const fn of FUNCTIONS) {
    // .cjs: the project's package.json says "type": "module", and the reference bundles are CommonJS.
    const bundle = join(tmp, 'reference', fn.name, 'index.cjs');
    // As that commit's bench and construct built them: one file, the commit's settings.
    const { metafile } = await build({
      entryPoints: [join(sources, fn.entry)],
      bundle: true,
      platform: 'node',
      ...settings,
      outfile: bundle,
      absWorkingDir: projectRoot,
      metafile: true,
      logLevel: 'error',
    });
    const outputs = Object.keys(metafile.outputs).filter((output) => !output.endsWith('.map'));
    built.set(fn.name, { bundle, loadedAtInit: [bundle], files: [bundle], metafile, initOutputs: outputs });
  }
  return built;
}

/** Bytes per package (our code as one) of the outputs loaded at init, from esbuild's metafile. */
function bytesByPackage(built: Built): Record<string, number> {
  const bytes: Record<string, number> = {};
  for (const output of built.initOutputs) {
    for (const [input, { bytesInOutput }] of Object.entries(built.metafile.outputs[output]?.inputs ?? {})) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? 'our code (lambdas/)';
      bytes[name] = (bytes[name] ?? 0) + bytesInOutput;
    }
  }
  return Object.fromEntries(Object.entries(bytes).sort(([, a], [, b]) => b - a));
}

function sizesOf(built: Built) {
  const init = sum(built.loadedAtInit.map((file) => statSync(file).size));
  return {
    initBytes: init,
    // Each file compressed on its own, as in the function's zip.
    initGzipBytes: sum(built.loadedAtInit.map((file) => gzipSync(readFileSync(file)).length)),
    totalBytes: sum(built.files.map((file) => statSync(file).size)),
    files: built.files.length,
    filesAtInit: built.loadedAtInit.length,
    initBytesByPackage: bytesByPackage(built),
  };
}

function recordSizes(report: BenchReport, name: FunctionName, after: Built, before: Built | undefined): void {
  const sizes = { after: sizesOf(after), ...(before && { before: sizesOf(before) }) };
  report.record(`bundle.${name}`, sizes);
  if (sizes.before) report.row(`bundle ${name} before`, '', kib(sizes.before.initBytes), '', '', '', `one file, ${kib(sizes.before.initGzipBytes)} gzipped`);
  report.row(
    `bundle ${name} after`,
    '',
    `${kib(sizes.after.initBytes)} at init`,
    '',
    '',
    '',
    `${sizes.after.filesAtInit} files at init (${kib(sizes.after.initGzipBytes)} gzipped); ${kib(sizes.after.totalBytes)} in ${sizes.after.files} files in all`,
  );
}

/** Every variant PROBES times, in turns (reversed every other round), so a busier minute of the machine touches them all alike. */
async function runProbes(variants: readonly Variant[], system: BenchSystem, tmp: string): Promise<Map<Variant, Probe[]>> {
  const secrets = await startSecretsManagerStandIn(JSON.stringify({ apiKey: 'sk_test_bench', webhookSigningSecrets: [SIGNING_SECRET] }));
  const delivering = variants.filter((variant) => variant.fn.delivers);
  const slot = await system.newSlot(PROBES * delivering.length * (1 + WARM_DELIVERIES));
  const trips = await system.newTrips(slot.capacity, () => [{ slot, guests: 1 }]);
  const eventsFile = join(tmp, 'events.json');
  const results = new Map<Variant, Probe[]>(variants.map((variant) => [variant, []]));
  let paymentSequence = 0;
  try {
    for (let round = 0; round < PROBES; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        if (variant.fn.delivers) {
          const events = trips
            .splice(0, 1 + WARM_DELIVERIES)
            .map((trip: Trip) =>
              signedRequest(stripeEvent('checkout.session.completed', checkoutSession(trip, { paymentIntent: `pi_cold${paymentSequence++}` }))),
            );
          writeFileSync(eventsFile, JSON.stringify(events));
        }
        results.get(variant)?.push(await probe(variant, system, secrets.endpoint, variant.fn.delivers ? eventsFile : undefined));
      }
    }
    if (secrets.reads() !== PROBES * delivering.length) throw new Error(`expected one secret read per webhook probe, saw ${secrets.reads()}`);
  } finally {
    await secrets.close();
  }
  return results;
}

/**
 * One fresh process with the environment the stack gives the function, reading its secret and table over HTTP as in AWS.
 * Spawned asynchronously: the Secrets Manager stand-in answers from this process's event loop.
 */
async function probe(variant: Variant, system: BenchSystem, secretsEndpoint: string, eventsFile: string | undefined): Promise<Probe> {
  const child = spawn(process.execPath, [join(import.meta.dirname ?? 'bench', 'cold-probe.mjs')], {
    env: {
      PATH: process.env.PATH,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_ENDPOINT_URL_DYNAMODB: system.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      TABLE_NAME: BENCH_TABLE,
      STRIPE_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe',
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      ...(variant.nodeOptions && { NODE_OPTIONS: variant.nodeOptions }),
      PROBE_BUNDLE: variant.built.bundle,
      ...(eventsFile && { PROBE_EVENTS: eventsFile }),
    },
    // stdout carries the function's own logs and metrics, dropped as Lambda ships them; the probe answers on fd 3.
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const [stderr, answer] = [child.stdio[2], child.stdio[3]].map((stream) => {
    const chunks: Buffer[] = [];
    stream?.on('data', (chunk: Buffer) => chunks.push(chunk));
    return chunks;
  }) as [Buffer[], Buffer[]];
  const status = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
  if (status !== 0) throw new Error(`cold start probe of ${variant.fn.name} (${variant.label}) failed: ${Buffer.concat(stderr).toString()}`);
  const result = JSON.parse(Buffer.concat(answer).toString()) as Probe;
  const refused = result.deliveries.filter((delivery) => delivery.statusCode !== 200 || delivery.outcome !== 'booked');
  if (refused.length > 0) throw new Error(`${variant.fn.name} (${variant.label}) did not book: ${JSON.stringify(refused[0])}`);
  return result;
}

function recordProbes(report: BenchReport, variant: Variant, probes: readonly Probe[]): void {
  const init = probes.map((probe) => probe.initMs).sort((a, b) => a - b);
  const first = probes.flatMap((probe) => probe.deliveries.slice(0, 1));
  const warm = probes.flatMap((probe) => probe.deliveries.slice(1));
  const figures = {
    label: variant.label,
    initMedianMs: percentile(init, 50),
    initP90Ms: percentile(init, 90),
    initCpuMedianMs: median(probes.map((probe) => probe.initCpuMs)),
    ...(first.length > 0 && {
      firstConfirmationMedianMs: median(first.map((delivery) => delivery.ms)),
      firstConfirmationCpuMedianMs: median(first.map((delivery) => delivery.cpuMs)),
      initAndFirstConfirmationMedianMs: median(probes.map((probe) => probe.initMs + (probe.deliveries[0]?.ms ?? 0))),
      initAndFirstConfirmationCpuMedianMs: median(probes.map((probe) => probe.initCpuMs + (probe.deliveries[0]?.cpuMs ?? 0))),
      warmConfirmationMedianMs: median(warm.map((delivery) => delivery.ms)),
      warmConfirmationCpuMedianMs: median(warm.map((delivery) => delivery.cpuMs)),
    }),
  };
  report.record(`coldStart.${variant.fn.name}.${variant.key}`, figures);
  report.row(
    `cold init ${variant.fn.name} ${variant.key}`,
    '',
    '',
    '',
    ms(figures.initMedianMs),
    ms(figures.initP90Ms),
    `${variant.label}; median/p90 of ${probes.length} fresh processes` +
      (figures.initAndFirstConfirmationMedianMs === undefined ? '' : `; + first confirmation ${ms(figures.initAndFirstConfirmationMedianMs)}`),
  );
}

/** Cost × latency of a confirmation per memory size, from the CPU the deployed bundle spends (webhook, after). */
function recordMemoryModel(report: BenchReport, probes: readonly Probe[]): void {
  const cold = { cpuMs: median(probes.map((probe) => probe.initCpuMs + (probe.deliveries[0]?.cpuMs ?? 0))), ioMs: AWS_IO_MS.cold };
  const warm = { cpuMs: median(probes.flatMap((probe) => probe.deliveries.slice(1).map((delivery) => delivery.cpuMs))), ioMs: AWS_IO_MS.warm };
  const models = { cold: bestMemorySize(cold), warm: bestMemorySize(warm) };
  const describe = (estimate: Estimate) => ({
    memoryMb: estimate.memoryMb,
    durationMs: Math.round(estimate.durationMs),
    costUsdPerMillion: Number((estimate.costUsd * 1e6).toFixed(2)),
    costTimesLatency: estimate.costTimesLatency,
  });
  // The waits are assumed: the best size with half and with twice those waits shows how much the answer leans on them.
  const sensitivity = Object.fromEntries(
    [0.5, 2].map((factor) => [
      `ioTimes${factor}`,
      { cold: bestMemorySize({ ...cold, ioMs: cold.ioMs * factor }).best.memoryMb, warm: bestMemorySize({ ...warm, ioMs: warm.ioMs * factor }).best.memoryMb },
    ]),
  );
  report.record('memoryModel', {
    assumptions: { fullVcpuMb: FULL_VCPU_MB, awsIoMs: AWS_IO_MS, cpuMsMeasuredHere: { cold: cold.cpuMs, warm: warm.cpuMs } },
    bestWithOtherWaits: sensitivity,
    cold: { best: models.cold.best.memoryMb, sizes: models.cold.all.map(describe) },
    warm: { best: models.warm.best.memoryMb, sizes: models.warm.all.map(describe) },
  });
  for (const [name, model] of Object.entries(models)) {
    const at512 = model.all.find((estimate) => estimate.memoryMb === 512) as Estimate;
    report.row(
      `memory for a ${name} confirmation`,
      '',
      `${model.best.memoryMb} MB`,
      '',
      ms(model.best.durationMs),
      '',
      `model: ${ms(name === 'cold' ? cold.cpuMs : warm.cpuMs)} ms CPU + ${AWS_IO_MS[name as keyof typeof AWS_IO_MS]} ms I/O; ` +
        `$${(model.best.costUsd * 1e6).toFixed(2)}/M vs 512 MB ${ms(at512.durationMs)} ms, $${(at512.costUsd * 1e6).toFixed(2)}/M`,
    );
  }
}
