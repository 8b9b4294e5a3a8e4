/**
 * The database engines the master benchmark runs on, each started privately for the run and
 * stopped after it: SQLite (a file in a temp folder, the master's own pragmas), and the
 * PostgreSQL server and pg_auto_failover formation the link benchmark starts too
 * (link-engines.ts). Each hands out a fresh migrated master database.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openMasterDatabase, type Engine, type MasterDatabase } from '../../../apps/master/src/db/database.ts';
import { MASTER_MIGRATIONS } from '../../../apps/master/src/db/migrations.ts';
import { LINK_ENGINE_KEYS, LINK_ENGINE_LABELS, linkEngineMissing, startLinkEngine, type LinkEngineKey } from './link-engines.ts';

export type EngineKey = LinkEngineKey;
export const ENGINE_KEYS = LINK_ENGINE_KEYS;
export const ENGINE_LABELS = LINK_ENGINE_LABELS;
/** Why an engine cannot run here, or undefined. */
export const engineMissing = linkEngineMissing;

export interface BenchEngine {
  readonly key: EngineKey;
  readonly engine: Engine;
  /** A new, empty, migrated master database (`name` tells them apart on one server). */
  open(name: string): Promise<MasterDatabase>;
  /** Bytes the database takes on disk. */
  size(database: MasterDatabase, name: string): Promise<number>;
  /** What the report says about the engine: version, settings, the standby's state. */
  describe(database: MasterDatabase): Promise<string>;
  stop(): Promise<void>;
}

export async function startEngine(key: EngineKey, dir: string): Promise<BenchEngine> {
  if (key === 'sqlite') {
    const folder = mkdtempSync(join(dir || tmpdir(), 'moat-master-bench-'));
    const file = (name: string) => join(folder, `${name}.sqlite`);
    const bytes = (f: string) => (existsSync(f) ? statSync(f).size : 0);
    return {
      key, engine: 'sqlite',
      open: (name) => openMasterDatabase({ engine: 'sqlite', path: file(name) }, MASTER_MIGRATIONS),
      size: async (_, name) => bytes(file(name)) + bytes(`${file(name)}-wal`),
      describe: async (d) => `SQLite ${String(d.sqlite!.prepare('SELECT sqlite_version()').pluck().get())} (WAL, synchronous=${String(d.sqlite!.pragma('synchronous', { simple: true }))}, the master's pragmas)`,
      stop: async () => rmSync(folder, { recursive: true, force: true }),
    };
  }
  // The server's files under a folder of the run's own (readable by the postgres user when root), removed with it.
  const folder = mkdtempSync(join(dir || tmpdir(), 'moat-bench-pg-'));
  chmodSync(folder, 0o755);
  const server = await startLinkEngine(key, folder);
  return {
    key, engine: 'postgres',
    // Each database its own, next to the server's own `moat`: `bench_` keeps the names apart.
    open: async (name) => openMasterDatabase({ engine: 'postgres', url: (await server.newDatabase(`bench_${name}`))! }, MASTER_MIGRATIONS),
    size: async (d) => Number((await sql<{ n: number }>`SELECT pg_database_size(current_database()) AS n`.execute(d.db)).rows[0]!.n),
    async describe() {
      const base = await server.describe();
      const replication = await server.replication();
      if (!replication) return base;
      const standbys = replication.standbys.map((s) => `${s.name} ${s.state}, ${s.syncState}`).join('; ') || 'none streaming';
      return `${base} (standbys: ${standbys}; synchronous_standby_names = '${replication.synchronousStandbyNames}'). ` +
        `**The standby was ${replication.synchronous ? 'synchronous' : 'NOT synchronous'}** when asked${replication.synchronous ? ': every commit returned only once the standby had it' : ''}`;
    },
    async stop() {
      await server.stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
