// `npm start` as a real process: a taken port is refused in one line before anything starts, and however it is stopped, no Java is left.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canConnect } from '../../scripts/dev-kit/dynamodb-local';
import { claimFileOf, isClaimFile } from '../../scripts/local/data-folder';
import { readRunningStack } from '../../scripts/local/local-settings';
import { DEMO_SLOTS } from '../../scripts/local/demo-data';
import { ownLocalEnv, processGone, run, runProcess } from '../support/processes';

/** `npm start` running with `env` until `stop()`, once it has printed its banner; `pid` is its node process's. */
async function runningStack(env: Record<string, string>, args: readonly string[] = []) {
  const stack = runProcess('npm', ['start', '--silent', '--', ...args], env);
  const printed = await stack.waitFor(/Ctrl-C stops everything/);
  const pid = Number((JSON.parse(readFileSync(env.LOCAL_STACK_FILE as string, 'utf8')) as { pid: number }).pid);
  return {
    printed,
    pid,
    stop: async () => {
      process.kill(stack.child.pid as number, 'SIGTERM');
      await stack.finished;
    },
  };
}

/** True once `condition` holds, asked every 100 ms for at most 30 s. */
async function until(condition: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** A listener that only counts who connects: standing for another database on the port. */
async function occupy(port: number): Promise<{ server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket: Socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, connections: () => connections };
}

/** The pid of the `npm start` under test (its process group's, when started under setsid). */
let npmPid = 0;

