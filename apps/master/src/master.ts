import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from '@moat/config/logger';
import { Gauge, Registry } from 'prom-client';
import { ensureDirs, type Db } from '@moat/storage';
import { validateRules, type Rules } from '@moat/rules';
import { loadConfigFile } from '@moat/config';
import { Type } from 'typebox';
import { PROTOCOL_VERSION } from '@moat/protocol';
import type { MasterConfig } from './config.ts';
import type { MasterDatabase } from './db/database.ts';
import { openConfiguredDatabase } from './db/open-configured.ts';
import { buildApp } from './app.ts';
import { ClusterHub } from './cluster/hub.ts';
import { clusterLinkRoute } from './cluster/link-route.ts';
import { setUpPeers } from './cluster/peers.ts';
import { clusterRoutes } from './routes/cluster/index.ts';
import { dataRoutes } from './routes/data/index.ts';
import { currentRules, seedRules } from './rules/rules-repository.ts';
import { ensureFirstAdmin, type FirstAdmin } from './auth/bootstrap-admin.ts';
import { isUniqueViolation } from './auth/users-repository.ts';
import { changeNotices } from './db/change-notices.ts';
import { cookieIsSecure } from './auth/session-cookie.ts';
import { createAuditLog } from './audit/audit-log.ts';
import { createDigestRepository } from './digests/digest-repository.ts';
import { digestRoutes } from './digests/digest-routes.ts';
import { DigestRunner } from './digests/digest-runner.ts';
import { createDigestStore } from './digests/settings-repository.ts';
import { ReportRunner } from './scheduled-reports/report-runner.ts';
import { reportScheduleRoutes } from './scheduled-reports/report-routes.ts';
import { createScheduleRepository } from './scheduled-reports/schedule-repository.ts';
import { jobLease } from './db/leases.ts';
import { cacheSweep, CACHE_SWEEP_MS } from './jobs/cache-sweep.ts';
import { OnceOnlyJob } from './jobs/once-only-job.ts';
import { logRetention, LOG_RETENTION_MS } from './jobs/log-retention.ts';
import { topHeads, TOP_HEADS_MS } from './jobs/top-heads.ts';
import { enduserRoutes } from './enduser/enduser-routes.ts';
import { createEnduserLearning } from './enduser/enduser-learning.ts';

/** How often the master checks whether a digest round is due (the schedule's resolution). */
const DIGEST_TICK_MS = 30_000;
/** How often the master checks whether a scheduled report is due. */
const REPORT_TICK_MS = 30_000;

export interface Master {
  readonly port: number;
  readonly url: string;
  readonly app: FastifyInstance;
  readonly hub: ClusterHub;
  /** The raw SQLite handle (tests, the online backup): a master on PostgreSQL has none, and asking for it throws. */
  readonly db: Db;
  readonly database: MasterDatabase;
  readonly firstAdmin: FirstAdmin;
  /** Quarantine digests: rounds on the schedule, or `runRound()` now. */
  readonly digests: DigestRunner;
  /** Scheduled reports by mail: rounds on their schedules (`tick(at)` checks now). */
  readonly reports: ReportRunner;
  close(): Promise<void>;
}

export interface MasterOptions {
  readonly log?: Logger;
  readonly now?: () => number;
  /** Rules stored as version 1 when the master has none yet (the local cluster's demo rules). */
  readonly seedRules?: Rules;
  /** The cluster protocol version to speak; PROTOCOL_VERSION unless a test plays a newer master. */
  readonly protocolVersion?: number;
}

