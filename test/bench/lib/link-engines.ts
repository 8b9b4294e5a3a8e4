/**
 * The database engines the master link benchmark runs its masters on, each private to the run
 * and stopped after it: SQLite (the master's own file in its data folder), a PostgreSQL server
 * (`startPostgres`) and a PostgreSQL primary with a synchronous standby under pg_auto_failover
 * (`startPgAutoFailover`). For PostgreSQL it hands out fresh databases (a master's
 * `database.url`, the in-process baseline's), the CPU the server processes spent, and the
 * standby's state as PostgreSQL reports it (pg_stat_replication, synchronous_standby_names),
 * asked as a superuser: the `moat` role sees only the pid of pg_stat_replication's rows.
 */
import { join } from 'node:path';
import pg from 'pg';
import { pgAutoFailoverMissing, postgresBinDir, startPgAutoFailover, startPostgres } from '@moat/engines';
import { onCleanup } from './cleanup.ts';
import { treeCpuWithReapedMs } from './proc-cpu.ts';

export type LinkEngineKey = 'sqlite' | 'postgres' | 'postgres-sync';
export const LINK_ENGINE_KEYS: readonly LinkEngineKey[] = ['sqlite', 'postgres', 'postgres-sync'];
export const LINK_ENGINE_LABELS: Readonly<Record<LinkEngineKey, string>> = { sqlite: 'SQLite', postgres: 'PostgreSQL', 'postgres-sync': 'PostgreSQL + sync standby' };

/** What PostgreSQL said about its standby at one moment of the run. */
export interface ReplicationCheck {
  readonly at: string;
  readonly synchronousStandbyNames: string;
  readonly synchronousCommit: string;
  readonly standbys: readonly { name: string; state: string; syncState: string }[];
  /** A standby named by synchronous_standby_names was streaming as `sync` or `quorum`. */
  readonly synchronous: boolean;
}

export interface LinkEngine {
  readonly key: LinkEngineKey;
  readonly label: string;
  /** A new empty database for a master (`database.url`, migrated by the master), undefined on SQLite (a file in its data folder). */
  newDatabase(name: string): Promise<string | undefined>;
  /**
   * CPU (ms) spent so far by the server's processes, the backends that ended included (their
   * parent reaped them): the primary's, and the standby's and monitor's. Zero on SQLite (in the master).
   */
  serverCpuMs(): { primary: number; others: number };
  /** Version and settings, for the report. */
  describe(): Promise<string>;
  /** The standby's state now (postgres-sync only). */
  replication(): Promise<ReplicationCheck | undefined>;
  stop(): Promise<void>;
}

/** Why an engine cannot run here, or undefined. */
export function linkEngineMissing(key: LinkEngineKey): string | undefined {
  if (key === 'sqlite') return undefined;
  if (!postgresBinDir()) return 'PostgreSQL is not installed (Debian package postgresql)';
  return key === 'postgres-sync' ? pgAutoFailoverMissing() : undefined;
}

/** Starts `key` with its files under `dir` (removed with it). */
export async function startLinkEngine(key: LinkEngineKey, dir: string): Promise<LinkEngine> {
  const label = LINK_ENGINE_LABELS[key];
  if (key === 'sqlite') {
    return {
      key, label,
      newDatabase: async () => undefined,
      serverCpuMs: () => ({ primary: 0, others: 0 }),
      describe: async () => 'SQLite (better-sqlite3) in the master\'s process: WAL, synchronous = FULL (the master\'s pragmas)',
      replication: async () => undefined,
      stop: async () => undefined,
    };
  }
  if (key === 'postgres') {
    const server = await startPostgres({ dir: join(dir, 'postgres') });
    const unregister = onCleanup(`PostgreSQL ${server.pid}`, () => killQuietly(server.pid));
    // initdb made `moat` the superuser of this private server.
    const admin = { connectionString: server.url.replace(/\/moat$/, '/postgres') };
    return {
      key, label,
      newDatabase: (name) => createDatabase(admin, name).then(() => server.url.replace(/\/moat$/, `/${name}`)),
      serverCpuMs: () => ({ primary: treeCpuWithReapedMs(server.pid), others: 0 }),
      describe: async () => `${await settings(admin)}; one private server (startPostgres), its own defaults otherwise`,
      replication: async () => undefined,
      async stop() {
        unregister();
        await server.stop();
      },
    };
  }
  const formation = await startPgAutoFailover({ dir: join(dir, 'pgaf') });
  const primary = formation.nodes()[0]!;
  // Superuser over the formation's unix sockets (trusted there; the folder is 0700).
  const admin = { host: formation.dir, port: primary.port, user: 'postgres', database: 'postgres' };
  const cpu = (name: string) => {
    const pid = formation.pid(name);
    return pid === undefined ? 0 : treeCpuWithReapedMs(pid);
  };
  const unregister = onCleanup('pg_auto_failover formation', () => {
    for (const name of ['node1', 'node2', 'monitor']) {
      const pid = formation.pid(name);
      if (pid !== undefined) killQuietly(-pid);
    }
  });
  return {
    key, label,
    newDatabase: (name) => createDatabase(admin, name).then(() => primary.url.replace(/\/moat$/, `/${name}`)),
    serverCpuMs: () => ({ primary: cpu('node1'), others: cpu('node2') + cpu('monitor') }),
    describe: async () => `${await settings(admin)}; the primary of a pg_auto_failover formation (startPgAutoFailover: monitor, primary, standby in the replication quorum, all on this machine), pg_auto_failover's defaults otherwise`,
    replication: () => replicationNow(admin),
    async stop() {
      unregister();
      await formation.stop();
    },
  };
}

async function withClient<T>(config: pg.ClientConfig, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(config);
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

async function createDatabase(admin: pg.ClientConfig, name: string): Promise<void> {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: lower-case letters, digits and _ only`);
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name} OWNER moat`));
}

async function settings(admin: pg.ClientConfig): Promise<string> {
  return withClient(admin, async (c) => {
    const show = async (name: string) => String((await c.query(`SHOW ${name}`)).rows[0][name]);
    const version = (await show('server_version')).split(' ')[0];
    return `PostgreSQL ${version} (shared_buffers ${await show('shared_buffers')}, fsync ${await show('fsync')}, synchronous_commit ${await show('synchronous_commit')}, wal_level ${await show('wal_level')})`;
  });
}

async function replicationNow(admin: pg.ClientConfig): Promise<ReplicationCheck> {
  return withClient(admin, async (c) => {
    const names = String((await c.query('SHOW synchronous_standby_names')).rows[0].synchronous_standby_names);
    const commit = String((await c.query('SHOW synchronous_commit')).rows[0].synchronous_commit);
    const { rows } = await c.query<{ application_name: string; state: string; sync_state: string }>('SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name');
    const standbys = rows.map((r) => ({ name: r.application_name, state: r.state, syncState: r.sync_state }));
    const synchronous = names.trim() !== '' && commit !== 'off' && commit !== 'local'
      && standbys.some((s) => s.state === 'streaming' && (s.syncState === 'sync' || s.syncState === 'quorum') && names.includes(s.name));
    return { at: new Date().toISOString(), synchronousStandbyNames: names, synchronousCommit: commit, standbys, synchronous };
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
