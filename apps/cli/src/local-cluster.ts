import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ensureDirs, writeFileDurably } from '@moat/storage';
import { validateDocument } from '@moat/config';
import { demoRules } from '@moat/rules';
import { ScannerConfigSchema, createLogger } from '@moat/scanner';
import { MasterConfigSchema, startMaster, type Master } from '@moat/master';
import { LOCAL_MAILBOXES, startSink, type Sink } from '@moat/sink';
import { startSupervisedScanner, type SupervisedScanner } from './supervised-scanner.ts';
import { startLocalEngines, type EngineStatus, type LocalEngines } from './local-engines.ts';

export { engineBannerLines, type EngineStatus } from './local-engines.ts';

/** The defaults of `pnpm start`; part of the contract (see docs/local-cluster.md). */
export const LOCAL_DEFAULTS = {
  varDir: 'var',
  master: { host: '127.0.0.1', port: 8080 },
  /** `pnpm start:ha`: two masters on one PostgreSQL (pg_auto_failover), state under `var/ha/` (local-ha.ts). */
  ha: { dir: 'ha', masters: [{ name: 'master', port: 8080 }, { name: 'master-2', port: 8081 }] },
  sink: { host: '127.0.0.1', port: 2600 },
  scanners: [
    { name: 'scanner-1', port: 2525, electionHost: '127.0.0.1', electionPort: 2511, priority: 150 },
    { name: 'scanner-2', port: 2526, electionHost: '127.0.0.2', electionPort: 2512, priority: 100 },
  ],
  /** The virtual SMTP address both scanners' balancers elect a holder for. */
  virtual: { host: '127.0.0.1', port: 2500 },
  /** The balancers connect to the scanners from here; only this address may send PROXY lines. */
  balancerSource: '127.0.0.3',
  domain: 'example.test',
  adminUser: 'admin',
} as const;

export interface LocalCluster {
  /** The master on 8080, in this process. */
  readonly master: Master;
  readonly sink: Sink;
  /** Each scanner in a process of its own, started again when it dies (docs/local-cluster.md). */
  readonly scanners: readonly SupervisedScanner[];
  /** The admin password: generated on first start and kept under var/. */
  readonly adminPassword: string;
  /** The spam and virus engines, each on, missing, failed or unused (empty with `engines: false`). */
  readonly engines: readonly EngineStatus[];
  close(): Promise<void>;
}

export interface LocalClusterOptions {
  readonly varDir?: string;
  /** Override the fixed ports (tests use 0 so they never collide with a running cluster). */
  readonly masterPort?: number;
  readonly sinkPort?: number;
  readonly scannerPorts?: readonly number[];
  readonly virtualPort?: number;
  readonly electionPorts?: readonly number[];
  readonly logLevel?: 'info' | 'warn' | 'silent';
  /** How long a scanner that died waits before it is started again (default 5 s). */
  readonly restartDelayMs?: number;
  /** Where the scanners' supervisor reports a death or a restart, and an engine a failed start (default: standard error). */
  readonly say?: (line: string) => void;
  /**
   * Start the spam and virus engines installed here (rspamd with redis, spamd, clamd) under
   * `var/engines/` and give the scanners their `analyzers` keys (default true). Tests that do
   * not scan with them pass false and start faster.
   */
  readonly engines?: boolean;
}

/**
 * The whole cluster on loopback: master (console, API, link) and sink in this process, two
 * scanners, each in a process of its own, that join the master with join tokens it makes for them.
 * State under `var/`, kept across restarts.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const root = resolve(options.varDir ?? LOCAL_DEFAULTS.varDir);
  const level = options.logLevel ?? 'info';
  await ensureDirs(root);
  let master: Master | undefined;
  const parts = await startClusterParts(root, options, {
    async startMasters() {
      const masterConfig = validateDocument(
        MasterConfigSchema,
        { node: { name: 'master' }, dataDir: join(root, 'master'), http: { host: LOCAL_DEFAULTS.master.host, port: options.masterPort ?? LOCAL_DEFAULTS.master.port }, admin: { username: LOCAL_DEFAULTS.adminUser }, log: { level } },
        'local cluster (master)',
      );
      const m = await startMaster(masterConfig, { log: createLogger(level, { role: 'master', master: 'master' }), seedRules: demoRules() });
      master = m;
      return {
        urls: [`ws://${LOCAL_DEFAULTS.master.host}:${m.port}/cluster`],
        adminPassword: m.firstAdmin.generatedPassword ?? readPassword(join(root, 'master', 'admin-password.txt')),
        mintJoinToken: async (name) => {
          const minted = await m.hub.mintJoinToken(name, { ttlSeconds: 3600, replace: true, createdBy: 'moat local' });
          if (!minted.ok) throw new Error(minted.message);
          return minted.minted.token;
        },
        close: () => m.close(),
      };
    },
  });
  return { ...parts, master: master! };
}

/** The masters of a local cluster, as the parts around them need them. */
export interface LocalMasters {
  /** Every master's cluster link (a scanner lists them all, from the one it prefers). */
  readonly urls: readonly string[];
  readonly adminPassword: string;
  /** A one-time join token for a scanner of that name (replacing any earlier one). */
  mintJoinToken(name: string): Promise<string>;
  close(): Promise<void>;
}

/** What every local cluster has around its masters: the sink, the engines, two scanners behind the virtual address. */
export interface LocalClusterParts {
  readonly sink: Sink;
  readonly scanners: readonly SupervisedScanner[];
  readonly adminPassword: string;
  readonly engines: readonly EngineStatus[];
  close(): Promise<void>;
}

