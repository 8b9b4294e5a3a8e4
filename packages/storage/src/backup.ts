import { chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { fsyncFile, moveDurably, removeDurably } from './durable-file.ts';

/**
 * A consistent copy of a live SQLite database with SQLite's online backup API (through
 * better-sqlite3): safe while the owning process keeps writing (WAL), unlike copying the file,
 * which can tear a page or miss the WAL. Written under a temporary name, fsync'd, then renamed
 * into place, so `dest` is either absent or complete. Returns the pages copied.
 */
export async function backupDatabase(source: string, dest: string): Promise<{ pages: number }> {
  if (!existsSync(source)) throw new Error(`no database at ${source}`);
  if (existsSync(dest)) throw new Error(`${dest} exists; a backup never overwrites`);
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const result = await db.backup(tmp);
    await chmod(tmp, 0o600);
    await fsyncFile(tmp);
    await moveDurably(tmp, dest);
    return { pages: result.totalPages };
  } catch (err) {
    await removeDurably(tmp).catch(() => undefined);
    throw err;
  } finally {
    db.close();
  }
}
