import { join } from 'node:path';
import type { MasterConfig } from '../config.ts';
import { openMasterDatabase, type MasterDatabase } from './database.ts';
import { MASTER_MIGRATIONS } from './migrations.ts';

/**
 * The master's database as its config says: PostgreSQL at `database.url` (migrated on open,
 * concurrent starts take turns), else SQLite at `<dataDir>/master.sqlite`. The master, `moat
 * master reset-password` and `moat master join-token` open it the same way.
 */
export function openConfiguredDatabase(config: Pick<MasterConfig, 'dataDir' | 'database'>): Promise<MasterDatabase> {
  return config.database
    ? openMasterDatabase({ engine: 'postgres', url: config.database.url, poolSize: config.database.poolSize }, MASTER_MIGRATIONS)
    : openMasterDatabase({ engine: 'sqlite', path: join(config.dataDir, 'master.sqlite') }, MASTER_MIGRATIONS);
}
