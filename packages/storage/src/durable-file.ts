import { open, rename, rm, readdir, mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';

/**
 * Durable file writes: the one helper every "this is on disk now" promise goes through.
 * Order matters: data fsync'd before the rename, directory fsync'd after it, so a crash
 * leaves either the old name or the complete new file, never a torn one.
 */

/** fsync a directory so that a rename or unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync an existing file by path. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Move an already fsync'd file into place and make the move itself durable. */
export async function moveDurably(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncDir(dirname(to));
}

/** Write bytes to a temporary name, fsync, rename into place, fsync the directory. */
export async function writeFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await moveDurably(tmp, path);
}

/** Remove a file and make the removal durable; a missing file is not an error. */
export async function removeDurably(path: string): Promise<void> {
  await rm(path, { force: true });
  await fsyncDir(dirname(path));
}

/** Create the directories a node keeps its files in (mode 0700: mail is private). */
export async function ensureDirs(...dirs: string[]): Promise<void> {
  for (const dir of dirs) await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Delete leftovers of interrupted writes (`*.tmp-*`) in a directory; returns how many. */
export async function sweepTemporaryFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (name.includes('.tmp-')) {
      await rm(join(dir, name), { force: true });
      removed++;
    }
  }
  if (removed > 0) await fsyncDir(dir);
  return removed;
}
