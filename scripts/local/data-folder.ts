// One stack at a time on a data folder: two DynamoDB Locals writing one database file corrupt it, and a `--reset` deletes it under the other.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isAlive, LocalSettingError } from './local-settings';

/** Each stack's claim is a file of its own, named by its pid: `in-use-by.<pid>`. */
const CLAIM = /^in-use-by\.(\d+)$/;

export const claimFileOf = (pid: number): string => `in-use-by.${pid}`;

export const isClaimFile = (name: string): boolean => CLAIM.test(name);

export class DataFolderInUseError extends Error {
  constructor(
    readonly folder: string,
    readonly pid: number,
  ) {
    super(
      `${folder} is in use by another stack (pid ${pid}); stop it, or set DATA_DIR to another folder, or use --in-memory ` +
        `(if no stack runs, that pid is another program's now: remove ${join(folder, claimFileOf(pid))})`,
    );
    this.name = 'DataFolderInUseError';
  }
}

/**
 * Claims `folder` for this process (creating it), or throws DataFolderInUseError when another live process claims it.
 * Answers the release. Claim before deleting anything in the folder: `--reset` must not delete another stack's data.
 *
 * Each claimer first writes its own file, then looks for the others': of two claiming at once, the later to write always
 * sees the earlier one, so two never both hold the folder (two at the very same instant may both refuse; started again,
 * one gets it). A claim whose process is gone (a `kill -9`) is removed by whoever finds it, and one naming this very pid
 * (left by an earlier process that had it, as in a container started again) is this process's own.
 */
export function claimDataFolder(folder: string): () => void {
  const own = join(folder, claimFileOf(process.pid));
  try {
    makeFolder(folder);
    writeFileSync(own, `${process.pid}\n`);
  } catch (error) {
    throw new LocalSettingError(
      `DATA_DIR ${folder} cannot be used (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): set DATA_DIR to a folder you can write, or use --in-memory`,
    );
  }
  const release = (): void => rmSync(own, { force: true });
  for (const name of readdirSync(folder)) {
    const pid = Number(CLAIM.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (isAlive(pid)) {
      release();
      throw new DataFolderInUseError(folder, pid);
    }
    rmSync(join(folder, name), { force: true });
  }
  return release;
}

/** `mkdir -p`, one level at a time: Node's own recursive mkdir never returns under some paths (`/proc/…`). */
function makeFolder(folder: string): void {
  const missing: string[] = [];
  let at = resolve(folder);
  while (!existsSync(at)) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const path of missing) mkdirSync(path);
}
