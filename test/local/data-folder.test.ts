// One stack at a time on a data folder, and on a running-stack file: a claim of a live process refuses, a stale one (a kill -9, or this very pid reused) does not, and claimers starting at one instant never both get the folder.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { claimDataFolder, claimFileOf, DataFolderInUseError } from '../../scripts/local/data-folder';
import { AlreadyRunningError, assertNotRunning } from '../../scripts/local/local-settings';

const ROOT = new URL('../..', import.meta.url).pathname;
/** Above the kernel's largest pid on common machines: a process that is gone. */
const GONE = 999_999;

function tempFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'pulau-claim-'));
  onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

describe('a data folder', () => {
  it('is claimed by this process, and released', () => {
    const folder = tempFolder();

    const release = claimDataFolder(folder);
    const claimed = readdirSync(folder);
    release();

    expect(claimed).toEqual([claimFileOf(process.pid)]);
    expect(readdirSync(folder)).toEqual([]);
  });

  it('is refused while another live process claims it, and keeps no claim of this one', () => {
    const folder = tempFolder();
    writeFileSync(join(folder, claimFileOf(process.ppid)), `${process.ppid}\n`);

    expect(() => claimDataFolder(folder)).toThrow(DataFolderInUseError);
    expect(readdirSync(folder)).toEqual([claimFileOf(process.ppid)]);
  });

  it.each([
    ['a process that is gone (a kill -9)', GONE],
    ['this very pid, left by an earlier process that had it (a container started again)', process.pid],
  ])('is taken over from the claim of %s', (_, pid) => {
    const folder = tempFolder();
    writeFileSync(join(folder, claimFileOf(pid)), `${pid}\n`);

    const release = claimDataFolder(folder);

    expect(readdirSync(folder)).toEqual([claimFileOf(process.pid)]);
    release();
  });
});

describe('the running-stack file', () => {
  it('refuses a start while it names another live process, and says which file to remove if none runs', () => {
    const file = join(tempFolder(), 'stack.json');
    writeFileSync(file, JSON.stringify({ pid: process.ppid, port: 3000, dynamoPort: 8000, tableName: 't' }));

    expect(() => assertNotRunning(file)).toThrow(AlreadyRunningError);
    expect(() => assertNotRunning(file)).toThrow(`(if none runs, remove ${file})`);
  });

  it.each([
    ['a process that is gone', GONE],
    ['this very pid (left by an earlier process that had it)', process.pid],
  ])('lets a start go on when it names %s', (_, pid) => {
    const file = join(tempFolder(), 'stack.json');
    writeFileSync(file, JSON.stringify({ pid, port: 3000, dynamoPort: 8000, tableName: 't' }));

    expect(() => assertNotRunning(file)).not.toThrow();
  });
});

describe('claimers starting at one instant', () => {
  /** Claims the folder at the given instant, says whether it got it, and holds it a moment. */
  const CLAIMER = `
    import { claimDataFolder } from ${JSON.stringify(join(ROOT, 'scripts/local/data-folder.ts'))};
    const [folder, at] = [process.argv[2], Number(process.argv[3])];
    while (Date.now() < at) {}
    try { const release = claimDataFolder(folder); console.log('won'); setTimeout(release, 1000); }
    catch { console.log('lost'); }
  `;

  /** How many of `claimers` processes, started together on a fresh folder (with a stale claim in it, or not), got it. */
  async function winners(claimers: number, staleClaim: boolean): Promise<number> {
    const folder = tempFolder();
    const script = join(tempFolder(), 'claimer.mts');
    writeFileSync(script, CLAIMER);
    if (staleClaim) writeFileSync(join(folder, claimFileOf(GONE)), `${GONE}\n`);
    const at = Date.now() + 1_500;
    const said = await Promise.all(
      Array.from(
        { length: claimers },
        () =>
          new Promise<string>((resolve) => {
            const child = spawn('node', ['--import', 'tsx', script, folder, String(at)], { cwd: ROOT });
            let out = '';
            child.stdout.on('data', (chunk: Buffer) => {
              out += chunk.toString();
            });
            child.once('close', () => resolve(out.trim()));
          }),
      ),
    );
    expect(said.every((line) => line === 'won' || line === 'lost')).toBe(true);
    return said.filter((line) => line === 'won').length;
  }

  it.each([
    { claimers: 2, staleClaim: true },
    { claimers: 4, staleClaim: false },
  ])('never let two of $claimers have the folder (a stale claim there: $staleClaim)', async ({ claimers, staleClaim }) => {
    for (let trial = 0; trial < 3; trial++) expect(await winners(claimers, staleClaim)).toBeLessThanOrEqual(1);
  });
});