/** The master's composition root: database, cluster hub, HTTP app (API, link, metrics), first admin. */
export async function startMaster(config: MasterConfig, options: MasterOptions = {}): Promise<Master> {
  // `master`, not `node`: the master's lines about a scanner name it under `node`.
  const log = options.log ?? createLogger(config.log.level, { role: 'master', master: config.node.name }, { format: config.log.format });
  const now = options.now ?? Date.now;
  await ensureDirs(config.dataDir);
  const database = await openConfiguredDatabase(config);
  const db = database.sqlite;
  if (!(await currentRules(database.db))) {
    const seed = options.seedRules ?? (config.rules.seedFile ? readSeedRules(config.rules.seedFile) : undefined);
    // Masters starting at once on one PostgreSQL: the other one's version 1 wins.
    if (seed) await seedRules(database.db, seed, 'system', now()).catch((err: unknown) => { if (!isUniqueViolation(err)) throw err; });
  }

  // One registry for the HTTP app and the hub, served at /metrics.
  const registry = new Registry();
  const hub = new ClusterHub({
    registry,
    database,
    log,
    now,
    settings: {
      heartbeatMs: config.cluster.heartbeatSeconds * 1000,
      offlineAfterMissed: config.cluster.offlineAfterMissed,
      requestTimeoutMs: config.cluster.requestTimeoutSeconds * 1000,
      protocolVersion: options.protocolVersion ?? PROTOCOL_VERSION,
      masterName: config.node.name,
      sharedDatabase: config.database !== undefined,
    },
  });
  // Several masters on one PostgreSQL: what changes here reaches the scanners linked to the others.
  const notices = changeNotices(database, { url: config.database?.url, log, onChange: (kind) => hub.changedElsewhere(kind) });
  hub.announceChangesWith(notices);
  // …and a request for a node linked to another master is forwarded to it.
  const peers = await setUpPeers({ config, database, hub, log, now });
  const deps = { config, ...(db && { db }), database, log, now, cluster: hub };
  let url = '';
  // The jobs that must run once across masters hold a lease (db/leases.ts); this master
  // instance is its holder (a restart is another holder), and a lease outlives three ticks.
  const holder = `${config.node.name}/${randomBytes(4).toString('hex')}`;
  const leaseFor = (name: string, everyMs: number) => jobLease(database.db, name, { holder, ttlMs: 3 * everyMs, now });
  const sweeps = new OnceOnlyJob({ name: 'cache-sweep', lease: leaseFor('cache-sweep', CACHE_SWEEP_MS), log, run: cacheSweep(database.db, log, now) });
  const logPruning = new OnceOnlyJob({ name: 'log-retention', lease: leaseFor('log-retention', LOG_RETENTION_MS), log, run: logRetention(database.db, database.engine, config.messageLog.retentionDays, log, now) });
  const heads = new OnceOnlyJob({ name: 'top-heads', lease: leaseFor('top-heads', TOP_HEADS_MS), log, run: topHeads(database.db, log, now) });
  const digestStore = createDigestStore(database.db);
  const digestRepo = createDigestRepository(database.db);
  const digests = new DigestRunner({ store: digestStore, repo: digestRepo, relay: hub, log, now, ownUrl: () => url, hostname: config.node.name, quarantineLifetime: async () => (await currentRules(database.db))?.document.quarantine, lease: leaseFor('digests', DIGEST_TICK_MS) });
  const reportSchedules = createScheduleRepository(database.db);
  const reports = new ReportRunner({ db: database.db, repo: reportSchedules, relay: hub, log, now, hostname: config.node.name, lease: leaseFor('reports', REPORT_TICK_MS) });
  const auditLog = createAuditLog(database.db, now);
  // Every master serves: several masters on one PostgreSQL are all active (docs/database.md), so
  // the gauge the alert rules (deploy/prometheus) read is 1 on each.
  new Gauge({ name: 'moat_master_active', help: '1 while this master serves (every master running is active).', registers: [registry], collect() { this.set(1); } });
  const app = await buildApp(deps, {
    metricsRegistry: registry,
    extraPlugins: [
      clusterLinkRoute(hub),
      ...peers.routes,
      async (api) => {
        await api.register(dataRoutes, { prefix: '/api/v1', deps });
        await api.register(clusterRoutes(hub, deps), { prefix: '/api/v1' });
        await api.register(digestRoutes(digestStore, digests), { prefix: '/api/v1' });
        await api.register(reportScheduleRoutes(reportSchedules, reports, now), { prefix: '/api/v1' });
      },
      enduserRoutes({
        store: digestStore, repo: digestRepo, cluster: hub, releaseCopy: (n, m, r) => hub.releaseForRecipients(n, m, r), auditLog, publish: { db: database.db, now, log, cluster: hub }, log, now, secureCookie: cookieIsSecure(config),
        learning: createEnduserLearning({ db: database.db, cluster: hub, learn: hub, auditLog, log, now }),
      }),
    ],
  });
  const firstAdmin = await ensureFirstAdmin(deps);
  await app.listen({ host: config.http.host, port: config.http.port });
  const port = (app.server.address() as AddressInfo).port;
  url = `${config.http.tls ? 'https' : 'http'}://${config.http.host}:${port}`;
  await peers.start(port);
  digests.start(DIGEST_TICK_MS);
  reports.start(REPORT_TICK_MS);
  sweeps.start(CACHE_SWEEP_MS);
  logPruning.start(LOG_RETENTION_MS);
  heads.start(TOP_HEADS_MS);
  log.info({ event: 'MASTER_STARTED', url, rulesVersion: (await currentRules(database.db))?.version ?? 0 }, 'master started');

  let closed = false;
  return {
    port,
    url,
    app,
    hub,
    get db(): Db {
      if (!db) throw new Error('this master keeps its state in PostgreSQL (database.url): it has no SQLite handle');
      return db;
    },
    database,
    firstAdmin,
    digests,
    reports,
    async close() {
      if (closed) return;
      closed = true;
      await digests.stop();
      await reports.stop();
      await sweeps.stop();
      await logPruning.stop();
      await heads.stop();
      await notices.close();
      await peers.close();
      await hub.close();
      await app.close();
      // Closes the SQLite handle too.
      await database.close();
      log.info({ event: 'MASTER_STOPPED' }, 'master stopped');
    },
  };
}

/** `rules.seedFile`: validated like any rules document; a bad file stops the start naming the key. */
function readSeedRules(file: string): Rules {
  return validateRules(loadConfigFile(Type.Unknown(), file), file);
}
