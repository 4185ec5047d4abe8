// Maps a stack trace of a deployed function back to the TypeScript sources, with the source maps kept beside its bundle.
// The functions run without --enable-source-maps (it costs every cold start); their traces are mapped here instead.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';

/** `…/index.mjs:1:2345` or `…/chunks/chunk-AB12CD34.mjs:1:99`, as a frame of the bundle prints it (`/var/task/` in Lambda). */
const FRAME_POSITION = /(?:file:\/\/)?[^\s()]*?\/((?:chunks\/)?[\w.-]+\.mjs):(\d+):(\d+)/g;

/**
 * `trace` with every position in the bundle at `bundleDir` (a cdk.out asset, or the function's code as downloaded)
 * replaced by its source, line and column; positions without a map are left as they are.
 */
export function mapStackTrace(trace: string, bundleDir: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (file: string): SourceMap | undefined => {
    if (!maps.has(file)) {
      const path = join(bundleDir, `${file}.map`);
      maps.set(file, existsSync(path) ? new SourceMap(JSON.parse(readFileSync(path, 'utf8'))) : undefined);
    }
    return maps.get(file);
  };
  return trace.replace(FRAME_POSITION, (position, file: string, line: string, column: string) => {
    // findEntry counts lines and columns from 0, stack traces from 1.
    const entry = mapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry)) return position;
    // Sources are named relative to where the map was written (`../../lambdas/…`); the path in the project reads better.
    const source = /(?:^|\/)((?:lambdas|node_modules)\/.*)$/.exec(entry.originalSource)?.[1] ?? entry.originalSource;
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const bundleDir = process.argv[2];
  if (!bundleDir) {
    console.error("usage: npm run map-stack-trace -- <the function's bundle: cdk.out/asset.<hash> or its unzipped code> < trace.txt");
    process.exit(2);
  }
  process.stdout.write(mapStackTrace(readFileSync(0, 'utf8'), bundleDir));
}
