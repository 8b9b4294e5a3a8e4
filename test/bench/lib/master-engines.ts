/**
 * The database engines the master benchmark runs on, each started privately for the run and
 * stopped after it: SQLite (a file in a temp folder, the master's own pragmas), a PostgreSQL
 * server (`startPostgres`), and a PostgreSQL primary with a synchronous standby under
 * pg_auto_failover (`startPgAutoFailover`). Each hands out a fresh migrated master database.
 */
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sql } from 'kysely';
import { pgAutoFailoverMissing, postgresBinDir, startPgAutoFailover, startPostgres, type PgNodeState } from '@moat/engines';
import { openMasterDatabase, type Engine, type MasterDatabase } from '../../../apps/master/src/db/database.ts';
import { MASTER_MIGRATIONS } from '../../../apps/master/src/db/migrations.ts';

export type EngineKey = 'sqlite' | 'postgres' | 'postgres-sync';
export const ENGINE_KEYS: readonly EngineKey[] = ['sqlite', 'postgres', 'postgres-sync'];
export const ENGINE_LABELS: Readonly<Record<EngineKey, string>> = { sqlite: 'SQLite', postgres: 'PostgreSQL', 'postgres-sync': 'PostgreSQL + sync standby' };

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

/** Why an engine cannot run here, or undefined. */
export function engineMissing(key: EngineKey): string | undefined {
  if (key === 'sqlite') return undefined;
  if (!postgresBinDir()) return 'PostgreSQL is not installed (Debian package postgresql)';
  return key === 'postgres-sync' ? pgAutoFailoverMissing() : undefined;
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
  const server = key === 'postgres' ? await startPostgres(dir ? { dir: mkdtempSync(join(dir, 'moat-bench-pg-')) } : {}) : undefined;
  const formation = key === 'postgres-sync' ? await startPgAutoFailover() : undefined;
  // Synchronous once the monitor has the standby as secondary (and the primary as primary, not wait_primary).
  const replicating = (nodes: readonly PgNodeState[]) => nodes.some((n) => n.reported === 'primary') && nodes.some((n) => n.reported === 'secondary');
  await formation?.waitForState(replicating, 120_000);
  const baseUrl = server?.url ?? formation!.nodes()[0]!.url;
  const urlOf = (name: string) => baseUrl.replace(/\/moat$/, `/${name}`);
  return {
    key, engine: 'postgres',
    async open(name) {
      if (name !== 'moat') {
        const admin = new pg.Client({ connectionString: urlOf('postgres') });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE ${name}`);
        } finally {
          await admin.end();
        }
      }
      return openMasterDatabase({ engine: 'postgres', url: urlOf(name) }, MASTER_MIGRATIONS);
    },
    size: async (d) => Number((await sql<{ n: number }>`SELECT pg_database_size(current_database()) AS n`.execute(d.db)).rows[0]!.n),
    async describe(d) {
      const setting = async (name: string) => String((await sql.raw<Record<string, unknown>>(`SHOW ${name}`).execute(d.db)).rows[0]![name]);
      const version = (await setting('server_version')).split(' ')[0];
      const base = `PostgreSQL ${version} (shared_buffers ${await setting('shared_buffers')}, synchronous_commit ${await setting('synchronous_commit')}, fsync ${await setting('fsync')})`;
      if (key !== 'postgres-sync') return `${base}, one private server`;
      const names = await setting('synchronous_standby_names');
      const nodes = await formation!.state();
      const synchronous = names !== '' && replicating(nodes);
      const states = nodes.map((n) => `${n.name} ${n.reported}`).join(', ');
      return `${base}, primary of a pg_auto_failover formation on this machine (monitor: ${states}; synchronous_standby_names = '${names}'). ` +
        `**The standby was ${synchronous ? 'synchronous' : 'NOT synchronous'}** at the end of the run${synchronous ? ': every commit returned only once the standby had it' : ''}`;
    },
    stop: async () => {
      await server?.stop();
      await formation?.stop();
    },
  };
}
