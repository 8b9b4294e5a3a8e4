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
  /** `pnpm start:standby`: a second master, following the first and elected in its place when it fails. */
  standby: { port: 8081 },
  /** The masters' election (UDP), by master: its own address is the tie-break, so each has one. */
  masterElection: [
    { name: 'master', host: '127.0.0.1', port: 2521, priority: 150 },
    { name: 'master-2', host: '127.0.0.2', port: 2522, priority: 100 },
  ],
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
  /** The master on 8080 (with `standby`, whichever of the two is active may differ: see `masters`). */
  readonly master: Master;
  /** Every master: one, or two with `standby`. */
  readonly masters: readonly Master[];
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
  /** Run a standby master too (`pnpm start:standby`): docs/masters.md. */
  readonly standby?: boolean;
  readonly standbyPort?: number;
  readonly masterElectionPorts?: readonly number[];
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
  // The masters' shared secret (a standby proves itself with it); scanners join with tokens instead.
  const joinSecret = await persistentSecret(join(root, 'cluster-join-secret'));
  // Each election has a key of its own: the masters' and the scanners' balancers'.
  const mastersElectionKey = await persistentSecret(join(root, 'masters-election-key'));
  const balancerElectionKey = await persistentSecret(join(root, 'balancer-election-key'));

  let sink: Sink;
  let master: Master;
  const masters: Master[] = [];
  let adminPassword: string;
  const scanners: SupervisedScanner[] = [];
  let engines: LocalEngines | undefined;
  // Whatever started is stopped again if a later part fails, so a failed start leaves nothing behind.
  const started: { close(): Promise<void> }[] = [];
  const say = options.say ?? ((line: string) => process.stderr.write(`moat local: ${line}\n`));
  // The engines start first, beside the sink and the masters (Rspamd's first start takes ~11 s):
  // the scanners' configs need their addresses. A failed engine is a warning, never a throw.
  const enginesStarting = options.engines === false ? undefined : startLocalEngines({ dir: join(root, 'engines'), say });
  try {
    sink = await startSink({ host: LOCAL_DEFAULTS.sink.host, port: options.sinkPort ?? LOCAL_DEFAULTS.sink.port, dir: join(root, 'delivered'), mailboxes: LOCAL_MAILBOXES });
    started.push(sink);
    const masterPorts = [options.masterPort ?? LOCAL_DEFAULTS.master.port, options.standbyPort ?? LOCAL_DEFAULTS.standby.port];
    const electionPorts = LOCAL_DEFAULTS.masterElection.map((m, i) => options.masterElectionPorts?.[i] ?? m.port);
    const masterCount = options.standby ? 2 : 1;
    for (let i = 0; i < masterCount; i++) {
      const me = LOCAL_DEFAULTS.masterElection[i]!;
      const other = LOCAL_DEFAULTS.masterElection[1 - i]!;
      const masterConfig = validateDocument(
        MasterConfigSchema,
        {
          node: { name: me.name },
          dataDir: join(root, me.name),
          http: { host: LOCAL_DEFAULTS.master.host, port: masterPorts[i] },
          cluster: { joinSecret },
          admin: { username: LOCAL_DEFAULTS.adminUser },
          log: { level },
          ...(options.standby ? {
            failover: {
              peers: [`ws://${LOCAL_DEFAULTS.master.host}:${masterPorts[1 - i]}/cluster/replication`],
              election: { bind: { host: me.host, port: electionPorts[i] }, peers: [{ host: other.host, port: electionPorts[1 - i] }], priority: me.priority, advertIntervalMs: 500, key: mastersElectionKey },
            },
          } : {}),
        },
        `local cluster (${me.name})`,
      );
      const m = await startMaster(masterConfig, { log: createLogger(level, { role: 'master', master: me.name }), seedRules: demoRules() });
      masters.push(m);
      started.push(m);
    }
    master = masters[0]!;
    // With a standby the election picks the active master (about three adverts after start).
    const deadline = Date.now() + 10_000;
    while (options.standby && !masters.some((m) => m.failover?.isActive()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    adminPassword = masters.map((m) => m.firstAdmin.generatedPassword).find(Boolean)
      ?? LOCAL_DEFAULTS.masterElection.slice(0, masterCount).map((m) => join(root, m.name, 'admin-password.txt')).filter((f) => existsSync(f)).map(readPassword)[0]
      ?? readPassword(join(root, 'master', 'admin-password.txt'));

    const smtpPorts = LOCAL_DEFAULTS.scanners.map((s, i) => options.scannerPorts?.[i] ?? s.port);
    const scannerElectionPorts = LOCAL_DEFAULTS.scanners.map((s, i) => options.electionPorts?.[i] ?? s.electionPort);
    const upstreams = LOCAL_DEFAULTS.scanners.map((s, i) => ({ name: s.name, host: '127.0.0.1', port: smtpPorts[i]!, failTimeoutMs: 5000 }));
    if (enginesStarting) {
      engines = await enginesStarting;
      started.push(engines);
    }
    // Both scanners start at once, each in its own process (`moat scanner --config var/scanner-N/scanner.yaml`).
    const active = masters.find((m) => m.failover?.isActive() ?? true) ?? master;
    const launches = LOCAL_DEFAULTS.scanners.map(async (s, i) => {
      // A one-time token for each start (replace: this is the admin's own machine, and a wiped
      // scanner folder must be able to come back); a scanner that has joined keeps its key and ignores it.
      const minted = await active.hub.mintJoinToken(s.name, { ttlSeconds: 3600, replace: true, createdBy: 'moat local' });
      if (!minted.ok) throw new Error(minted.message);
      const peers = LOCAL_DEFAULTS.scanners.flatMap((p, j) => (j === i ? [] : [{ host: p.electionHost, port: scannerElectionPorts[j]! }]));
      const dataDir = join(root, s.name);
      const document = {
        node: { name: s.name },
        dataDir,
        smtp: { listen: { host: '127.0.0.1', port: smtpPorts[i] }, hostname: `${s.name}.moat.localhost`, trustedProxies: [LOCAL_DEFAULTS.balancerSource] },
        relay: { host: LOCAL_DEFAULTS.sink.host, port: sink.port, retryBaseSeconds: 5, retryMaxSeconds: 300 },
        // With a standby: both masters, tried in order until the active one welcomes the scanner.
        master: { url: masters.map((m) => `ws://${LOCAL_DEFAULTS.master.host}:${m.port}/cluster`), joinToken: minted.minted.token },
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
  return {
    master,
    masters,
    sink,
    scanners,
    adminPassword,
    engines: openEngines?.status ?? [],
    async close() {
      await Promise.all(scanners.map((s) => s.close()));
      await openEngines?.close();
      for (const m of masters) await m.close();
      await sink.close();
    },
  };
}

/** A secret generated once and kept (mode 0600) so restarts keep the same cluster. */
async function persistentSecret(file: string): Promise<string> {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(24).toString('hex');
  await writeFileDurably(file, `${secret}\n`);
  return secret;
}

function readPassword(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '(not kept: it was given, not generated; or reset it with `pnpm moat master reset-password --config FILE`)';
}
