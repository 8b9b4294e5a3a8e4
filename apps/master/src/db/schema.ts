import type { AdminTables } from './tables/admin.ts';
import type { AuthTables } from './tables/auth.ts';
import type { ClusterTables } from './tables/cluster.ts';
import type { CoordinationTables } from './tables/coordination.ts';
import type { DataTables } from './tables/data.ts';
import type { MasterTables } from './tables/masters.ts';

export type { UsersTable, SessionsTable, ApiTokensTable } from './tables/auth.ts';

/**
 * The master's tables as the common query layer (Kysely) sees them: one interface per area in
 * `tables/`, one per table inside, added as each repository moves onto that layer
 * (docs/database.md). Column types are what both engines give back: epoch milliseconds and
 * counters as numbers (PostgreSQL's BIGINT is parsed to a number in db/database.ts), booleans
 * as 0/1 integers.
 */
export interface MasterSchema extends AuthTables, DataTables, ClusterTables, AdminTables, MasterTables, CoordinationTables {}
