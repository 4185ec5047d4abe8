// Stack traces of a bundled function, mapped offline to the TypeScript sources with the maps kept beside the bundle.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction } from '../../lib/function-bundle';
import { mapStackTrace } from '../../scripts/map-stack-trace';

const PROJECT_ROOT = resolve(import.meta.dirname, '../..');
let bundleDir: string;
let trace: string;

beforeAll(() => {
  bundleDir = mkdtempSync(join(tmpdir(), 'map-stack-trace-'));
  bundleFunction({ entry: 'lambdas/create-booking/handler.ts', outdir: bundleDir, projectRoot: PROJECT_ROOT });
  // A cold start that fails as a misconfigured function would: without TABLE_NAME, and without --enable-source-maps.
  const run = spawnSync(process.execPath, [join(bundleDir, 'index.mjs')], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  trace = run.stderr;
}, 60_000);
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

/** The 1-based line of `text` in a source file of the project. */
function lineOf(file: string, text: string): number {
  return (
    readFileSync(join(PROJECT_ROOT, file), 'utf8')
      .split('\n')
      .findIndex((line) => line.includes(text)) + 1
  );
}

describe('mapStackTrace', () => {
  it('maps the minified frames of a failed cold start to the lines of the TypeScript sources', () => {
    expect(trace).toContain('Environment variable TABLE_NAME is missing');
    expect(trace).toMatch(/index\.mjs:\d+:\d+/);

    const mapped = mapStackTrace(trace, bundleDir);

    expect(mapped).toContain(`lambdas/shared/config.ts:${lineOf('lambdas/shared/config.ts', 'throw new ConfigError(`Environment variable')}:`);
    expect(mapped).toContain(`lambdas/create-booking/handler.ts:${lineOf('lambdas/create-booking/handler.ts', 'loadTableConfig()')}:`);
    expect(mapped).not.toMatch(/index\.mjs:\d+:\d+/);
  });

  it('leaves frames alone that the bundle has no map for', () => {
    const frames = '    at run (node:internal/modules/esm/module_job:325:25)\n    at other (/var/task/elsewhere.mjs:1:5)\n';
    expect(mapStackTrace(frames, bundleDir)).toBe(frames);
  });
});
