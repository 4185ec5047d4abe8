// Runs the project's own commands (`npm start`, `npm run demo`, `npm run ops`) as real processes, and waits on what they print and on their exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Server } from 'node:net';

export interface Finished {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

export interface Running {
  readonly child: ChildProcess;
  /** Resolves with everything printed so far once `pattern` appears on stdout or stderr; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<string>;
  readonly finished: Promise<Finished>;
}

export function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = (): void => {
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    changed();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    changed();
  });
  const finished = new Promise<Finished>((resolve) => child.once('close', (code) => resolve({ code, out, err })));
  return {
    child,
    finished,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out + err)) {
            listeners.delete(check);
            resolve(out + err);
          }
        };
        listeners.add(check);
        check();
        void finished.then(() => {
          if (listeners.delete(check)) reject(new Error(`exited before printing ${pattern}:\n${out}${err}`));
        });
      }),
  };
}

/** Runs to completion. */
export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return runProcess(command, args, env).finished;
}

/** Ports and a running-stack file of a test's own, so a developer's `npm start` is neither used nor disturbed. */
export async function ownLocalEnv(): Promise<Record<string, string>> {
  const [port, dynamoPort, stripePort] = await distinctFreePorts(3);
  return {
    PORT: String(port),
    DYNAMODB_PORT: String(dynamoPort),
    STRIPE_PORT: String(stripePort),
    TABLE_NAME: 'pulau-process-test',
    // A stack removes its file when it stops; a test that kills it removes the file itself.
    LOCAL_STACK_FILE: join(tmpdir(), `pulau-stack-${randomUUID()}.json`),
  };
}

/**
 * `count` free ports, all different: each is held until all are found, since a port just closed may be handed out again
 * at once (two settings given one port are refused by `npm start`).
 */
async function distinctFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.on('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** True once no process has this pid; waits on the process itself (signal 0), for at most `ms`. */
export async function processGone(pid: number, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
