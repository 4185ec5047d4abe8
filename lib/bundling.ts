// How every function is bundled: the esbuild settings the stack's functions and the bench share, free of imports so the
// bench reads them without loading the CDK.
import type { BuildOptions } from 'esbuild';

/**
 * The esbuild options of every function bundle. BookingFunction hands them to NodejsFunction, and the bench builds with
 * them, so the sizes and cold starts it measures are those of what Lambda runs.
 */
export const LAMBDA_BUNDLING = {
  // The Lambda runtime (BookingFunction's Runtime.NODEJS_24_X): esbuild keeps as written all syntax Node 24 runs.
  target: 'node24',
  format: 'cjs',
  minify: true,
  sourcemap: true,
  // The AWS SDK is bundled too: the function runs exactly the versions the tests ran, not the runtime's.
  external: [] as string[],
} satisfies BuildOptions;
