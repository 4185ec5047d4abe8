// How every function is bundled: the esbuild settings the stack's functions and the bench share, free of imports so the
// bench reads them without loading the CDK.
import type { BuildOptions } from 'esbuild';

/** The entry's file name in a function's asset (`index.mjs`): Lambda's handler is `index.handler`. */
export const ENTRY_NAME = 'index';

/**
 * The esbuild options of every function bundle. BookingFunction bundles with them (lib/function-bundle.ts), and the
 * bench builds with them, so the sizes and cold starts it measures are those of what Lambda runs.
 */
export const LAMBDA_BUNDLING = {
  bundle: true,
  platform: 'node',
  // The Lambda runtime (BookingFunction's Runtime.NODEJS_24_X): esbuild keeps as written all syntax Node 24 runs.
  target: 'node24',
  // ES modules split into chunks: what a function imports with import() (the Stripe SDK, the Secrets Manager
  // client, the SDK's credential providers for other environments) is a chunk of its own that loads only when a path
  // needs it, while the code every invocation runs loads with the entry.
  format: 'esm',
  splitting: true,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  // The ES build of packages that ship both: esbuild drops what is not imported from it, where the AWS SDK's CommonJS
  // build brings every command of a client.
  mainFields: ['module', 'main'],
  minify: true,
  // Kept beside the code for stack traces mapped offline (scripts/map-stack-trace.ts), not read by the runtime (no
  // --enable-source-maps). A trace needs the maps' positions, not the sources' text, which would triple their size.
  sourcemap: true,
  sourcesContent: false,
  // The AWS SDK is bundled too: the function runs exactly the versions the tests ran, not the runtime's.
  external: [] as string[],
  // ...but for three sources of its default credential chain, which a function never has: a profile of the shared config
  // files, IAM Identity Center and a web identity token file (its credentials are in its environment, or with SnapStart
  // at its container endpoint: both kept). Each would bring SDK clients of its own (STS, SSO, SSO OIDC, sign-in), loaded
  // only when reached, yet esbuild places a file in a chunk by every entry whose imports reach it, and the SDK's barrels
  // reach their protocols (query, XML, REST JSON) from the DynamoDB client: about 28 KiB of them landed in the chunks each
  // cold start loads. In their place, links that pass to the next source, as the SDK's own do without their files.
  alias: {
    '@aws-sdk/credential-provider-ini': './lambdas/shared/absent-credential-sources.ts',
    '@aws-sdk/credential-provider-sso': './lambdas/shared/absent-credential-sources.ts',
    '@aws-sdk/credential-provider-web-identity': './lambdas/shared/absent-credential-sources.ts',
  },
  // index.meta.json lists the bundle's inputs and chunks: the infra tests check that no test or CDK code is among them.
  metafile: true,
} satisfies BuildOptions;
