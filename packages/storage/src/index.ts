export { fsyncDir, fsyncFile, moveDurably, writeFileDurably, removeDurably, ensureDirs, sweepTemporaryFiles } from './durable-file.ts';
export { openDatabase, migrate, walSync, type Db, type Migration, type OpenOptions } from './sqlite.ts';
export { GroupCommitter, SyncFailedError } from './group-commit.ts';
export { CoalescedSync, DirSyncer, PathSync } from './dir-sync.ts';
export { backupDatabase } from './backup.ts';
