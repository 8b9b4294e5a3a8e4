import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '@moat/config';
import { DirSyncer, ensureDirs, fsyncDir, openDatabase, removeDurably, sweepTemporaryFiles, walSync, type Db } from '@moat/storage';
import type { ScannerConfig } from './config.ts';
import { SCANNER_MIGRATIONS } from './store/migrations.ts';
import { createMessageStore } from './store/message-store.ts';
import { createOutboxStore } from './store/outbox-store.ts';
import { createQuarantineStore } from './store/quarantine-store.ts';
import { createQueueStore } from './relay/queue-store.ts';
import { createDownstream } from './relay/downstream.ts';
import { RelayWorker } from './relay/relay-worker.ts';
import { Router } from './relay/router.ts';
import { QuarantineExpiry } from './quarantine/quarantine-expiry.ts';
import { routeDns, selfIdentity } from './relay/route-dns.ts';
import { createIngress } from './smtp/ingress.ts';
import { RefusalLog } from './smtp/refusal-log.ts';
import { acceptMessage } from './pipeline/accept-message.ts';
import { analyzeLimitsFrom } from './pipeline/analyze.ts';
import { testMessage } from './pipeline/test-message.ts';
import type { MessageTest, MessageTestAnswer } from '@moat/protocol';
import { createAnalyzers } from './analyzers/create-analyzers.ts';
import { createDnsResolver } from './analyzers/dns-resolver.ts';
import { EngineHealthTracker } from './analyzers/engine-health.ts';
import { monitorAnalyzers, startEngineProbes } from './analyzers/engine-monitor.ts';
import { createFileRulesSource } from './rules-source/file-rules-source.ts';
import { createPushedRulesSource } from './rules-source/pushed-rules-source.ts';
import { createPushedRecipientLists, type PushedRecipientLists } from './rules-source/pushed-recipient-lists.ts';
import { withRecipientLists } from './rules-source/with-recipient-lists.ts';
import type { RulesSource } from './rules-source/rules-source.ts';
import { ClusterLink } from './link/cluster-link.ts';
import { startBalancer, validateBalancerConfig, type BalancerHandle } from '@moat/balancer';
import { applyNodeSettings, balancerReport, withLocalUpstream } from './balancer-bridge.ts';
import type { CompiledRules } from '@moat/rules';
import { LearnFollower } from './learn/learn-follower.ts';
import { learnStateStore } from './learn/learn-state.ts';
import { createLearner, engineLearners } from './learn/learner.ts';
import { checkPlaintextLinks } from './link/plaintext-link.ts';
import { credentialStore, loadOrCreateNodeKey } from './link/credential-store.ts';
import { createRequestHandlers } from './link/request-handlers.ts';
import { createLogger } from './logger.ts';
import { Greylister } from './greylist/greylister.ts';
import type { GreylistResult } from '@moat/protocol';
import { createRetentionStore, type RetentionStore } from './retention/retention-store.ts';
import { RetentionJob } from './retention/retention-job.ts';
import { createStorageGuard } from './store/storage-guard.ts';
import { VERIFY_PROTOCOL_VERSION, type CalloutCached } from '@moat/protocol';
import { VerificationStore } from './verify/verification-store.ts';
import { CalloutCache } from './verify/callout-cache.ts';
import { RecipientVerifier } from './verify/verifier.ts';
import { countingMessageStore, NodeCounters, readGauges } from './metrics/node-counters.ts';

export const SOFTWARE_VERSION = 'moat-scanner/0.1.0';

export interface Scanner {
  readonly smtpPort: number;
  readonly db: Db;
  readonly rules: RulesSource;
  readonly relay: RelayWorker;
  readonly link: ClusterLink | undefined;
  /** The embedded load balancer, when the config has a `balancer` section. */
  readonly balancer: BalancerHandle | undefined;
  readonly dataDir: string;
  /** Retained copies of accepted messages and their expiry job (`retention.run(at)` runs a round now). */
  readonly retention: { readonly store: RetentionStore; readonly job: RetentionJob };
  /** The quarantine lifetime (`quarantine` in the rules): `quarantineExpiry.run(at)` runs a purge round now. */
  readonly quarantineExpiry: QuarantineExpiry;
  close(): Promise<void>;
}

