// Bundle size and cold initialisation of the Lambda entry points: bundled as the CDK construct does, then loaded in fresh Node processes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleFunction } from '../lib/function-bundle';
import { percentile } from './measurement';
import { ms, type BenchReport } from './report';

export async function bundlesAndColdStart(report: BenchReport, benchDir: string): Promise<void> {
  const out = join(benchDir, '.tmp');
  mkdirSync(out, { recursive: true });
  for (const [name, entry] of [
    ['stripe-webhook', 'lambdas/stripe-webhook/handler.ts'],
    ['create-booking', 'lambdas/create-booking/handler.ts'],
  ] as const) {
    // As the CDK construct bundles it, but loaded by the Node here (Lambda runs Node 24 on ARM64).
    const { loadedAtInit } = bundleFunction({ entry, outdir: join(out, name), projectRoot: resolve(benchDir, '..') });
    const outfile = join(out, name, 'index.mjs');
    const initMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const probe = spawnSync(
        process.execPath,
        [
          // As Lambda runs them: without --enable-source-maps.
          '--input-type=module',
          '-e',
          `const t=process.hrtime.bigint();await import(${JSON.stringify(pathToFileURL(resolve(outfile)).href)});console.log(Number(process.hrtime.bigint()-t)/1e6)`,
        ],
        {
          env: {
            PATH: process.env.PATH,
            TABLE_NAME: 'bench',
            AWS_REGION: 'eu-west-1',
            STRIPE_API_KEY: 'sk_test_x',
            STRIPE_WEBHOOK_SECRETS: 'whsec_x',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          encoding: 'utf8',
        },
      );
      if (probe.status !== 0) throw new Error(`cold start probe failed: ${probe.stderr}`);
      initMs.push(Number(probe.stdout.trim()));
    }
    initMs.sort((a, b) => a - b);
    // What a cold start parses: the entry and the chunks it imports statically.
    const bytes = loadedAtInit.reduce((total, file) => total + statSync(file).size, 0);
    report.record(`bundle.${name}`, { bytes, coldInitMedianMs: percentile(initMs, 50), coldInitP90Ms: percentile(initMs, 90) });
    report.row(
      `bundle ${name}`,
      '',
      `${(bytes / 1024).toFixed(0)} KiB`,
      '',
      ms(percentile(initMs, 50)),
      '',
      'cold init: import + clients, median of 20 fresh processes',
    );
  }
}