describe('npm start', () => {
  it.each(['DYNAMODB_PORT', 'PORT', 'STRIPE_PORT'])('refuses a taken %s in one line, and never talks to what holds it', async (variable) => {
    const env = await ownLocalEnv();
    const taken = await occupy(Number(env[variable]));

    const result = await run('npm', ['start', '--silent', '--', '--in-memory'], env);
    taken.server.close();

    expect(result.code).toBe(1);
    expect(result.err.trim()).toBe(`error: PORT_IN_USE: port ${env[variable]} is in use; set ${variable}`);
    expect(taken.connections()).toBe(0);
  });

  it.each([
    { args: ['--bogus'], code: 2, line: /^error: USAGE: unknown flag --bogus \(npm start -- --help lists the flags\)$/ },
    { args: ['--rest'], code: 2, line: /^error: USAGE: unknown flag --rest \(did you mean --reset\?\) \(npm start -- --help lists the flags\)$/ },
    { args: [], env: { PORT: 'abc' }, code: 2, line: /^error: BAD_SETTING: PORT must be a port number/ },
    { args: [], env: { STRIPE_API_KEY: 'sk_live_abc' }, code: 2, line: /^error: BAD_SETTING: STRIPE_API_KEY must be a Stripe test secret key .*"sk_live_"/ },
    { args: [], env: { STRIPE_API_KEY: 'pk_test_123' }, code: 2, line: /^error: BAD_SETTING: STRIPE_API_KEY must be a Stripe test secret key/ },
    { args: [], env: { TABLE_NAME: 'a' }, code: 2, line: /^error: BAD_SETTING: TABLE_NAME must be 3 to 255 letters/ },
    {
      args: [],
      env: { LOG_LEVEL: 'verbose' },
      code: 2,
      line: /^error: BAD_SETTING: LOG_LEVEL must be one of DEBUG, INFO, WARN, ERROR, SILENT, got "verbose"$/,
    },
    { args: [], env: { DATA_DIR: 'package.json/data' }, code: 2, line: /^error: BAD_SETTING: DATA_DIR package.json\/data cannot be used \(ENOTDIR\)/ },
    // Node's own recursive mkdir never returns there.
    { args: [], env: { DATA_DIR: '/proc/pulau-data' }, code: 2, line: /^error: BAD_SETTING: DATA_DIR \/proc\/pulau-data cannot be used \(ENOENT\)/ },
  ])('answers $args $env with exit $code and one line', async ({ args, env, code, line }) => {
    const result = await run('npm', ['start', '--silent', '--', ...args], { ...(await ownLocalEnv()), ...env });
    expect(result.code).toBe(code);
    expect(result.err.trim().split('\n')).toEqual([expect.stringMatching(line)]);
  });

  it('refuses two services on one port in one line, before anything starts', async () => {
    const env = await ownLocalEnv();

    const result = await run('npm', ['start', '--silent', '--', '--in-memory'], { ...env, DYNAMODB_PORT: env.PORT as string });

    expect(result.code).toBe(2);
    expect(result.err.trim()).toBe(`error: BAD_SETTING: PORT and DYNAMODB_PORT are both ${env.PORT}: each needs a port of its own`);
    expect(await canConnect(Number(env.PORT))).toBe(false);
  });

  it('refuses a second npm start while one runs, in one line, and leaves the first one to be found', async () => {
    const env = await ownLocalEnv();
    const first = await runningStack(env, ['--in-memory']);
    const fileBefore = readFileSync(env.LOCAL_STACK_FILE as string, 'utf8');

    // Its own ports, the same running-stack file: the second `npm start` in one checkout.
    const second = await run('npm', ['start', '--silent', '--', '--in-memory'], { ...(await ownLocalEnv()), LOCAL_STACK_FILE: env.LOCAL_STACK_FILE as string });
    const fileAfter = readFileSync(env.LOCAL_STACK_FILE as string, 'utf8');
    await first.stop();

    expect(second.code).toBe(1);
    expect(second.err.trim()).toBe(
      `error: ALREADY_RUNNING: npm start is already running (pid ${first.pid}, http://127.0.0.1:${env.PORT}, DynamoDB Local on port ${env.DYNAMODB_PORT}): ` +
        `use it (npm run demo and npm run ops find it by themselves), or stop it first (if none runs, remove ${env.LOCAL_STACK_FILE})`,
    );
    expect(fileAfter).toBe(fileBefore);
  });

  it('refuses a data folder another stack uses, --reset included, and deletes nothing; free again once that stack stops', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulau-data-'));
    const first = await runningStack({ ...(await ownLocalEnv()), DATA_DIR: dataDir });

    const second = await run('npm', ['start', '--silent', '--', '--reset'], { ...(await ownLocalEnv()), DATA_DIR: dataDir });
    const filesMeanwhile = readdirSync(dataDir);
    await first.stop();
    const third = await runningStack({ ...(await ownLocalEnv()), DATA_DIR: dataDir });
    await third.stop();
    const filesAfter = readdirSync(dataDir);
    rmSync(dataDir, { recursive: true, force: true });

    expect(second.code).toBe(1);
    expect(second.err.trim()).toBe(
      `error: DATA_IN_USE: ${dataDir} is in use by another stack (pid ${first.pid}); stop it, or set DATA_DIR to another folder, or use --in-memory ` +
        `(if no stack runs, that pid is another program's now: remove ${join(dataDir, claimFileOf(first.pid))})`,
    );
    expect(filesMeanwhile.filter(isClaimFile)).toEqual([claimFileOf(first.pid)]);
    expect(filesMeanwhile.filter((file) => file.endsWith('.db'))).toHaveLength(1);
    // The first stack's demo data was neither deleted nor seeded again; every stack released the folder on stopping.
    expect(third.printed).toContain('Demo data      kept from an earlier run');
    // Its curl names a demo slot all the same, ready to paste.
    expect(third.printed).toContain(`"slotId":"${DEMO_SLOTS.riceTerraces.slotId}"`);
    // PORT, DYNAMODB_PORT, TABLE_NAME and LOCAL_STACK_FILE set make its commands long: their hints still start in one column, after them.
    const lines = third.printed.split('\n');
    const hints = ['a trip checked out and paid', 'then open its checkoutUrl', 'and you land on', 'the inventory'];
    expect(new Set(hints.map((hint) => lines.find((line) => line.includes(hint))?.indexOf(hint))).size).toBe(1);
    expect(third.printed).toMatch(/TABLE_NAME=pulau-process-test LOCAL_STACK_FILE=\S+ npm run demo +a trip checked out/);
    expect(filesAfter.filter(isClaimFile)).toEqual([]);
  });

  it('with a Stripe test key, offers no demo (it pays on the stand-in’s page) but a test card, and stripe listen without a restart', async () => {
    const env = await ownLocalEnv();
    const stack = await runningStack({ ...env, STRIPE_API_KEY: 'sk_test_local_banner', STRIPE_WEBHOOK_SECRETS: 'whsec_banner' }, ['--in-memory']);
    // Run all the same, the demo says why it cannot, in one line, before asking anything of the stack.
    const demo = await run('npm', ['run', 'demo', '--silent'], { ...env, STRIPE_API_KEY: '' });
    await stack.stop();

    expect(demo.code).toBe(1);
    expect(demo.err.trim().split('\n')).toEqual([
      expect.stringMatching(/^The demo pays on the local Stripe stand-in’s page, .*restart it without STRIPE_API_KEY/),
    ]);
    expect(demo.out).toBe('');

    expect(stack.printed).toContain('Stripe API     https://api.stripe.com');
    expect(stack.printed).not.toContain('npm run demo');
    expect(stack.printed).not.toContain('Pay later');
    expect(stack.printed).toContain("pay with Stripe's test card 4242 4242 4242 4242");
    expect(stack.printed).toMatch(/stripe listen --forward-to http:\/\/127\.0\.0\.1:\d+\/webhooks\/stripe\n/);
    expect(stack.printed).not.toContain('then restart with');
  });

  it.each(['--help', '-h'])('prints its help for %s and exits 0', async (flag) => {
    const result = await run('npm', ['start', '--silent', '--', flag], await ownLocalEnv());
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toContain('Usage: npm start');
    expect(result.out).toContain('TABLE_NAME (pulau-bookings)');
  });

  it.each([
    { args: ['--help'], code: 0, out: /^Usage: npm run ops --/ },
    { args: ['slots', 'add', '-h'], code: 0, out: /^Usage: npm run ops -- slots add/ },
    { args: ['slots', 'add', '--bogus'], code: 2, err: /^error: USAGE: unknown flag --bogus for slots add; npm run ops -- slots add --help lists its flags$/ },
  ])('npm run ops $args: exit $code, one line when it is an error', async ({ args, code, out, err }) => {
    const result = await run('npm', ['run', 'ops', '--silent', '--', ...args], await ownLocalEnv());
    expect(result.code).toBe(code);
    if (out) expect(result).toMatchObject({ err: '', out: expect.stringMatching(out) });
    if (err) expect(result.err.trim().split('\n')).toEqual([expect.stringMatching(err)]);
  });

  it('npm run ops against AWS without credentials: exit 1, one line saying what to set', async () => {
    const noCredentials = {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
    };

    const result = await run('npm', ['run', 'ops', '--silent', '--', '--region', 'eu-west-1', '--table', 'x', 'slots', 'list'], {
      ...(await ownLocalEnv()),
      ...noCredentials,
    });

    expect(result.code).toBe(1);
    expect(result.err.trim().split('\n')).toEqual([expect.stringMatching(/^error: NO_AWS_CREDENTIALS: .*set AWS_PROFILE/)]);
  });

  it('stops by itself when npm is killed while the stack is still starting', async () => {
    const env = await ownLocalEnv();
    const dynamoPort = Number(env.DYNAMODB_PORT);
    const stack = runProcess('npm', ['start', '--silent', '--', '--in-memory'], env);
    // Killed as soon as DynamoDB Local answers: the stack has not finished starting (nor printed its banner).
    expect(await until(() => canConnect(dynamoPort))).toBe(true);
    process.kill(stack.child.pid as number, 'SIGKILL');
    await stack.finished;

    // The orphan finishes starting, sees that its parent is gone, and stops everything, DynamoDB Local included.
    const stopped = await until(async () => !(await canConnect(dynamoPort)));
    // Had it stayed, it would have recorded itself: stopped here, so a failure leaves nothing running.
    const orphan = readRunningStack(env.LOCAL_STACK_FILE as string);
    if (orphan) process.kill(orphan.pid, 'SIGTERM');
    rmSync(env.LOCAL_STACK_FILE as string, { force: true });

    expect(stopped).toBe(true);
  });

  it.each([
    { how: 'SIGTERM to npm', signal: () => process.kill(npmPid, 'SIGTERM') },
    // A terminal's Ctrl-C signals the whole process group: node gets SIGINT from it and again from npm. One ask, still.
    { how: 'one Ctrl-C (SIGINT to the process group)', signal: () => process.kill(-npmPid, 'SIGINT') },
  ])('stopped while still starting ($how), says so and stops once started: no Java, no claim on its data folder, nothing recorded', async ({ signal }) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pulau-data-'));
    const env = await ownLocalEnv();
    const stackFile = env.LOCAL_STACK_FILE as string;
    const dynamoPort = Number(env.DYNAMODB_PORT);
    // In a process group (and session) of its own, as a terminal runs it: setsid execs npm under its own pid.
    const stack = runProcess('setsid', ['npm', 'start', '--silent'], { ...env, DATA_DIR: dataDir });
    npmPid = stack.child.pid as number;
    // Stopped as soon as DynamoDB Local answers: the stack has not finished starting (nor printed its banner).
    expect(await until(() => canConnect(dynamoPort))).toBe(true);
    signal();
    const finished = await stack.finished;

    const dynamoStopped = !(await canConnect(dynamoPort));
    const files = readdirSync(dataDir);
    const recorded = existsSync(stackFile);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(stackFile, { force: true });

    expect(finished.out).toContain('Stopping… once started');
    expect(finished.out).not.toContain('Ctrl-C stops everything');
    expect(finished.err).toBe('');
    expect(finished.code).toBe(0);
    expect(dynamoStopped).toBe(true);
    expect(files.filter(isClaimFile)).toEqual([]);
    expect(recorded).toBe(false);
  });

  it('asked again while its start hangs (a DynamoDB Local that never answers), stops at once, Java included', async () => {
    // A `java` that is the real one, but for the server: that one only says its pid and waits, as a hung start would.
    const bin = mkdtempSync(join(tmpdir(), 'pulau-java-'));
    const serverPidFile = join(bin, 'server.pid');
    const realJava = execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
    writeFileSync(join(bin, 'java'), `#!/bin/sh\ncase " $* " in *" -port "*) echo $$ > '${serverPidFile}'; exec sleep 300;; esac\nexec '${realJava}' "$@"\n`, {
      mode: 0o755,
    });
    const env = await ownLocalEnv();
    const stack = runProcess('npm', ['start', '--silent', '--', '--in-memory'], { ...env, PATH: `${bin}:${process.env.PATH}` });
    expect(await until(async () => existsSync(serverPidFile) && readFileSync(serverPidFile, 'utf8').endsWith('\n'))).toBe(true);
    const serverPid = Number(readFileSync(serverPidFile, 'utf8'));

    process.kill(stack.child.pid as number, 'SIGTERM');
    await stack.waitFor(/Stopping… once started \(again to stop at once\)/);
    // Asked again a moment later, as a person presses Ctrl-C again: signals within a second are one ask (npm's copy).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    process.kill(stack.child.pid as number, 'SIGTERM');
    const finished = await stack.finished;
    const serverGone = await processGone(serverPid);
    rmSync(bin, { recursive: true, force: true });
    rmSync(env.LOCAL_STACK_FILE as string, { force: true });

    expect(finished.out).not.toContain('Ctrl-C stops everything');
    // 130, as a shell reports an interrupt: not the start giving up on DynamoDB Local by itself (the first stop's end).
    expect(finished.code).toBe(130);
    expect(serverGone).toBe(true);
  });

  it.each([
    { signal: 'SIGTERM', to: 'npm' },
    { signal: 'SIGHUP', to: 'npm' },
    { signal: 'SIGKILL', to: 'npm' },
    { signal: 'SIGKILL', to: 'node' },
  ] as const)('leaves no Java behind after $signal of $to', async ({ signal, to }) => {
    const env = await ownLocalEnv();
    const stack = runProcess('npm', ['start', '--silent', '--', '--in-memory'], env);
    const printed = await stack.waitFor(/Ctrl-C stops everything/);
    const javaPid = Number(/DynamoDB Local \S+ \(pid (\d+)\)/.exec(printed)?.[1]);
    const nodePid = Number((JSON.parse(readFileSync(env.LOCAL_STACK_FILE as string, 'utf8')) as { pid: number }).pid);
    expect(javaPid).toBeGreaterThan(0);

    process.kill(to === 'npm' ? (stack.child.pid as number) : nodePid, signal);
    await stack.finished;

    const javaGone = await processGone(javaPid);
    const nodeGone = await processGone(nodePid);
    rmSync(env.LOCAL_STACK_FILE as string, { force: true });

    expect(javaGone).toBe(true);
    expect(nodeGone).toBe(true);
  });
});
