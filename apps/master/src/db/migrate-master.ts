import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MasterConfig } from '../config.ts';
import { openMasterDatabase } from './database.ts';
import { MASTER_MIGRATIONS } from './migrations.ts';
import { migrateToPostgres, MigrationError, type MigrationSummary, type TableCopied } from './migrate-to-postgres.ts';

/**
 * `moat master migrate --config FILE --to postgres://…`: the stopped master's SQLite file
 * (`<dataDir>/master.sqlite`) into a new PostgreSQL database, migrated here to the same
 * schema version, copied in one transaction and verified before it commits.
 */
export async function migrateMasterToPostgres(config: Pick<MasterConfig, 'dataDir' | 'database'>, url: string, onTable?: (copied: TableCopied) => void): Promise<MigrationSummary> {
  if (config.database) throw new MigrationError('database.url is set in this config: its master already keeps its state in PostgreSQL; give the config of the SQLite master');
  const path = join(config.dataDir, 'master.sqlite');
  if (!existsSync(path)) throw new MigrationError(`no SQLite master at ${path} (dataDir ${config.dataDir})`);
  // Opening migrates the file to this release's schema, as starting the master would.
  const source = await openMasterDatabase({ engine: 'sqlite', path }, MASTER_MIGRATIONS);
  try {
    const target = await openMasterDatabase({ engine: 'postgres', url, poolSize: 2 }, MASTER_MIGRATIONS);
    try {
      return await migrateToPostgres(source, target, onTable);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