/**
 * The sink, the engines, the masters (`startMasters`: in this process, or `pnpm start:ha`'s in
 * processes of their own) and two scanners, each in a process of its own, that join with
 * tokens the masters make for them. Whatever started is stopped again if a later part fails.
 */
export async function startClusterParts(root: string, options: LocalClusterOptions, masters: { readonly enginesDir?: string; startMasters(): Promise<LocalMasters> }): Promise<LocalClusterParts> {
  const level = options.logLevel ?? 'info';
  const balancerElectionKey = await persistentSecret(join(root, 'balancer-election-key'));
  let sink: Sink;
  let adminPassword: string;
  const scanners: SupervisedScanner[] = [];
  let engines: LocalEngines | undefined;
  let running: LocalMasters | undefined;
  // Whatever started is stopped again if a later part fails, so a failed start leaves nothing behind.
  const started: { close(): Promise<void> }[] = [];
  const say = options.say ?? ((line: string) => process.stderr.write(`moat local: ${line}\n`));
  // The engines start first, beside the sink and the masters (Rspamd's first start takes ~11 s):
  // the scanners' configs need their addresses. A failed engine is a warning, never a throw.
  const enginesStarting = options.engines === false ? undefined : startLocalEngines({ dir: masters.enginesDir ?? join(root, 'engines'), say });
  try {
    sink = await startSink({ host: LOCAL_DEFAULTS.sink.host, port: options.sinkPort ?? LOCAL_DEFAULTS.sink.port, dir: join(root, 'delivered'), mailboxes: LOCAL_MAILBOXES });
    started.push(sink);
    running = await masters.startMasters();
    started.push(running);
    adminPassword = running.adminPassword;

    const smtpPorts = LOCAL_DEFAULTS.scanners.map((s, i) => options.scannerPorts?.[i] ?? s.port);
    const scannerElectionPorts = LOCAL_DEFAULTS.scanners.map((s, i) => options.electionPorts?.[i] ?? s.electionPort);
    const upstreams = LOCAL_DEFAULTS.scanners.map((s, i) => ({ name: s.name, host: '127.0.0.1', port: smtpPorts[i]!, failTimeoutMs: 5000 }));
    if (enginesStarting) {
      engines = await enginesStarting;
      started.push(engines);
    }
    const masterUrls = running.urls;
    const mint = running.mintJoinToken;
    // Both scanners start at once, each in its own process (`moat scanner --config var/scanner-N/scanner.yaml`).
    const launches = LOCAL_DEFAULTS.scanners.map(async (s, i) => {
      // A one-time token for each start (replace: this is the admin's own machine, and a wiped
      // scanner folder must be able to come back); a scanner that has joined keeps its key and ignores it.
      const token = await mint(s.name);
      const peers = LOCAL_DEFAULTS.scanners.flatMap((p, j) => (j === i ? [] : [{ host: p.electionHost, port: scannerElectionPorts[j]! }]));
      const dataDir = join(root, s.name);
      const document = {
        node: { name: s.name },
        dataDir,
        smtp: { listen: { host: '127.0.0.1', port: smtpPorts[i] }, hostname: `${s.name}.moat.localhost`, trustedProxies: [LOCAL_DEFAULTS.balancerSource] },
        relay: { host: LOCAL_DEFAULTS.sink.host, port: sink.port, retryBaseSeconds: 5, retryMaxSeconds: 300 },
        // Several masters: every one, starting from a different one for each scanner, so the
        // scanners spread over them; a scanner that cannot reach its master tries the next.
        master: { url: masterUrls.map((_, j) => masterUrls[(i + j) % masterUrls.length]!), joinToken: token },
        // Active-active: both scanners behind the virtual address, the election picks who holds it.
        balancer: {
          listen: { host: LOCAL_DEFAULTS.virtual.host, port: options.virtualPort ?? LOCAL_DEFAULTS.virtual.port },
          sourceAddress: LOCAL_DEFAULTS.balancerSource,
          upstreams,
          healthCheck: { type: 'smtp', intervalMs: 2000, rise: 2, fall: 2 },
          election: { nodeId: s.name, priority: s.priority, advertIntervalMs: 500, bind: { host: s.electionHost, port: scannerElectionPorts[i] }, peers, key: balancerElectionKey },
        },
        log: { level },
        // Both scanners share this machine's engine instances (in production each scanner runs its own).
        ...(engines && Object.keys(engines.analyzers).length > 0 ? { analyzers: engines.analyzers } : {}),
      };
      validateDocument(ScannerConfigSchema, document, `local cluster (${s.name})`); // a mistake here is named before any process starts
      await ensureDirs(dataDir);
      return startSupervisedScanner({ name: s.name, dataDir, config: document, say, ...(options.restartDelayMs !== undefined ? { restartDelayMs: options.restartDelayMs } : {}) });
    });
    const outcomes = await Promise.allSettled(launches);
    for (const o of outcomes) if (o.status === 'fulfilled') (scanners.push(o.value), started.push(o.value));
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
    if (enginesStarting && !engines) await enginesStarting.then((e) => e.close()).catch(() => undefined);
    throw err;
  }
  const openEngines = engines;
  const openMasters = running;
  return {
    sink,
    scanners,
    adminPassword,
    engines: openEngines?.status ?? [],
    async close() {
      await Promise.all(scanners.map((s) => s.close()));
      await openEngines?.close();
      await openMasters.close();
      await sink.close();
    },
  };
}

/** A secret generated once and kept (mode 0600) so restarts keep the same cluster. */
export async function persistentSecret(file: string): Promise<string> {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(24).toString('hex');
  await writeFileDurably(file, `${secret}\n`);
  return secret;
}

export function readPassword(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '(not kept: it was given, not generated; or reset it with `pnpm moat master reset-password --config FILE`)';
}
