// The CDK app as `cdk synth` runs it: a mistyped setting in the context it is given stops it before anything is built.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../support/processes';

describe('bin/app.ts', () => {
  it('refuses a context key a letter away from a setting (alarmemail), naming the setting meant, and builds nothing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'pulau-cdk-out-'));
    // What the CDK CLI hands the app: cdk.json's context, CDK's own flags included, and the `-c` given.
    const context = { stage: 'prod', '@aws-cdk/core:checkSecretUsage': true, alarmemail: 'ops@example.com' };

    const result = await run('npx', ['tsx', 'bin/app.ts'], { CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: out });
    const written = readdirSync(out);
    rmSync(out, { recursive: true, force: true });

    expect(result.code).toBe(1);
    expect(result.err.trim()).toMatch(/^Context setting "alarmemail" is not a setting of this app \(did you mean "alarmEmail"\? known: /);
    expect(written).toEqual([]);
  });
});
