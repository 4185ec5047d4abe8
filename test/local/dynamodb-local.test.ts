// DynamoDB Local is reachable on 127.0.0.1 and from nowhere else, in memory and on disk; a Java that cannot build the launcher says so in one line.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { endianness, networkInterfaces, tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDynamoDbLocalWithTable } from '../../scripts/dev-kit/booking-table';
import { EVERY_INTERFACE_WARNING, PortInUseError, startDynamoDbLocal } from '../../scripts/dev-kit/dynamodb-local';
import { ownLocalEnv, processGone, runProcess } from '../support/processes';

/** Every address of this machine that is not loopback, link-local ones with their interface. */
function otherAddresses(): string[] {
  return Object.entries(networkInterfaces()).flatMap(([name, addresses]) =>
    (addresses ?? []).filter((address) => !address.internal).map((address) => (address.scopeid ? `${address.address}%${name}` : address.address)),
  );
}

/** 'connected', or the error a connection attempt ended with (ECONNREFUSED when nothing listens there). */
function connectTo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 5_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** A /proc/net address word by word: each 32-bit word is in the kernel's byte order. */
function decodeProcAddress(hex: string): string {
  const words = (hex.match(/.{8}/g) ?? []).map((word) => {
    const bytes = Buffer.from(word, 'hex');
    return endianness() === 'LE' ? bytes.reverse() : bytes;
  });
  const bytes = Buffer.concat(words);
  if (bytes.length === 4) return [...bytes].join('.');
  const v4Mapped = bytes.subarray(0, 10).every((byte) => byte === 0) && bytes.readUInt16BE(10) === 0xffff;
  if (v4Mapped) return [...bytes.subarray(12)].join('.');
  return bytes.every((byte) => byte === 0) ? '::' : (bytes.toString('hex').match(/.{4}/g) ?? []).join(':');
}

/** The addresses a process listens on, from the kernel's socket tables (Linux): whatever the process is, whatever port. */
function listeningAddressesOf(pid: number): string[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        return inode ? [inode] : [];
      } catch {
        // A descriptor closed between listing and reading.
        return [];
      }
    }),
  );
  const LISTEN = '0A';
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
    readFileSync(table, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((row) => row.trim().split(/\s+/))
      .filter((columns) => columns[3] === LISTEN && inodes.has(columns[9] as string))
      .map((columns) => {
        const [address, port] = (columns[1] as string).split(':') as [string, string];
        return `${decodeProcAddress(address)}:${Number.parseInt(port, 16)}`;
      }),
  );
}

const LINUX = process.platform === 'linux';

describe('DynamoDB Local listens on 127.0.0.1 only', () => {
  it.each([{ storage: 'in memory' }, { storage: 'on disk' }])(
    '$storage: serves the table on 127.0.0.1, refuses every other address of this machine',
    async ({ storage }) => {
      const dbPath = storage === 'on disk' ? mkdtempSync(join(tmpdir(), 'bookings-loopback-')) : undefined;
      // The booking table created through it: the database works, not only its socket.
      const dynamo = await startDynamoDbLocalWithTable('loopback-test', dbPath ? { dbPath } : {});
      try {
        const others = otherAddresses();
        const elsewhere = await Promise.all(others.map(async (host) => [host, await connectTo(host, dynamo.port)]));
        const listening = LINUX ? listeningAddressesOf(dynamo.pid) : [];

        // Without another address (or /proc) there would be nothing to tell loopback from everywhere.
        expect(others.length > 0 || LINUX).toBe(true);
        expect(await connectTo('127.0.0.1', dynamo.port)).toBe('connected');
        expect(Object.fromEntries(elsewhere)).toEqual(Object.fromEntries(others.map((host) => [host, 'ECONNREFUSED'])));
        if (LINUX) expect(listening).toEqual([`127.0.0.1:${dynamo.port}`]);
        await expect(startDynamoDbLocal({ port: dynamo.port })).rejects.toThrow(PortInUseError);
      } finally {
        await dynamo.stop();
        if (dbPath) rmSync(dbPath, { recursive: true, force: true });
      }
      expect(() => process.kill(dynamo.pid, 0)).toThrow();
    },
  );
});

describe('DynamoDB Local and Ctrl-C', () => {
  it('stays up through a Ctrl-C to its process group until it is stopped, and is gone once stop() returns', async () => {
    // In a process group of its own, as a terminal runs `npm start`: Ctrl-C signals every process in it, the shell that
    // watches java included. Had that shell died of it, stop() would have found nothing to stop while java still ran.
    const probe = runProcess('setsid', ['node', '--import', 'tsx', 'test/support/dynamodb-local-under-ctrl-c.ts']);
    await probe.waitFor(/listening on \d+/);

    process.kill(-(probe.child.pid as number), 'SIGINT');
    const finished = await probe.finished;

    expect(finished).toMatchObject({ code: 0, err: '' });
    expect(finished.out).toContain('still answering: false');
  });
});

describe('npm start with a Java that has no compiler module (a JRE without jdk.compiler)', () => {
  it('starts DynamoDB Local as the jar alone does, on every interface, says so in one line, and leaves no Java behind', async () => {
    // The real java, its module graph limited to the Java SE platform: jdk.compiler is not there, as in a JRE built without it.
    const env: Record<string, string> = { ...(await ownLocalEnv()), JDK_JAVA_OPTIONS: '--limit-modules java.se,jdk.unsupported' };
    const stack = runProcess('npm', ['start', '--silent', '--', '--in-memory'], env);
    const printed = await stack.waitFor(/Ctrl-C stops everything/);
    const javaPid = Number(/DynamoDB Local \S+ \(pid (\d+)\)/.exec(printed)?.[1]);
    const port = Number(env.DYNAMODB_PORT);
    const others = otherAddresses();
    // The same probes that see nothing of the launcher's server see this one: they can tell the two apart.
    const elsewhere = await Promise.all(others.map(async (host) => [host, await connectTo(host, port)]));
    const listening = LINUX ? listeningAddressesOf(javaPid) : [];

    stack.child.kill('SIGTERM');
    await stack.finished;
    const javaGone = await processGone(javaPid);
    rmSync(env.LOCAL_STACK_FILE as string, { force: true });

    expect(printed.split('\n').filter((line) => line.startsWith('warning:'))).toEqual([EVERY_INTERFACE_WARNING]);
    expect(printed).toContain('Demo data      4 slots created');
    expect(Object.fromEntries(elsewhere)).toEqual(Object.fromEntries(others.map((host) => [host, 'connected'])));
    // `::` with the port: every IPv6 and IPv4 address (the socket is dual-stack).
    if (LINUX) expect(listening).toEqual([`:::${port}`]);
    expect(javaGone).toBe(true);
  });
});
