// What `cdk synth` loads: the app reaches the CDK, cdk-nag, zod, esbuild and import-free contract modules of lambdas/,
// never Stripe, Powertools, the AWS SDK or the domain (they would slow every synth and tie the stack to handler code).
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The packages a synth may load: the CDK itself, cdk-nag, zod (the settings' validation), esbuild (which bundles the
 * functions' assets) and Node's own modules.
 */
const ALLOWED_PACKAGES = /^(aws-cdk-lib(\/.*)?|constructs|cdk-nag|esbuild|zod\/mini|zod\/v4\/locales\/en\.js|node:.*)$/;

/** The modules `entry` loads: packages stay external, so the graph is our files and the bare names of the packages they import. */
async function importGraph(entry: string): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return result.metafile;
}

let graph: Metafile;
beforeAll(async () => {
  graph = await importGraph('bin/app.ts');
});

const modules = (): string[] => Object.keys(graph.inputs);
const packages = (): string[] =>
  [...new Set(Object.values(graph.inputs).flatMap((input) => input.imports.filter((imported) => imported.external).map((imported) => imported.path)))].sort();

describe('the CDK app (bin/app.ts and lib/)', () => {
  it('loads only the CDK, cdk-nag, zod, esbuild and Node modules as packages', () => {
    expect(packages().length).toBeGreaterThan(0);
    expect(packages().filter((name) => !ALLOWED_PACKAGES.test(name))).toEqual([]);
  });

  it.each(['stripe', '@aws-lambda-powertools/', '@aws-sdk/'])('never loads %s', (name) => {
    expect(packages().filter((imported) => imported.startsWith(name))).toEqual([]);
  });

  it('reads lambdas/ only through its contract modules: no domain, adapter or handler', () => {
    const reached = modules().filter((path) => path.startsWith('lambdas/'));
    expect(reached).toEqual(expect.arrayContaining(['lambdas/stripe-webhook/webhook-contract.ts', 'lambdas/shared/dynamodb/table-definition.ts']));
    expect(reached.filter((path) => path.startsWith('lambdas/shared/domain/'))).toEqual([]);
    expect(reached.filter((path) => /handler\.ts$|stripe\/|dynamodb\/(items|client)/.test(path))).toEqual([]);
  });
});

describe('the bundling settings (lib/bundling.ts)', () => {
  it('load nothing, so the bench reads them without the CDK', async () => {
    const bundling = await importGraph('lib/bundling.ts');
    expect(Object.keys(bundling.inputs)).toEqual(['lib/bundling.ts']);
    expect(bundling.inputs['lib/bundling.ts']?.imports).toEqual([]);
  });
});
