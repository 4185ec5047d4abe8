// `npm run synth -- [cdk synth options]`: runs `cdk synth --quiet` with the options given, then prints the size of each Lambda bundle, for the README and reviews.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Metafile } from 'esbuild';
import { ENTRY_NAME } from '../lib/bundling';
import { loadedWithEntry } from '../lib/function-bundle';

// npm appends the options to the script's last command: they are cdk's (`-c stage=prod`), so they go to cdk.
const cdkOptions = process.argv.slice(2);
const synth = spawnSync('npx', ['cdk', 'synth', '--quiet', ...cdkOptions], { stdio: 'inherit' });
if (synth.status !== 0) process.exit(synth.status ?? 1);

const outIndex = cdkOptions.findIndex((option) => option === '-o' || option === '--output');
const outDir = (outIndex >= 0 ? cdkOptions[outIndex + 1] : undefined) ?? 'cdk.out';

interface TemplateResource {
  Type: string;
  Properties?: { Code?: { S3Key?: string } };
}

interface Row {
  readonly stack: string;
  readonly fn: string;
  /** The entry and the chunks it imports statically: what a cold start parses. */
  readonly initBytes: number;
  readonly initGzipped: number;
  /** Every JavaScript file, chunks that load later (the Stripe SDK, other credential providers) included. */
  readonly totalBytes: number;
}

interface CloudAssemblyManifest {
  readonly artifacts?: Record<string, { readonly type: string; readonly properties?: { readonly templateFile?: string } }>;
}

// The stacks this synthesis made, as its manifest lists them: cdk.out keeps the templates of earlier ones (another stage).
const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as CloudAssemblyManifest;
const stacks = Object.entries(manifest.artifacts ?? {}).flatMap(([stack, artifact]) =>
  artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile !== undefined ? [{ stack, file: artifact.properties.templateFile }] : [],
);

const rows: Row[] = [];
for (const { stack, file } of stacks) {
  const template = JSON.parse(readFileSync(join(outDir, file), 'utf8')) as { Resources: Record<string, TemplateResource> };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const key = resource.Properties?.Code?.S3Key;
    if (resource.Type !== 'AWS::Lambda::Function' || typeof key !== 'string') continue;
    // Assets are staged as cdk.out/asset.<hash>/ and uploaded as <hash>.zip.
    const assetDir = join(outDir, `asset.${key.replace(/\.zip$/, '')}`);
    const meta = JSON.parse(readFileSync(join(assetDir, `${ENTRY_NAME}.meta.json`), 'utf8')) as Metafile;
    // The metafile names outputs where esbuild wrote them (a bundling directory the CDK has since renamed).
    const entryOutput = Object.keys(meta.outputs).find((output) => output.endsWith(`/${ENTRY_NAME}.mjs`) && !output.includes('/chunks/'));
    const entryPoint = entryOutput && meta.outputs[entryOutput]?.entryPoint;
    if (!entryOutput || !entryPoint) throw new Error(`No ${ENTRY_NAME}.mjs in ${assetDir}`);
    const inAsset = (output: string): string => join(assetDir, relative(dirname(entryOutput), output));
    const atInit = loadedWithEntry(meta, entryPoint);
    const scripts = Object.entries(meta.outputs).filter(([output]) => !output.endsWith('.map'));
    rows.push({
      stack,
      fn: logicalId,
      initBytes: atInit.reduce((total, output) => total + (meta.outputs[output]?.bytes ?? 0), 0),
      initGzipped: atInit.reduce((total, output) => total + gzipSync(readFileSync(inAsset(output))).length, 0),
      totalBytes: scripts.reduce((total, [, output]) => total + output.bytes, 0),
    });
  }
}
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
console.log('Lambda bundles (minified ES modules; loaded at init = the entry and the chunks it imports; source maps ship beside them):');
for (const [index, row] of rows.entries()) {
  if (row.stack !== rows[index - 1]?.stack) console.log(`${row.stack}:`);
  console.log(`  ${row.fn.padEnd(40)} ${kib(row.initBytes).padStart(9)} at init (${kib(row.initGzipped)} gzipped), ${kib(row.totalBytes)} in all`);
}
