// The credential sources a Lambda bundle leaves out: their stand-ins pass to the next link, and a bundled function still
// signs with the credentials Lambda gives it, from its environment or (SnapStart) from its container endpoint.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialSourceNotBundledError, fromIni, fromSSO, fromTokenFile } from '../../lambdas/shared/absent-credential-sources';
import { LAMBDA_BUNDLING } from '../../lib/bundling';
import { bundleFunction, type FunctionBundle } from '../../lib/function-bundle';

const PROJECT_ROOT = resolve(import.meta.dirname, '../..');
const ENTRY = 'lambdas/create-booking/handler.ts';

describe('the stand-ins of the sources a function never has', () => {
  it.each([
    ['fromIni', fromIni],
    ['fromSSO', fromSSO],
    ['fromTokenFile', fromTokenFile],
  ])('%s passes to the next link of the chain, naming what it stands for', async (_name, source) => {
    const refusal = await source()().catch((error: unknown) => error);

    expect(refusal).toBeInstanceOf(CredentialSourceNotBundledError);
    // The property the SDK's chain reads to try its next source instead of failing.
    expect(refusal).toMatchObject({ tryNextLink: true, message: expect.stringContaining('not a credential source of a Lambda bundle') });
  });

  it('stand in for exactly the packages lib/bundling.ts aliases', () => {
    expect(Object.keys(LAMBDA_BUNDLING.alias).sort()).toEqual([
      '@aws-sdk/credential-provider-ini',
      '@aws-sdk/credential-provider-sso',
      '@aws-sdk/credential-provider-web-identity',
    ]);
  });
});

/** What the stand-in of DynamoDB saw: the access key each request was signed with. */
interface Recorded {
  readonly signedWith: string[];
  readonly containerAsks: (string | undefined)[];
}

/** One server for DynamoDB (every GetItem finds nothing) and for a container credentials endpoint. */
function startAws(recorded: Recorded): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      if (request.method === 'GET' && request.url === '/credentials') {
        recorded.containerAsks.push(request.headers.authorization);
        response.writeHead(200, { 'content-type': 'application/json' });
        const expiration = new Date(Date.now() + 3_600_000).toISOString();
        response.end(JSON.stringify({ AccessKeyId: 'ASIACONTAINER', SecretAccessKey: 'container-secret', Token: 'container-token', Expiration: expiration }));
        return;
      }
      recorded.signedWith.push(/Credential=([^/]+)\//.exec(request.headers.authorization ?? '')?.[1] ?? 'unsigned');
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      response.end('{}');
    });
  });
}

/** A cold start of the bundled function in a fresh process with `env`, then one invocation; its answer. */
async function invokeBundled(bundle: string, env: Record<string, string>): Promise<unknown> {
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(bundle).href)});
process.stdout.write(JSON.stringify(await handler(JSON.parse(process.env.REQUEST))));
process.exit(0);`;
  const request = {
    paymentId: 'pi_credentials',
    tripId: 'trip-credentials',
    userId: 'user-credentials',
    tripItems: [{ experienceId: 'exp-1', slotId: 'slot-1', guestCount: 1, date: '2027-06-01', time: '09:00' }],
  };
  // Spawned asynchronously: the stand-ins answer from this process's event loop.
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, POWERTOOLS_LOG_LEVEL: 'SILENT', REQUEST: JSON.stringify(request), ...env },
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const status = await new Promise<number | null>((done, fail) => child.on('error', fail).on('close', done));
  if (status !== 0) throw new Error(`the bundled function failed: ${output.stderr}`);
  return JSON.parse(output.stdout);
}

describe('a bundled function', () => {
  let bundleDir: string;
  let bundle: FunctionBundle;
  let aws: Server;
  let endpoint: string;
  let recorded: Recorded;
  let home: string;

  beforeAll(async () => {
    bundleDir = mkdtempSync(join(tmpdir(), 'credential-sources-'));
    home = mkdtempSync(join(tmpdir(), 'credential-sources-home-'));
    bundle = bundleFunction({ entry: ENTRY, outdir: bundleDir, projectRoot: PROJECT_ROOT });
    recorded = { signedWith: [], containerAsks: [] };
    aws = startAws(recorded);
    await new Promise<void>((listening) => aws.listen(0, '127.0.0.1', listening));
    endpoint = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    await new Promise((closed) => aws.close(closed));
    rmSync(bundleDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  /** The environment Lambda gives every function, without credentials: the cases add them. */
  const lambdaEnvironment = (): Record<string, string> => ({
    AWS_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // No shared config files and no instance metadata: what a function has.
    HOME: home,
    AWS_EC2_METADATA_DISABLED: 'true',
    TABLE_NAME: 'pulau-bookings',
  });

  it('ships none of the sources it leaves out, nor the clients they would bring', () => {
    const inputs = Object.keys(bundle.metafile.inputs);

    expect(inputs).toContain('lambdas/shared/absent-credential-sources.ts');
    expect(
      inputs.filter((input) => /node_modules\/@aws-sdk\/(credential-provider-(ini|sso|web-identity|login)|nested-clients|token-providers)\//.test(input)),
    ).toEqual([]);
    // The environment, the container endpoint and instance metadata remain, as in the SDK's own chain.
    expect(inputs.some((input) => input.includes('node_modules/@aws-sdk/credential-provider-env/'))).toBe(true);
    expect(inputs.some((input) => input.includes('node_modules/@aws-sdk/credential-provider-http/'))).toBe(true);
  });

  it('signs with the credentials in its environment', async () => {
    recorded.signedWith.length = 0;
    const answer = await invokeBundled(join(bundleDir, 'index.mjs'), {
      ...lambdaEnvironment(),
      AWS_ACCESS_KEY_ID: 'ASIAENVIRONMENT',
      AWS_SECRET_ACCESS_KEY: 'environment-secret',
      AWS_SESSION_TOKEN: 'environment-token',
    });

    expect(answer).toMatchObject({ success: false, errorCode: 'TRIP_NOT_FOUND' });
    expect(recorded.signedWith).toEqual(['ASIAENVIRONMENT']);
  });

  it('signs with the credentials of its container endpoint when its environment has none, past the sources it left out', async () => {
    recorded.signedWith.length = 0;
    recorded.containerAsks.length = 0;
    const answer = await invokeBundled(join(bundleDir, 'index.mjs'), {
      ...lambdaEnvironment(),
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${endpoint}/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-authorization',
    });

    expect(answer).toMatchObject({ success: false, errorCode: 'TRIP_NOT_FOUND' });
    expect(recorded.containerAsks).toEqual(['container-authorization']);
    expect(recorded.signedWith).toEqual(['ASIACONTAINER']);
  });
});
