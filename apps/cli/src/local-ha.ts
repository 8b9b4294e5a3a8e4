import { chmodSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureDirs, writeFileDurably } from '@moat/storage';
import { validateDocument } from '@moat/config';
import { demoRules } from '@moat/rules';
import { MasterConfigSchema, mintJoinTokenOffline, type MasterConfig } from '@moat/master';
import { pgAutoFailoverMissing, startPgAutoFailover, type PgAutoFailover } from '@moat/engines';
import { LOCAL_DEFAULTS, persistentSecret, startClusterParts, type LocalClusterOptions, type LocalClusterParts } from './local-cluster.ts';
import { startSupervisedScanner, type SupervisedScanner } from './supervised-scanner.ts';

/**
 * `pnpm start:ha` (`moat local --ha`): the local cluster with the HA story of docs/database.md.
 * A private PostgreSQL primary and synchronous standby under pg_auto_failover (monitor and
 * both nodes in `var/ha/postgres/`, no system service), two masters on it, each in a process
 * of its own (`moat master --config var/ha/master-N/master.yaml`, started again 5 s after it
 * ends, as a scanner is), both active; the usual scanners list both masters, the sink and the
 * engines as `pnpm start` has them. Everything but the engines (shared with `pnpm start`, in
 * `var/engines/`) lives under `var/ha/`, apart from the SQLite cluster's `var/master/`.
 */
export interface LocalHaOptions extends LocalClusterOptions {
  /**
   * The masters' HTTP ports (default 8080 and 8081). Fixed, never 0: a master started again
   * must be where the scanners' `master.url` lists it.
   */
  readonly masterPorts?: readonly [number, number];
  /** pg_auto_failover's failure detection scaled down (default true: a failover in about 12 s instead of about 50 s). */
  readonly fastFailover?: boolean;
}

export interface LocalHaMaster {
  readonly name: string;
  /** The console and API, `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly process: SupervisedScanner;
}

export interface LocalHaCluster extends LocalClusterParts {
  readonly masters: readonly LocalHaMaster[];
  /** The pg_auto_failover formation: `nodes()`, `state()`, `kill(name)` for a failover by hand. */
  readonly database: PgAutoFailover;
  /** The masters' `database.url` (both hosts; it holds the `moat` role's password: never print it). */
  readonly databaseUrl: string;
}

export async function startLocalHaCluster(options: LocalHaOptions = {}): Promise<LocalHaCluster> {
  const varDir = resolve(options.varDir ?? LOCAL_DEFAULTS.varDir);
  const root = join(varDir, LOCAL_DEFAULTS.ha.dir);
  const level = options.logLevel ?? 'info';
  const say = options.say ?? ((line: string) => process.stderr.write(`moat local: ${line}\n`));
  const missing = pgAutoFailoverMissing();
  if (missing) throw new Error(`moat local --ha needs PostgreSQL and pg_auto_failover: ${missing} (sudo apt-get install postgresql pg-auto-failover-cli postgresql-15-auto-failover)`);
  await ensureDirs(varDir, root);
  // As root, PostgreSQL runs as the postgres user, which must be able to enter var/ and var/ha/ (not list them).
  if (process.getuid?.() === 0) for (const dir of [varDir, root]) chmodSync(dir, (statSync(dir).mode & 0o777) | 0o011);

  say(`starting PostgreSQL under pg_auto_failover in ${join(root, 'postgres')} (the first start makes the primary and clones its standby: about a minute)`);
  const database = await startPgAutoFailover({ dir: join(root, 'postgres'), fastFailover: options.fastFailover ?? true });
  try {
    const [first, second] = database.nodes();
    // libpq's multi-host form: each master's primary finder asks both for the one that takes writes.
    const databaseUrl = first!.url.replace(`127.0.0.1:${first!.port}`, `127.0.0.1:${first!.port},127.0.0.1:${second!.port}`);
    // Given, not generated: both masters start with it, and whichever creates the first admin uses it.
    const adminPassword = await persistentSecret(join(root, 'admin-password'));
    const seedFile = join(root, 'demo-rules.json');
    await writeFileDurably(seedFile, JSON.stringify(demoRules(), null, 2));
    const ports = options.masterPorts ?? LOCAL_DEFAULTS.ha.masters.map((m) => m.port);
    const configs: { name: string; dataDir: string; document: Record<string, unknown>; config: MasterConfig }[] = LOCAL_DEFAULTS.ha.masters.map((m, i) => {
      const dataDir = join(root, m.name);
      const document = {
        node: { name: m.name },
        dataDir,
        database: { url: databaseUrl },
        http: { host: LOCAL_DEFAULTS.master.host, port: ports[i] },
        admin: { username: LOCAL_DEFAULTS.adminUser, password: adminPassword },
        rules: { seedFile },
        log: { level },
      };
      return { name: m.name, dataDir, document, config: validateDocument(MasterConfigSchema, document, `local cluster (${m.name})`) };
    });
    const masters: LocalHaMaster[] = [];
    const parts = await startClusterParts(root, options, {
      enginesDir: join(varDir, 'engines'),
      async startMasters() {
        try {
          // One after the other: the first migrates the new database and seeds it; the second finds it done.
          for (const c of configs) {
            await ensureDirs(c.dataDir);
            const proc = await startSupervisedScanner({ role: 'master', name: c.name, dataDir: c.dataDir, config: c.document, say, ...(options.restartDelayMs !== undefined ? { restartDelayMs: options.restartDelayMs } : {}) });
            masters.push({ name: c.name, url: `http://${LOCAL_DEFAULTS.master.host}:${c.config.http.port}`, process: proc });
          }
        } catch (err) {
          for (const m of masters) await m.process.close();
          throw err;
        }
        return {
          urls: masters.map((m) => `ws://${LOCAL_DEFAULTS.master.host}:${new URL(m.url).port}/cluster`),
          adminPassword,
          async mintJoinToken(name) {
            return (await mintJoinTokenOffline(configs[0]!.config, name, { ttlSeconds: 3600, replace: true })).token;
          },
          async close() {
            await Promise.all(masters.map((m) => m.process.close()));
          },
        };
      },
    });
    return {
      ...parts,
      masters,
      database,
      databaseUrl,
      async close() {
        await parts.close();
        await database.stop();
      },
    };
  } catch (err) {
    await database.stop();
    throw err;
  }
}
