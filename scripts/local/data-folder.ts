// One stack at a time on a data folder: two DynamoDB Locals writing one database file corrupt it, and a `--reset` deletes it under the other.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './local-settings';

/** The file in the data folder that names the process using it. */
export const CLAIM_FILE = 'in-use-by.pid';

export class DataFolderInUseError extends Error {
  constructor(
    readonly folder: string,
    readonly pid: number,
  ) {
    super(
      `${folder} is in use by another stack (pid ${pid}); stop it, or set DATA_DIR to another folder, or use --in-memory ` +
        `(if no stack runs, that pid is another program's now: remove ${join(folder, CLAIM_FILE)})`,
    );
    this.name = 'DataFolderInUseError';
  }
}

/**
 * Claims `folder` for this process (creating it), or throws DataFolderInUseError when a live process holds it; a claim
 * left by a process that is gone (a `kill -9`) is taken over. Answers the release, which removes the claim if it is still
 * this process's. Claim before deleting anything in the folder: `--reset` must not delete another stack's data.
 */
export function claimDataFolder(folder: string): () => void {
  const file = join(folder, CLAIM_FILE);
  mkdirSync(folder, { recursive: true });
  for (;;) {
    try {
      // Created only if absent: of two stacks starting at once, one gets it.
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        if (holder(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
    const pid = holder(file);
    if (pid !== undefined && isAlive(pid)) throw new DataFolderInUseError(folder, pid);
    rmSync(file, { force: true });
  }
}

function holder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