export interface ScannerOptions {
  readonly log?: Logger;
  readonly now?: () => number;
  /** Gives up a start that is still waiting for its first rules from the master. */
  readonly signal?: AbortSignal;
  /** The cluster protocol version to offer; PROTOCOL_VERSION unless a test plays an older scanner. */
  readonly protocolVersion?: number;
}

/** The scanner's composition root: storage, rules, relay worker, cluster link and SMTP ingress, wired once. */
export async function startScanner(config: ScannerConfig, options: ScannerOptions = {}): Promise<Scanner> {
  if (!config.rules === !config.master) {
    throw new ConfigError('scanner config', [{ key: config.rules ? 'master' : 'rules', message: 'exactly one of `rules` (a local rules file) and `master` (rules pushed by the master) is required' }]);
  }
  const plaintext = config.master ? checkPlaintextLinks(config.master) : { errors: [], insecure: [] };
  if (plaintext.errors.length > 0) throw new ConfigError('scanner config', plaintext.errors);
  const log = options.log ?? createLogger(config.log.level, { role: 'scanner', node: config.node.name }, { format: config.log.format });
  for (const url of plaintext.insecure) {
    log.warn({ event: 'LINK_INSECURE', url }, 'master.allowInsecure: the cluster link to a master off loopback is plain ws://; its traffic (rules, the message log, quarantined messages) is readable and forgeable on the way');
  }
  const now = options.now ?? Date.now;
  // retained/ holds hard links to queue and quarantine files: it must stay on their filesystem (all under dataDir).
  const dirs = { spool: join(config.dataDir, 'spool'), queue: join(config.dataDir, 'queue'), quarantine: join(config.dataDir, 'quarantine'), retained: join(config.dataDir, 'retained') };
  await ensureDirs(config.dataDir, dirs.spool, dirs.queue, dirs.quarantine, dirs.retained);

  const dirSync = { queue: new DirSyncer(dirs.queue), quarantine: new DirSyncer(dirs.quarantine), retained: new DirSyncer(dirs.retained) };
  // Commits write the WAL without waiting for the disk; walSync makes them durable in the thread
  // pool before any client or the master hears of them (docs/scanner.md, "Durability").
  const dbPath = join(config.dataDir, 'scanner.sqlite');
  const db = openDatabase(dbPath, SCANNER_MIGRATIONS, { synchronous: 'normal' });
  const dbSync = walSync(dbPath);
  const closeSyncs = () => [dbSync, dirSync.queue, dirSync.quarantine, dirSync.retained].forEach((s) => s.close());
  await fsyncDir(config.dataDir); // the WAL file's own name, created by the open
  let link: ClusterLink | undefined;
  // Each analyzer's engine, as scans and probes find it: the heartbeat's `engines` (protocol 5).
  const engineHealth = new EngineHealthTracker([], now);
  let boundPort: number | undefined;
  let balancer: BalancerHandle | undefined;
  // First: this run's outbox epoch is recorded before anything of it writes an event.
  const outbox = createOutboxStore(db);
  log.info({ event: 'OUTBOX_EPOCH', epoch: outbox.epoch }, 'outbox epoch of this run');
  const retention = createRetentionStore(db, dirs);
  // This run's counters (verdicts, SMTP refusals, relay outcomes): the heartbeat's `metrics` (protocol 6).
  const counters = new NodeCounters(now());
  const messages = countingMessageStore(createMessageStore(db, { onOutbox: () => link?.notifyOutbox(), retention, sync: () => dbSync.sync() }), counters);
  const queue = createQueueStore(db);
  const quarantine = createQuarantineStore(db, dirs);
  const heldBytes = db.prepare<[], { bytes: number }>("SELECT coalesce(sum(size), 0) AS bytes FROM quarantine WHERE status = 'held'");
  await recoverAfterCrash(dirs, queue.files(), quarantine.heldFiles(), retention.files(), log);

  // Per-domain routing (`routing` in the rules); a domain without a route goes to `relay`, as before.
  const router = new Router({
    rules: () => rules.current(),
    relay: createDownstream({
      host: config.relay.host,
      port: config.relay.port,
      secure: config.relay.secure,
      requireTls: config.relay.requireTls,
      rejectUnauthorized: config.relay.rejectUnauthorized,
      maxConnections: config.relay.maxConnections,
      timeoutMs: config.relay.timeoutSeconds * 1000,
      hostname: config.smtp.hostname,
    }),
    relayServer: { host: config.relay.host, port: config.relay.port },
    makeDownstream: createDownstream,
    hostname: config.smtp.hostname,
    timeoutMs: config.relay.timeoutSeconds * 1000,
    ...routeDns(config),
    self: () => selfIdentity(config, boundPort),
    now,
    holdMs: config.relay.retryBaseSeconds * 1000,
    log,
  });
  const relay = new RelayWorker({
    queue,
    messages,
    downstream: router,
    queueDir: dirs.queue,
    log,
    now,
    retry: { baseMs: config.relay.retryBaseSeconds * 1000, maxMs: config.relay.retryMaxSeconds * 1000, maxAgeMs: config.relay.maxQueueAgeSeconds * 1000 },
    concurrency: config.relay.maxConnections * 4,
    hostname: config.smtp.hostname,
    authservIds: [config.smtp.authservId ?? config.smtp.hostname],
    wasQuarantined: (id) => quarantine.wasQuarantined(id),
  });

  // Recipient verification: the master's store (static lists, directories) as last received.
  const verificationStore = new VerificationStore(config.dataDir, log);
  await verificationStore.load();
  let verifier: RecipientVerifier | undefined;
  let messageTester: ((frame: MessageTest) => Promise<MessageTestAnswer>) | undefined;
  let rules: RulesSource;
  let endUserLists: PushedRecipientLists | undefined;
  if (config.master) {
    const pushed = createPushedRulesSource(config.dataDir, log);
    // The end users' own lists come apart from the rules (protocol 8); the list checks read both.
    const lists = createPushedRecipientLists(config.dataDir, log);
    endUserLists = lists;
    rules = withRecipientLists(pushed, lists);
    const handlers = createRequestHandlers({
      db, quarantine, queue, retention, rules: () => rules.current(), queueDir: dirs.queue, wakeRelay: () => relay.wake(), bounceQueued: (id) => relay.bounce(id), hostname: config.smtp.hostname, nodeName: config.node.name, now,
      log, sync: () => dbSync.sync(),
    });
    link = new ClusterLink({
      settings: {
        urls: typeof config.master.url === 'string' ? [config.master.url] : config.master.url,
        joinToken: config.master.joinToken ?? (process.env.MOAT_JOIN_TOKEN || undefined),
        fingerprint: config.master.fingerprint,
        nodeName: config.node.name,
        software: SOFTWARE_VERSION,
        smtpAddress: () => `${config.smtp.listen.host}:${boundPort ?? config.smtp.listen.port}`,
        reconnectBaseMs: config.master.reconnectBaseSeconds * 1000,
        reconnectMaxMs: config.master.reconnectMaxSeconds * 1000,
        batchSize: config.master.batchSize,
        ...(options.protocolVersion !== undefined ? { protocolVersion: options.protocolVersion } : {}),
      },
      credentials: credentialStore(config.dataDir),
      key: await loadOrCreateNodeKey(config.dataDir),
      learn: new LearnFollower({ state: learnStateStore(config.dataDir), apply: createLearner(engineLearners(config.analyzers), log), log, now }),
      rules: pushed,
      recipientLists: lists,
      outbox,
      handlers,
      queueDepth: () => queue.stats().n,
      balancerReport: () => (balancer ? balancerReport(balancer.status()) : undefined),
      routeHealth: () => router.routeHealth(),
      engineHealth: () => engineHealth.report(),
      nodeMetrics: () => counters.report(readGauges({
        queueOldest: () => queue.stats().oldest,
        quarantineBytes: () => heldBytes.get()!.bytes,
        retainedBytes: () => retention.usage().bytes,
        budgets: () => {
          if (!pushed.hasRules()) return undefined;
          const r = pushed.current().rules;
          return { quarantineMaxBytes: r.quarantine.maxBytes, ...(r.retention.enabled ? { retainedMaxBytes: r.retention.maxBytes } : {}) };
        },
        now,
      })),
      verification: {
        sources: (frame) => verificationStore.replace(frame),
        test: async (address) => {
          if (!verifier) throw new Error('this node is starting');
          return verifier.test(rules.current(), address);
        },
      },
      messageTest: async (frame) => {
        if (!messageTester) throw new Error('this node is starting');
        return messageTester(frame);
      },
      log,
      now,
    });
    link.start();
    if (!pushed.hasRules()) {
      // A node without rules is not ready: it does not listen until the master has pushed some.
      log.warn({ event: 'RULES_WAITING', master: config.master.url }, 'no rules yet; waiting for the master before accepting mail');
      try {
        await waitOrAbort(pushed.ready(), options.signal);
      } catch (err) {
        await link.stop();
        await relay.stop();
        db.close();
        closeSyncs();
        throw err;
      }
    }
  } else {
    rules = createFileRulesSource(config.rules!.file, log);
  }
  // Started once there are rules: the router reads each recipient's route from them.
  relay.start();

  const retentionJob = new RetentionJob({ store: retention, settings: () => rules.current().rules.retention, log, now });
  retentionJob.start();
  rules.onChange(() => retentionJob.nudge());
  const quarantineExpiry = new QuarantineExpiry({ db, dir: dirs.quarantine, settings: () => rules.current().rules.quarantine, log, now });
  quarantineExpiry.start();
  rules.onChange(() => quarantineExpiry.nudge());

  // One DNS resolver (and cache) for the analyzers and the client's name at connect.
  const resolve = createDnsResolver(config.analyzers.dns);
  const engines = createAnalyzers(config, resolve);
  const analyzers = monitorAnalyzers(engines, engineHealth, log);
  const engineProbes = startEngineProbes(analyzers, engineHealth, config.analyzers.probeSeconds * 1000, log);
  const analyzeLimits = analyzeLimitsFrom(config.analysis);
  // The unmonitored analyzers: a test's scans stay out of the engines' health figures.
  messageTester = (frame) => testMessage({ rules: () => rules.current(), ...(endUserLists ? { endUserLists: endUserLists.lookup } : {}), analyzers: engines, analyzeLimits, scratchDir: dirs.spool, log }, frame);
  const linkForGreylist = link;
  const greylist = new Greylister({
    log,
    now,
    ask: linkForGreylist
      ? async (triplet, times, timeoutMs) => {
          const r = await linkForGreylist.request<GreylistResult>(
            (id) => ({ type: 'greylist.check', id, ...triplet, delaySeconds: times.delaySeconds, expirySeconds: times.expirySeconds, passSeconds: times.passSeconds }),
            timeoutMs,
          );
          return { pass: r.pass, retryInSeconds: r.retryInSeconds, entry: { firstSeen: r.firstSeen, passedAt: r.passedAt, expiresAt: r.expiresAt } };
        }
      : undefined,
  });
  const linkForVerify = link;
  verifier = new RecipientVerifier({
    store: verificationStore,
    cache: new CalloutCache({
      now,
      link: linkForVerify
        ? {
            get: async (address, timeoutMs) => {
              if (!linkForVerify.speaks(VERIFY_PROTOCOL_VERSION)) return {};
              const r = await linkForVerify.request<CalloutCached>((id) => ({ type: 'callout.get', id, address }), timeoutMs);
              return { result: r.result, expiresAt: r.expiresAt };
            },
            put: (address, result, expiresAt) => linkForVerify.tell({ type: 'callout.put', address, result, expiresAt }, VERIFY_PROTOCOL_VERSION),
          }
        : undefined,
    }),
    calloutTarget: (domain) => router.calloutTarget(domain),
    helo: config.smtp.hostname,
    log: log.child({ component: 'verify' }),
  });
  const storage = createStorageGuard({ dir: config.dataDir, minFreeBytes: config.storage.minFreeMegabytes * 1024 * 1024, intervalMs: config.storage.checkIntervalSeconds * 1000, log });
  const refusalSettings = config.smtp.refusalLog;
  const refusals = new RefusalLog({
    settings: { perIpBurst: refusalSettings.perIpBurst, windowMs: refusalSettings.windowSeconds * 1000, maxTrackedIps: refusalSettings.maxTrackedIps },
    write: (entry) => messages.recordRefused(entry),
    now,
    log,
  });
  const server = createIngress({
    config,
    rules,
    // DATA is written straight into the queue folder: a delivered message is never renamed
    // (a quarantined one moves once); a file there without a queue row is swept at start.
    spoolDir: dirs.queue,
    log,
    now,
    greylist,
    storage,
    refusals,
    verifier,
    counters,
    resolve,
    accept: (env, snapshot, msgLog) =>
      acceptMessage(
        { messages, dirs, dirSync, retention, log, hostname: config.smtp.hostname, nodeName: config.node.name, now, onQueued: (entry) => relay.enqueued(entry), analyzers, analyzeLimits },
        env,
        snapshot,
        msgLog,
      ),
  });
  server.on('error', (err) => log.error({ event: 'SMTP_SERVER_ERROR', err }, 'smtp server error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.smtp.listen.port, config.smtp.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const smtpPort = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  boundPort = smtpPort;
  const balancerConfig = config.balancer ? validateBalancerConfig(withLocalUpstream(config.balancer, config.node.name), 'balancer') : undefined;
  if (balancerConfig) {
    const lb = await startBalancer(balancerConfig, { log: log.child({ component: 'balancer' }), now });
    // Weights, backup and maintenance from the master's cluster settings; the persisted rules
    // are the node's last known settings while the master is unreachable.
    const apply = (nodes: CompiledRules['rules']['nodes']): void => {
      applyNodeSettings(lb, balancerConfig.upstreams, nodes);
      log.info({ event: 'LB_NODE_SETTINGS', nodes }, 'balancer upstream settings applied');
    };
    apply(rules.current().rules.nodes);
    rules.onChange((r) => apply(r.rules.nodes));
    balancer = lb;
  }
  log.info({ event: 'SCANNER_STARTED', smtp: `${config.smtp.listen.host}:${smtpPort}`, downstream: `${config.relay.host}:${config.relay.port}`, rulesVersion: rules.current().version, analyzers: analyzers.map((a) => a.name) }, 'scanner started');

  let closed = false;
  return {
    smtpPort,
    db,
    rules,
    relay,
    link,
    balancer,
    dataDir: config.dataDir,
    retention: { store: retention, job: retentionJob },
    quarantineExpiry,
    async close() {
      if (closed) return;
      closed = true;
      engineProbes.stop();
      await balancer?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await refusals.close(); // pending aggregates into the outbox before the database closes
      rules.close();
      storage.close();
      await link?.stop();
      await relay.stop();
      await retentionJob.stop();
      await quarantineExpiry.stop();
      db.close();
      closeSyncs();
      log.info({ event: 'SCANNER_STOPPED' }, 'scanner stopped');
    },
  };
}

/**
 * After a crash: every spool file is an unanswered transaction (the client never got 250 and
 * will retry; spool/ only holds files of an older version, which received into it); a queue file
 * without a row was being received, or never committed; a quarantine file
 * that is no longer held was released or deleted just before the crash; a retained file
 * without a row was linked but never committed, or expired and its unlink was lost.
 */
async function recoverAfterCrash(dirs: { spool: string; queue: string; quarantine: string; retained: string }, queued: Set<string>, held: Set<string>, retained: Set<string>, log: Logger): Promise<void> {
  let removed = 0;
  for (const name of await readdir(dirs.spool)) {
    await removeDurably(join(dirs.spool, name));
    removed++;
  }
  removed += await sweepTemporaryFiles(dirs.queue);
  for (const [dir, known] of [[dirs.queue, queued], [dirs.quarantine, held], [dirs.retained, retained]] as const) {
    for (const name of await readdir(dir)) {
      if (known.has(name)) continue;
      await removeDurably(join(dir, name));
      removed++;
    }
  }
  if (removed > 0) log.warn({ event: 'RECOVERY_SWEEP', removed }, 'removed files of unfinished transactions');
}

function waitOrAbort(ready: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return ready;
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('scanner start aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    ready.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, reject);
  });
}
