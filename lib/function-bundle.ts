// Bundles one function's entry with the shared esbuild settings, for the stack's assets and the bench alike.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync, type Metafile } from 'esbuild';
import { ENTRY_NAME, LAMBDA_BUNDLING } from './bundling';

export interface FunctionBundle {
  readonly metafile: Metafile;
  /** Absolute paths of the entry and every chunk it imports statically: the code a cold start parses. */
  readonly loadedAtInit: readonly string[];
  /** Absolute paths of every JavaScript file of the bundle, chunks loaded later included (source maps excluded). */
  readonly files: readonly string[];
}

/** Bundles `entry` (relative to `projectRoot`) into `outdir`: `index.mjs`, its chunks, their maps and `index.meta.json`. */
export function bundleFunction(options: { readonly entry: string; readonly outdir: string; readonly projectRoot: string }): FunctionBundle {
  const { metafile } = buildSync({
    ...LAMBDA_BUNDLING,
    entryPoints: { [ENTRY_NAME]: options.entry },
    outdir: options.outdir,
    absWorkingDir: options.projectRoot,
    logLevel: 'error',
  });
  writeFileSync(join(options.outdir, `${ENTRY_NAME}.meta.json`), JSON.stringify(metafile));
  const absolute = (output: string): string => resolve(options.projectRoot, output);
  return {
    metafile,
    loadedAtInit: loadedWithEntry(metafile, options.entry).map(absolute),
    files: Object.keys(metafile.outputs)
      .filter((output) => !output.endsWith('.map'))
      .map(absolute),
  };
}

/**
 * The outputs of `metafile` (keys, as esbuild names them) that load with `entry` (the source, as esbuild names it):
 * its own output and the chunks it imports statically, transitively.
 */
export function loadedWithEntry(metafile: Metafile, entry: string): string[] {
  // Every target of an import() is an entry point of the metafile too: the function's is the one built from `entry`.
  const entryOutput = Object.entries(metafile.outputs).find(([, output]) => output.entryPoint === entry)?.[0];
  if (entryOutput === undefined) throw new Error(`The metafile has no output built from ${entry}`);
  const loaded = new Set<string>();
  const pending = [entryOutput];
  for (let output = pending.pop(); output !== undefined; output = pending.pop()) {
    if (loaded.has(output)) continue;
    loaded.add(output);
    for (const imported of metafile.outputs[output]?.imports ?? []) {
      // A dynamic import() is a chunk loaded when that path runs, not with the entry.
      if (imported.kind === 'import-statement' && !imported.external) pending.push(imported.path);
    }
  }
  return [...loaded];
}
