export { fsyncDir, fsyncFile, moveDurably, writeFileDurably, removeDurably, ensureDirs, sweepTemporaryFiles } from './durable-file.ts';
export { openDatabase, migrate, type Db, type Migration } from './sqlite.ts';
export { GroupCommitter } from './group-commit.ts';
export { DirSyncer } from './dir-sync.ts';
export { backupDatabase } from './backup.ts';
