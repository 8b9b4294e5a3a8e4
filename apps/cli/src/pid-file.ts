import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { writeFileDurably } from '@moat/storage';

/**
 * MOAT_PID_FILE=FILE: a running role writes its process id there once it is up, and removes the
 * file when it stops, unless another process has written its own id there since. A role that is
 * killed -9 cannot remove it; whoever started it can ('moat local' does).
 */
export async function publishPid(file: string | undefined, pid: number): Promise<() => Promise<void>> {
  if (!file) return async () => undefined;
  await writeFileDurably(file, `${pid}\n`);
  return async () => {
    if (readPid(file) === pid) await rm(file, { force: true });
  };
}

/** The id in a pid file, or undefined when there is no file or no id in it. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
