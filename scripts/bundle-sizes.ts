// `npm run synth -- [cdk synth options]`: runs `cdk synth --quiet` with the options given, then prints the size of each Lambda bundle, for the README and reviews.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

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

const rows: { fn: string; bytes: number; gzipped: number }[] = [];
for (const file of readdirSync(outDir).filter((name) => name.endsWith('.template.json'))) {
  const template = JSON.parse(readFileSync(join(outDir, file), 'utf8')) as { Resources: Record<string, TemplateResource> };
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const key = resource.Properties?.Code?.S3Key;
    if (resource.Type !== 'AWS::Lambda::Function' || typeof key !== 'string') continue;
    // Assets are staged as cdk.out/asset.<hash>/ and uploaded as <hash>.zip.
    const bundle = join(outDir, `asset.${key.replace(/\.zip$/, '')}`, 'index.js');
    const code = readFileSync(bundle);
    rows.push({ fn: logicalId, bytes: statSync(bundle).size, gzipped: gzipSync(code).length });
  }
}
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
console.log('Lambda bundles (index.js, minified; source maps ship beside them):');
for (const row of rows) console.log(`  ${row.fn.padEnd(40)} ${kib(row.bytes).padStart(9)}  (${kib(row.gzipped)} gzipped)`);
