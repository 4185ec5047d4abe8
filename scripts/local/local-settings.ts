// Where the local stack listens and what it signs with: the one source `npm start`, `npm run demo` and `npm run ops` read.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LOCAL_TABLE_NAME } from '../../lambdas/shared/dynamodb/table-definition';

/** Local only. Never a real secret: anything signed with it is worthless outside this machine. */
export const LOCAL_SIGNING_SECRET = 'whsec_local_development_only';

/** Not a key: the local stand-in of Stripe's API takes any, and this one says where it came from. */
export const STAND_IN_API_KEY = 'sk_test_local_stand_in';

export interface LocalSettings {
  readonly port: number;
  readonly dynamoPort: number;
  /** The local stand-in of Stripe's API (used without STRIPE_API_KEY). */
  readonly stripePort: number;
  readonly tableName: string;
  readonly dataDir: string;
  /** Extra signing secrets (e.g. the one `stripe listen` prints), accepted beside the local one. */
  readonly extraSigningSecrets: readonly string[];
  /** A real Stripe test key; without one, refunds go to a local stand-in of Stripe's API. */
  readonly stripeApiKey?: string;
}

export const DEFAULT_PORTS = { port: 3000, dynamoPort: 8000, stripePort: 12111 } as const;

/** A setting that cannot be used, named as it is set. */
export class LocalSettingError extends Error {
  override name = 'LocalSettingError';
}

/** What a running `npm start` listens on, kept in a file while it runs. */
export interface RunningStack {
  readonly pid: number;
  readonly port: number;
  readonly dynamoPort: number;
  readonly tableName: string;
  /** The local stand-in of Stripe's API, when `npm start` runs one. */
  readonly stripeApiBase?: string;
}

/** Beside package.json (git-ignored), whatever folder a command runs from; LOCAL_STACK_FILE moves it (a test's own stack). */
export const RUNNING_STACK_FILE = process.env.LOCAL_STACK_FILE || fileURLToPath(new URL('../../.local-stack.json', import.meta.url));

export function writeRunningStack(running: RunningStack, file = RUNNING_STACK_FILE): void {
  writeFileSync(file, `${JSON.stringify(running, null, 2)}\n`);
}

/** Removes the file if it still describes this process's stack (a newer `npm start` may have written its own). */
export function removeRunningStack(pid: number, file = RUNNING_STACK_FILE): void {
  if (readRunningStack(file)?.pid === pid) rmSync(file, { force: true });
}

/** The running stack, or undefined when none runs (no file, or its process is gone, as after a `kill -9`). */
export function readRunningStack(file = RUNNING_STACK_FILE): RunningStack | undefined {
  let running: RunningStack;
  try {
    running = JSON.parse(readFileSync(file, 'utf8')) as RunningStack;
  } catch {
    return undefined;
  }
  return isAlive(running.pid) ? running : undefined;
}

/** Whether a process with this pid runs (signal 0 asks without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, someone else's process.
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** A second `npm start` while one runs would take over its running-stack file, and so hide it from `npm run ops`. */
export class AlreadyRunningError extends Error {
  constructor(
    readonly running: RunningStack,
    file: string,
  ) {
    super(
      `npm start is already running (pid ${running.pid}, http://127.0.0.1:${running.port}, DynamoDB Local on port ${running.dynamoPort}): ` +
        `use it (npm run demo and npm run ops find it by themselves), or stop it first (if none runs, remove ${file})`,
    );
    this.name = 'AlreadyRunningError';
  }
}

/**
 * Refuses to start while the running-stack file names a live stack: another process than this one (a file naming this
 * very pid was left by an earlier process that had it, as in a container started again).
 */
export function assertNotRunning(file = RUNNING_STACK_FILE): void {
  const running = readRunningStack(file);
  if (running && running.pid !== process.pid) throw new AlreadyRunningError(running, file);
}

function portFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65_535) {
    throw new LocalSettingError(`${name} must be a port number (1-65535), got "${value}"`);
  }
  return Number(value);
}

/** The environment first, then what a running `npm start` listens on (when given), then the defaults. */
export function localSettings(env: NodeJS.ProcessEnv = process.env, running?: RunningStack): LocalSettings {
  return {
    port: portFrom(env.PORT, running?.port ?? DEFAULT_PORTS.port, 'PORT'),
    dynamoPort: portFrom(env.DYNAMODB_PORT, running?.dynamoPort ?? DEFAULT_PORTS.dynamoPort, 'DYNAMODB_PORT'),
    stripePort: portFrom(env.STRIPE_PORT, DEFAULT_PORTS.stripePort, 'STRIPE_PORT'),
    tableName: env.TABLE_NAME || running?.tableName || DEFAULT_LOCAL_TABLE_NAME,
    dataDir: env.DATA_DIR || '.data',
    extraSigningSecrets: (env.STRIPE_WEBHOOK_SECRETS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    // Trimmed as the deployment's secret is (stripe-secrets.ts): a key read from a file keeps its newline.
    ...(env.STRIPE_API_KEY?.trim() && { stripeApiKey: env.STRIPE_API_KEY.trim() }),
  };
}

/** The log levels `npm start` takes (Powertools' own, in any case). */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * What only `npm start` refuses, each in one line before anything starts: a Stripe key that is not a test secret key (a
 * live one would open real payment pages and make real refunds from a throwaway local table; a publishable one cannot
 * call the API), a table name DynamoDB refuses, two services on one port, a log level there is none of. Answers the level.
 */
export function checkStartSettings(settings: LocalSettings, env: NodeJS.ProcessEnv = process.env): LogLevel {
  if (settings.stripeApiKey !== undefined && !/^(sk|rk)_test_/.test(settings.stripeApiKey)) {
    throw new LocalSettingError(
      `STRIPE_API_KEY must be a Stripe test secret key (sk_test_… or rk_test_…), got one starting "${settings.stripeApiKey.slice(0, 8)}": ` +
        'a local stack never takes real payments; unset it to use the local stand-in',
    );
  }
  if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(settings.tableName)) {
    throw new LocalSettingError(`TABLE_NAME must be 3 to 255 letters, digits, '_', '-' or '.', got "${settings.tableName}"`);
  }
  const ports: [string, number][] = [
    ['PORT', settings.port],
    ['DYNAMODB_PORT', settings.dynamoPort],
    ...(settings.stripeApiKey === undefined ? [['STRIPE_PORT', settings.stripePort] as [string, number]] : []),
  ];
  for (const [index, [name, port]] of ports.entries()) {
    const clash = ports.slice(0, index).find(([, other]) => other === port);
    if (clash) throw new LocalSettingError(`${clash[0]} and ${name} are both ${port}: each needs a port of its own`);
  }
  const level = (env.LOG_LEVEL || 'WARN').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new LocalSettingError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  return level as LogLevel;
}
