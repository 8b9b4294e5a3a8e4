import { chmod, copyFile, mkdir, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backupDatabase, fsyncDir, fsyncFile } from '@moat/storage';

/**
 * `moat backup master|scanner --config FILE --out DIR`, while the node runs.
 * master: `DIR/master.sqlite` (rules and their history, users, audit, the message log, the
 * quarantine index, the nodes' public keys and the hashes of join tokens: no node's secret).
 * scanner: `DIR/scanner.sqlite`, `DIR/quarantine/` with the files its index names, and the
 * node's key, id and last pushed rules (`node-key.pem`, `cluster-credential.json`, `rules.json`), so a
 * restored node comes back as itself and filters before it reaches the master. The
 * database is copied first; a quarantined file released or deleted before its copy is dropped
 * from the copied index, so the backup never names a file it lacks.
 */
export interface BackupReport {
  readonly out: string;
  readonly database: string;
  readonly pages: number;
  readonly quarantineFiles?: number;
  readonly droppedRows?: number;
  readonly extraFiles?: readonly string[];
}

/** Small files beside a scanner's database that make it the same node after a restore. */
const SCANNER_FILES = ['node-key.pem', 'cluster-credential.json', 'rules.json'];

export async function backupMaster(dataDir: string, out: string): Promise<BackupReport> {
  await prepareOut(out);
  const database = join(out, 'master.sqlite');
  const { pages } = await backupDatabase(join(dataDir, 'master.sqlite'), database);
  await fsyncDir(out);
  return { out, database, pages };
}

export async function backupScanner(dataDir: string, out: string): Promise<BackupReport> {
  await prepareOut(out);
  const database = join(out, 'scanner.sqlite');
  const { pages } = await backupDatabase(join(dataDir, 'scanner.sqlite'), database);
  const qDir = join(out, 'quarantine');
  await mkdir(qDir, { mode: 0o700 });
  const copy = new Database(database);
  let files = 0;
  let dropped = 0;
  try {
    const rows = copy.prepare('SELECT id, file FROM quarantine').all() as { id: string; file: string }[];
    const drop = copy.prepare('DELETE FROM quarantine WHERE id = ?');
    for (const row of rows) {
      // Only plain names inside the quarantine folder, as the scanner itself stores them.
      const name = row.file.split('/').pop()!;
      const from = join(dataDir, 'quarantine', name);
      if (!existsSync(from)) {
        drop.run(row.id);
        dropped++;
        continue;
      }
      await copyFile(from, join(qDir, name));
      await fsyncFile(join(qDir, name));
      files++;
    }
  } finally {
    copy.close();
  }
  const extraFiles: string[] = [];
  for (const name of SCANNER_FILES) {
    if (!existsSync(join(dataDir, name))) continue;
    await copyFile(join(dataDir, name), join(out, name));
    await chmod(join(out, name), 0o600);
    await fsyncFile(join(out, name));
    extraFiles.push(name);
  }
  await fsyncFile(database);
  await fsyncDir(qDir);
  await fsyncDir(out);
  return { out, database, pages, quarantineFiles: files, droppedRows: dropped, extraFiles };
}

async function prepareOut(out: string): Promise<void> {
  await mkdir(out, { recursive: true, mode: 0o700 });
  const existing = await readdir(out);
  if (existing.length > 0) throw new Error(`${out} is not empty; a backup goes into a new or empty folder`);
}
