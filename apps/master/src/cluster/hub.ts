import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { MasterDatabase } from '../db/database.ts';
import type { ChangeKind, ChangeNotices } from '../db/change-notices.ts';
import {
  decodeToMaster, encodeFrame, FrameError, newNonce, MAX_FRAME_BYTES, helloVerifies, acceptProtocol, MAX_INJECT_BYTES, QueueInjectFrame, validator,
  type BalancerReport, type GreylistCheck, type ToMaster, type ToScanner, type Hello,
  VERIFY_PROTOCOL_VERSION, VerifyTestAnswerSchema, type VerifyTestAnswer, type VerifySources,
} from '@moat/protocol';
import { createCalloutCacheStore, createVerificationStore, type CalloutCacheStore, type VerificationStore } from '../verification/verification-store.ts';
import { NodeOfflineError, NodeRequestError, type ClusterControl } from '../app-deps.ts';
import { createNodeRegistry, joinNode, type NodeRecord, type NodeRegistry } from './node-registry.ts';
import { createJoinTokens, type JoinTokens } from './join-tokens.ts';
import { PendingRequests } from '@moat/protocol';
import { MessageStream } from './message-stream.ts';
import { currentRules, type StoredRules } from '../rules/rules-repository.ts';
import { createIngest, type EventWarnings } from '../data/ingest.ts';
import type { Registry } from 'prom-client';
import { createClusterMetrics, type ClusterMetrics } from './cluster-metrics.ts';
import { NodeMetricsBook } from './node-metrics-book.ts';
import { NodeTrends, TREND_HISTORY_MS } from './node-trends.ts';
import { createLinkAdmission, limitFrameSize, PRE_HELLO_MAX_BYTES, type LinkAdmission } from './link-admission.ts';
import { createGreylistStore, type GreylistStore } from '../greylist/greylist-store.ts';
import { MESSAGE_TEST_PROTOCOL_VERSION, MessageTestAnswerSchema, type MessageTestAnswer, type TestEnvelope } from '@moat/protocol';
import { LEARN_PROTOCOL_VERSION, QUEUE_BOUNCE_PROTOCOL_VERSION, RECIPIENT_LISTS_PROTOCOL_VERSION, type EngineHealth, type RouteHealth } from '@moat/protocol';
import { allRecipientLists, currentListsVersion } from '../recipient-lists/recipient-lists-store.ts';
import { rulesWithEndUserLists } from '../recipient-lists/legacy-rules-push.ts';
import { LearnDispatcher } from '../learn/learn-dispatcher.ts';
import { createLearnStore, type LearnStore } from '../learn/learn-store.ts';
import { withoutId, type ProtocolNeed } from './peer-wire.ts';
import type { PeerForwarder } from './peer-forwarder.ts';

export interface HubSettings {
  readonly heartbeatMs: number;
  readonly offlineAfterMissed: number;
  readonly requestTimeoutMs: number;
  /** The protocol version this master speaks (PROTOCOL_VERSION; tests set it one ahead to play a newer master). */
  readonly protocolVersion: number;
  /** This master's name (config node.name), recorded as the holder of its nodes' links. */
  readonly masterName?: string;
  /** Other masters share the database (PostgreSQL): at start, only this master's nodes are marked offline. */
  readonly sharedDatabase?: boolean;
}

interface Session {
  readonly ws: WebSocket;
  readonly node: NodeRecord;
  /** The version negotiated at the hello: frames newer than it are not sent on this link. */
  readonly protocol: number;
  readonly pending: PendingRequests;
  readonly streams: Map<string, MessageStream>;
  lastSeen: number;
}

const HELLO_TIMEOUT_MS = 10_000;
const validInject = validator(QueueInjectFrame);
const validTestAnswer = validator(VerifyTestAnswerSchema);
const validMessageTestAnswer = validator(MessageTestAnswerSchema);
const FETCH_WINDOW = 8;

/**
 * The master's end of the cluster link: authenticates scanners (challenge-response), keeps the
 * node registry live, pushes rules, stores outbox events exactly once, and carries the console's
 * requests to the node that holds a message.
 */
export class ClusterHub implements ClusterControl {
  private readonly sessions = new Map<string, Session>();
  private readonly registry: NodeRegistry;
  /** The names of the nodes that connected in this run, by id (for the metrics of their last heartbeats). */
  private readonly nodeNames = new Map<string, string>();
  /** Each link's frames are handled one after another (see accept); the last one's work, so close() waits for it. */
  private readonly linkWork = new Map<WebSocket, Promise<void>>();
  /** Greylist and call-out answers in flight (they do not wait for each other). */
  private readonly lookups = new Set<Promise<void>>();
  /** One-time join tokens (docs/cluster.md, "Joining"); minted by the API, the CLI and `moat local`. */
  readonly joinTokens: JoinTokens;
  private readonly ingest;
  /** The common query layer (docs/database.md): the stores moved onto it read through here. */
  private readonly database: MasterDatabase;
  /** Several masters on one PostgreSQL: tells the others what changed here (db/change-notices.ts). */
  private notices: Pick<ChangeNotices, 'notify'> | undefined;
  /** Several masters on one PostgreSQL: carries requests for nodes linked to another master (forwardThrough). */
  private peers: Pick<PeerForwarder, 'request' | 'fetchStream' | 'reachableNodeIds'> | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly settings: HubSettings;
  private readonly livenessTimer: NodeJS.Timeout;
  private closing = false;
  /** Each node's latest balancer report (memory only: it is live state, resent every heartbeat). */
  private readonly balancers = new Map<string, { readonly report: BalancerReport; readonly at: number }>();
  /** Each node's latest route health (memory only, like the balancer's: resent every heartbeat). */
  private readonly routes = new Map<string, { routes: readonly RouteHealth[]; at: number }>();
  private readonly engines = new Map<string, { engines: readonly EngineHealth[]; at: number }>();
  /** Each node's last counters (protocol 6) and the cluster's verdict counts, for /metrics (memory only). */
  private readonly nodeMetrics: NodeMetricsBook;
  /** Each node's last hour of heartbeats: queue, outbox, disk and throughput (memory only; GET /nodes/trends). */
  readonly trends: NodeTrends;

  private readonly metrics: ClusterMetrics;
  private readonly admission: LinkAdmission = createLinkAdmission();
  private readonly greylist: GreylistStore;
  /** Cluster-wide learning: the learn log, and its delivery to every online scanner (learn/). */
  readonly learnStore: LearnStore;
  readonly learning: LearnDispatcher;
  /** Recipient verification: the store sent to every scanner, and the cluster's call-out cache. */
  readonly verification: VerificationStore;
  private readonly calloutCache: CalloutCacheStore;

  constructor(deps: { database: MasterDatabase; log: Logger; now: () => number; settings: HubSettings; registry: Registry }) {
    this.database = deps.database;
    this.log = deps.log;
    this.now = deps.now;
    this.settings = deps.settings;
    this.registry = createNodeRegistry(deps.database.db, (err) => this.log.error({ event: 'NODE_REGISTRY_WRITE_FAILED', err }, 'node heartbeats could not be written; retried with the next ones'), deps.settings.masterName ?? '');
    this.joinTokens = createJoinTokens(deps.database.db);
    this.ingest = createIngest(deps.database.db, deps.database.engine);
    // The registry's writes run in order: this one before any node's `connected`.
    void this.resetRegistry();
    // The quarantine index per node and status (quarantine_status covers the status test), read on scrape.
    // PostgreSQL's sum() of a BIGINT is a numeric, which node-postgres gives as text: Number() on both.
    const quarantineTotals = async () =>
      (await this.database.db
        .selectFrom('quarantine')
        .select((eb) => ['node_id', 'status', eb.fn.countAll<number>().as('messages'), eb.fn.coalesce(eb.fn.sum<number>('size'), eb.lit(0)).as('bytes')])
        .where('status', 'in', ['held', 'expired'])
        .groupBy(['node_id', 'status'])
        .execute()).map((t) => ({ node_id: t.node_id, status: t.status, messages: Number(t.messages), bytes: Number(t.bytes) }));
    this.nodeMetrics = new NodeMetricsBook(this.now());
    // A kept sample every other heartbeat: ten seconds by default, finer on a faster link.
    this.trends = new NodeTrends({ stepMs: 2 * deps.settings.heartbeatMs, historyMs: TREND_HISTORY_MS });
    this.metrics = createClusterMetrics(deps.registry, () => this.registry.list(), async () => (await currentRules(this.database.db))?.version ?? 0, () =>
      this.named(this.balancers, (b) => b.report), () =>
      this.named(this.engines, (e) => e.engines), async () => {
      const names = new Map((await this.registry.list()).map((n) => [n.id, n.name]));
      return (await quarantineTotals()).map((t) => ({ node: names.get(t.node_id) ?? t.node_id, status: t.status as 'held' | 'expired', messages: t.messages, bytes: t.bytes }));
    }, {
      nodes: () => [...this.nodeNames].flatMap(([id, name]) => {
        const m = this.nodeMetrics.get(id);
        return m ? [[name, m.metrics] as const] : [];
      }),
      clusterMessages: () => this.nodeMetrics.clusterMessages(),
    });
    this.livenessTimer = setInterval(() => this.checkLiveness(), deps.settings.heartbeatMs);
    this.livenessTimer.unref();
    this.greylist = createGreylistStore(deps.database.db);
    this.verification = createVerificationStore(deps.database.db);
    this.calloutCache = createCalloutCacheStore(deps.database.db);
    this.learnStore = createLearnStore(deps.database.db);
    this.learning = new LearnDispatcher({ store: this.learnStore, log: deps.log, now: deps.now });
  }

  /** A one-time join token for a node name, on the hub's clock (API, `moat local`). */
  mintJoinToken(nodeName: string, opts: { ttlSeconds: number; replace: boolean; createdBy: string }) {
    return this.joinTokens.mint(nodeName, { ...opts, now: this.now() });
  }

  nodes(): Promise<NodeRecord[]> {
    return this.registry.list();
  }

  /** The reports of the nodes that connected in this run, by node name, for the metrics. */
  private named<R, T>(reports: ReadonlyMap<string, R>, pick: (r: R) => T): (readonly [string, T])[] {
    return [...reports].flatMap(([id, r]) => {
      const name = this.nodeNames.get(id);
      return name === undefined ? [] : [[name, pick(r)] as const];
    });
  }

  /**
   * Take an offline node out of the cluster (an admin decommissioned it): 'online' while it is
   * connected — stop it first, so no mail is cut off —, 'unknown' for no such node.
   */
  async removeNode(nodeId: string): Promise<'removed' | 'online' | 'unknown'> {
    if (this.sessions.has(nodeId)) return 'online';
    if (!(await this.registry.remove(nodeId, this.now()))) return 'unknown';
    // A hello that was checked before the removal and got online meanwhile: its key is gone now.
    this.sessions.get(nodeId)?.ws.close(1008, 'node removed');
    this.nodeNames.delete(nodeId);
    this.balancers.delete(nodeId);
    this.routes.delete(nodeId);
    this.engines.delete(nodeId);
    this.nodeMetrics.forget(nodeId);
    this.trends.forget(nodeId);
    this.log.info({ event: 'NODE_REMOVED', nodeId }, 'node removed from the cluster');
    return 'removed';
  }

  /** Nodes whose event sequence went backwards within a run (see ingest.ts), by node id. */
  eventWarnings(): Promise<Map<string, EventWarnings>> {
    return this.ingest.warnings();
  }

  /** Each route's last outcome as a node reported it in its heartbeat (protocol 4), and when; undefined before its first. */
  routeHealth(nodeId: string): { readonly routes: readonly RouteHealth[]; readonly at: number } | undefined {
    return this.routes.get(nodeId);
  }

  /** Each analyzer's engine as a node reported it in its last heartbeat (protocol 5), and when; undefined before its first (memory only). */
  engineHealth(nodeId: string): { readonly engines: readonly EngineHealth[]; readonly at: number } | undefined {
    return this.engines.get(nodeId);
  }

  /** The latest balancer status a node reported in its heartbeat, and when; undefined if it runs none. */
  balancerStatus(nodeId: string): { readonly report: BalancerReport; readonly at: number } | undefined {
    return this.balancers.get(nodeId);
  }

  /**
   * The nodes a message this master composes (a digest, a scheduled report, a test lookup) can be
   * handed to, sorted: those linked here; when none is (several masters on one PostgreSQL, this
   * one holding the job's lease but no link), those online on the other live masters, reached by
   * forwarding. Empty: no scanner is online anywhere.
   */
  async relayNodeIds(): Promise<string[]> {
    const here = [...this.sessions.keys()].sort();
    if (here.length > 0 || !this.peers) return here;
    return this.peers.reachableNodeIds();
  }

  /** Close every link and wait for them to go (the database must outlive their handlers). */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.livenessTimer);
    this.learning.close();
    const sockets = [...this.sessions.values()].map((s) => s.ws);
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close(1001, 'master stopping');
            setTimeout(() => {
              ws.terminate();
              resolve();
            }, 2000).unref();
          }),
      ),
    );
    // The frames the links were handling, and the lookups in flight, finish before the database closes.
    await Promise.all([...this.linkWork.values(), ...this.lookups]);
    await this.registry.flush().catch((err: unknown) => this.log.error({ event: 'NODE_REGISTRY_WRITE_FAILED', err }, 'the last node heartbeats could not be written'));
  }

  /** A new WebSocket on /cluster: challenge it, then serve it once it proves who it is. */
  accept(ws: WebSocket, remoteAddress: string): void {
    // Until its hello a socket is anyone's: a capped number of them, with small frames (link-admission.ts).
    const admitted = this.admission.admit(remoteAddress);
    if (!admitted.ok) {
      ws.on('error', (err) => this.log.debug({ event: 'LINK_ERROR', address: remoteAddress, error: err.message }, 'refused cluster link socket error'));
      return this.refuse(ws, remoteAddress, 'MOAT_ERR_LINK_BUSY', admitted.message);
    }
    limitFrameSize(ws, PRE_HELLO_MAX_BYTES);
    const nonce = newNonce();
    let session: Session | undefined;
    const helloTimer = setTimeout(() => this.refuse(ws, remoteAddress, 'MOAT_ERR_HELLO_TIMEOUT', 'no hello in time'), HELLO_TIMEOUT_MS);
    // A link's frames are handled one after another, each once the one before it is done (its
    // writes committed): the hello before the node's first frame, an events batch acknowledged
    // after its write, the close after everything the node sent. Each step catches its own errors.
    let tail: Promise<void> = Promise.resolve();
    const then = (step: () => Promise<void> | void) => {
      tail = tail.then(step).catch((err: unknown) => this.log.error({ event: 'LINK_FRAME_FAILED', address: remoteAddress, err }, 'a link step failed'));
      this.linkWork.set(ws, tail);
    };
    const handle = (data: Buffer) => then(async () => {
      if (!session && data.length > PRE_HELLO_MAX_BYTES) {
        // Only reached if ws's own limit could not be lowered (limitFrameSize).
        this.log.warn({ event: 'LINK_BAD_FRAME', address: remoteAddress, code: 'MOAT_ERR_FRAME_TOO_LARGE', error: `a frame of ${data.length} bytes before the hello` }, 'invalid frame; closing the link');
        ws.close(1009, 'frame too large before hello');
        return;
      }
      let frame: ToMaster;
      try {
        frame = decodeToMaster(data);
      } catch (err) {
        const e = err as FrameError;
        this.log.warn({ event: 'LINK_BAD_FRAME', node: session?.node.name, address: remoteAddress, code: e.code, error: e.message }, 'invalid frame; closing the link');
        this.send(ws, { type: 'error', code: e.code ?? 'MOAT_ERR_FRAME', message: e.message.slice(0, 900) });
        ws.close(1008, 'invalid frame');
        return;
      }
      if (this.closing) return;
      try {
        if (!session) {
          clearTimeout(helloTimer);
          if (frame.type !== 'hello') return this.refuse(ws, remoteAddress, 'MOAT_ERR_HELLO_EXPECTED', `expected hello, got ${frame.type}`);
          admitted.release();
          session = await this.authenticate(ws, remoteAddress, nonce, frame);
          if (session) limitFrameSize(ws, MAX_FRAME_BYTES);
          return;
        }
        await this.onFrame(session, frame);
      } catch (err) {
        this.frameFailed(ws, remoteAddress, session, frame, err);
      }
    });
    ws.on('message', (data: Buffer) => {
      // A frame's arrival proves the node alive, not its turn: heartbeats queued behind an events
      // batch that waits on the database (a lock, a synchronous standby holding commits) must not
      // make the master drop a healthy link.
      if (session) session.lastSeen = this.now();
      handle(data);
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      admitted.release();
      then(() => {
        this.linkWork.delete(ws);
        if (session) this.disconnected(session);
      });
    });
    ws.on('error', (err) => this.log.warn({ event: 'LINK_ERROR', address: remoteAddress, error: err.message }, 'cluster link socket error'));
    this.send(ws, { type: 'challenge', protocol: this.settings.protocolVersion, nonce });
  }

  private async authenticate(ws: WebSocket, address: string, nonce: string, hello: Hello): Promise<Session | undefined> {
    // One version of difference is allowed, so nodes can be upgraded one at a time.
    const negotiated = acceptProtocol(hello.protocol, this.settings.protocolVersion);
    if (!negotiated.ok) {
      this.refuse(ws, address, 'MOAT_ERR_PROTOCOL', `${hello.nodeName}: ${negotiated.message}`);
      return undefined;
    }
    const now = this.now();
    let node: NodeRecord | undefined;
    if (hello.nodeId) {
      node = await this.registry.get(hello.nodeId);
      if (!node || node.removedAt !== null || node.name !== hello.nodeName || !node.publicKey || !helloVerifies(node.publicKey, hello.nodeName, nonce, hello.proof)) {
        this.refuse(ws, address, 'MOAT_ERR_NODE_AUTH', `node key refused for ${hello.nodeName}`);
        return undefined;
      }
    } else {
      // A first join: a one-time token an admin made for this name, and proof of the key it registers.
      const { joinToken, publicKey } = hello;
      if (!joinToken || !publicKey) {
        this.refuse(ws, address, 'MOAT_ERR_JOIN_REFUSED', `join refused for ${hello.nodeName}: a first join needs a join token and the node's public key`);
        return undefined;
      }
      if (!helloVerifies(publicKey, hello.nodeName, nonce, hello.proof)) {
        this.refuse(ws, address, 'MOAT_ERR_JOIN_REFUSED', `join refused for ${hello.nodeName}: the hello is not signed by the key it presents`);
        return undefined;
      }
      // The token is used and the key stored in one transaction: both or neither.
      const outcome = await this.database.db.transaction().execute(async (trx) => {
        const redeemed = await createJoinTokens(trx).redeem(joinToken, hello.nodeName, now);
        return redeemed.ok ? { ...redeemed, ...(await joinNode(trx, hello.nodeName, publicKey, now)) } : redeemed;
      });
      if (!outcome.ok) {
        this.refuse(ws, address, 'MOAT_ERR_JOIN_REFUSED', `join refused for ${hello.nodeName}: ${outcome.reason}`);
        return undefined;
      }
      node = (await this.registry.get(outcome.id))!;
      this.log.info({ event: 'NODE_JOINED', node: hello.nodeName, nodeId: outcome.id, rejoined: outcome.rejoined, replacedKey: outcome.replace && outcome.rejoined, address }, 'a scanner joined the cluster with a join token');
    }
    if (ws.readyState !== ws.OPEN) return undefined; // it went while its key was checked
    const previous = this.sessions.get(node.id);
    // The session replaces the previous one before any write: the old link's close, whenever it
    // comes, no longer counts, and the registry writes `connected` after any earlier `offline`.
    const session: Session = { ws, node, protocol: negotiated.version, pending: new PendingRequests(), streams: new Map(), lastSeen: now };
    this.sessions.set(node.id, session);
    this.nodeNames.set(node.id, node.name);
    if (previous) previous.ws.close(1000, 'replaced by a newer connection');
    try {
      await this.registry.connected(node.id, now, address, hello.smtpAddress, hello.software, hello.rulesVersion);
    } catch (err) {
      if (this.sessions.get(node.id) === session) this.sessions.delete(node.id);
      throw err;
    }
    // Read before the welcome, so the frames go in their usual order.
    const sources = negotiated.version >= VERIFY_PROTOCOL_VERSION ? await this.verification.frame() : undefined;
    this.send(ws, { type: 'welcome', protocol: negotiated.version, nodeId: node.id, heartbeatMs: this.settings.heartbeatMs });
    this.log.info({ event: 'NODE_ONLINE', node: node.name, nodeId: node.id, address, rulesVersion: hello.rulesVersion, protocol: negotiated.version }, 'scanner online');
    session.lastSeen = this.now(); // the clock for missed heartbeats starts once it is online
    this.pushRulesIfBehind(session, hello.rulesVersion, hello.recipientListsVersion).catch((err: unknown) =>
      this.log.error({ event: 'RULES_PUSH_ERROR', node: node.name, err }, 'could not send the rules at the welcome; the node gets them at its next connection'));
    if (sources) this.pushVerification(session, sources);
    // The node answers with the learn sequence it has applied; the rest of the log follows.
    if (negotiated.version >= LEARN_PROTOCOL_VERSION) this.learning.attach(node.id, node.name, (f) => this.send(ws, f));
    return session;
  }

  private refuse(ws: WebSocket, address: string, code: string, message: string): void {
    this.log.warn({ event: 'LINK_REFUSED', address, code }, message);
    this.metrics.linkRefusals.inc({ code });
    this.send(ws, { type: 'error', code, message });
    ws.close(1008, code);
  }

  private async onFrame(s: Session, frame: ToMaster): Promise<void> {
    switch (frame.type) {
      case 'heartbeat':
        this.registry.heartbeat(s.node.id, this.now(), frame.queueDepth, frame.outboxBacklog, frame.rulesVersion);
        if (frame.balancer) this.balancers.set(s.node.id, { report: frame.balancer, at: this.now() });
        if (frame.routes) this.routes.set(s.node.id, { routes: frame.routes, at: this.now() });
        if (frame.engines) this.engines.set(s.node.id, { engines: frame.engines, at: this.now() });
        if (frame.metrics) this.nodeMetrics.record(s.node.id, frame.metrics, this.now());
        this.trends.record(s.node.id, this.now(), frame);
        this.send(s.ws, { type: 'heartbeat', at: this.now() });
        return;
      case 'rules.ack':
        if (frame.ok) this.registry.rulesApplied(s.node.id, frame.version, this.now());
        this.log[frame.ok ? 'info' : 'error']({ event: frame.ok ? 'RULES_ACKED' : 'RULES_NACKED', node: s.node.name, version: frame.version, error: frame.error }, frame.ok ? 'scanner applied rules' : 'scanner refused rules');
        return;
      case 'events.batch': {
        const outcome = await this.ingest.ingestBatch(s.node.id, frame.events);
        this.metrics.eventsIngested.inc({ node: s.node.name, result: 'stored' }, outcome.stored);
        this.metrics.eventsIngested.inc({ node: s.node.name, result: 'duplicate' }, outcome.duplicates);
        this.metrics.eventsIngested.inc({ node: s.node.name, result: 'rejected' }, outcome.rejected.length);
        for (const r of outcome.rejected) this.log.warn({ event: 'EVENT_REJECTED', node: s.node.name, seq: r.seq, reason: r.reason }, 'event payload refused');
        if (outcome.rewound.length > 0) {
          this.metrics.eventsIngested.inc({ node: s.node.name, result: 'rewound' }, outcome.rewound.length);
          const first = outcome.rewound[0]!;
          this.log.warn({ event: 'EVENT_SEQ_REWOUND', node: s.node.name, epoch: first.epoch, seq: first.seq, count: outcome.rewound.length },
            'the node sent new events under sequence numbers it had used in the same run (its disk went back in time under a live process?): stored, not dropped');
        }
        this.send(s.ws, { type: 'events.ack', id: frame.id, upToSeq: outcome.upToSeq });
        return;
      }
      case 'quarantine.chunk': {
        const stream = s.streams.get(frame.id);
        if (!stream) return;
        stream.chunk(Buffer.from(frame.data, 'base64'), frame.last);
        if (frame.last) s.streams.delete(frame.id);
        return;
      }
      case 'result': {
        const stream = s.streams.get(frame.id);
        if (stream && !frame.ok) {
          s.streams.delete(frame.id);
          stream.fail(new NodeRequestError(s.node.name, frame.code ?? 'MOAT_ERR_NODE', frame.message ?? 'request failed'));
          return;
        }
        s.pending.settle(frame.id, frame.ok ? { ok: true, value: frame.data } : { ok: false, error: new NodeRequestError(s.node.name, frame.code ?? 'MOAT_ERR_NODE', frame.message ?? 'request failed') });
        return;
      }
      case 'learn.ack':
        await this.learning.acked(s.node.id, frame.seq, frame.error);
        return;
      case 'recipient-lists.ack':
        this.log[frame.ok ? 'info' : 'error']({ event: frame.ok ? 'RECIPIENT_LISTS_ACKED' : 'RECIPIENT_LISTS_NACKED', node: s.node.name, version: frame.version, error: frame.error }, frame.ok ? 'scanner applied the end-user lists' : 'scanner refused the end-user lists');
        return;
      // Lookups answered by id: each runs on its own, not after the one before (an SMTP session waits on it).
      case 'greylist.check':
        this.lookup(this.answerGreylist(s, frame));
        return;
      case 'callout.get': {
        const address = frame.address.toLowerCase();
        this.lookup(this.calloutCache.get(address, this.now()).then(
          (hit) => this.send(s.ws, { type: 'callout.cached', id: frame.id, ...(hit ? { result: hit.result, expiresAt: hit.expiresAt } : {}) }),
          // A miss: the scanner probes the server itself.
          (err: unknown) => {
            this.log.error({ event: 'CALLOUT_CACHE_ERROR', node: s.node.name, err }, 'call-out cache read failed');
            this.send(s.ws, { type: 'callout.cached', id: frame.id });
          },
        ));
        return;
      }
      case 'callout.put':
        this.lookup(this.calloutCache.put(frame.address.toLowerCase(), frame.result, frame.expiresAt).catch((err: unknown) =>
          this.log.error({ event: 'CALLOUT_CACHE_ERROR', node: s.node.name, err }, 'call-out cache write failed')));
        return;
      case 'error':
        this.log.warn({ event: 'LINK_NODE_ERROR', node: s.node.name, code: frame.code, error: frame.message }, 'scanner reported an error');
        return;
      case 'hello':
        this.send(s.ws, { type: 'error', code: 'MOAT_ERR_PROTOCOL', message: 'hello after the handshake' });
        s.ws.close(1008, 'protocol violation');
        return;
    }
  }

  /**
   * A frame the master could not handle (its database locked past busy_timeout, the disk
   * full): nothing was acknowledged, so the node keeps its events. Uncaught, this ended the
   * master; now the link is closed with an error and the node reconnects (with its backoff)
   * and sends them again, stored once by (node, seq).
   */
  private frameFailed(ws: WebSocket, address: string, session: Session | undefined, frame: ToMaster, err: unknown): void {
    this.log.error({ event: 'LINK_FRAME_FAILED', node: session?.node.name, address, type: frame.type, err }, 'a frame could not be handled; closing the link so the node retries');
    this.send(ws, { type: 'error', code: 'MOAT_ERR_INTERNAL', message: `the master could not handle ${frame.type}; reconnect and retry` });
    ws.close(1011, 'internal error');
  }

  private disconnected(s: Session): void {
    if (this.sessions.get(s.node.id) !== s) return;
    this.sessions.delete(s.node.id);
    this.learning.detach(s.node.id);
    // While the master stops, the registry is reset at the next start instead.
    if (!this.closing) {
      // Called from a socket's close and the liveness timer: a failed write must not end the master.
      // Written after this node's `connected` and before a later one (the registry keeps the order).
      void this.registry.offline(s.node.id).catch((err: unknown) => this.log.error({ event: 'NODE_REGISTRY_WRITE_FAILED', node: s.node.name, err }, 'could not mark the node offline'));
    }
    s.pending.failAll(() => new NodeOfflineError(s.node.name));
    for (const stream of s.streams.values()) stream.fail(new NodeOfflineError(s.node.name));
    this.log.warn({ event: 'NODE_OFFLINE', node: s.node.name, nodeId: s.node.id }, 'scanner offline');
  }

  // ── greylisting: the cluster's shared triplets ─────────────────────────────
  /** Tracked until done, so close() waits for it. */
  private lookup(work: Promise<void>): void {
    this.lookups.add(work);
    void work.finally(() => this.lookups.delete(work));
  }

  private async answerGreylist(s: Session, f: GreylistCheck): Promise<void> {
    try {
      const d = await this.greylist.check({ network: f.network, sender: f.sender, recipient: f.recipient }, f, this.now());
      this.send(s.ws, { type: 'greylist.result', id: f.id, pass: d.pass, retryInSeconds: d.retryInSeconds, ...d.entry });
    } catch (err) {
      this.log.error({ event: 'GREYLIST_ERROR', node: s.node.name, err }, 'greylist check failed');
      this.send(s.ws, { type: 'error', id: f.id, code: 'MOAT_ERR_GREYLIST', message: 'greylist check failed on the master' });
    }
  }


  /** A master starting: nobody is connected to it yet, whatever the registry says. A failed write is logged. */
  private async resetRegistry(): Promise<void> {
    await this.registry.resetOnline(this.settings.sharedDatabase ? 'mine' : 'all').catch((err: unknown) => this.log.error({ event: 'NODE_REGISTRY_WRITE_FAILED', err }, 'could not mark every node offline at the start'));
  }

  /** Missed heartbeats: the node is gone even if its TCP connection has not noticed. */
  private checkLiveness(): void {
    const limit = this.settings.heartbeatMs * this.settings.offlineAfterMissed;
    for (const s of this.sessions.values()) {
      if (this.now() - s.lastSeen > limit) {
        this.log.warn({ event: 'NODE_HEARTBEAT_MISSED', node: s.node.name }, 'missed heartbeats; marking offline');
        s.ws.terminate();
        this.disconnected(s);
      }
    }
  }

  /**
   * At the welcome: the rules and the end users' lists, each when the node's version is not the
   * current one. A node speaking 7 gets the lists inside the rules (`recipientLists`), and at
   * every hello: its rules version does not say which lists it has.
   */
  private async pushRulesIfBehind(s: Session, nodeVersion: number, nodeListsVersion: number | undefined): Promise<void> {
    const current = await currentRules(this.database.db);
    if (!current) return;
    if (s.protocol >= RECIPIENT_LISTS_PROTOCOL_VERSION) {
      if (current.version !== nodeVersion) this.send(s.ws, { type: 'rules.push', version: current.version, rules: current.document });
      const lists = await this.listsFrame();
      // A hello without the field (a client that keeps no lists) counts as version 0.
      if (lists.version !== (nodeListsVersion ?? 0)) this.sendEncoded(s, await lists.encoded());
      return;
    }
    if (current.version !== nodeVersion || (await currentListsVersion(this.database.db)) > 0) this.send(s.ws, await this.legacyRulesPush(current));
  }

  /** The end users' lists as one frame, read and encoded once for however many nodes it goes to. */
  private async listsFrame(): Promise<{ version: number; encoded: () => Promise<string | undefined> }> {
    const version = await currentListsVersion(this.database.db);
    let text: Promise<string | undefined> | undefined;
    const encode = async () => {
      const encoded = encodeFrame({ type: 'recipient-lists.push', version, lists: await allRecipientLists(this.database.db) });
      if (Buffer.byteLength(encoded) <= MAX_FRAME_BYTES) return encoded;
      // Never sent: the node would close the link. The lists stay stored; fewer entries make them fit again.
      this.log.error({ event: 'RECIPIENT_LISTS_TOO_LARGE', version, bytes: Buffer.byteLength(encoded) }, 'the end-user lists do not fit one frame of the cluster link; not pushed');
      return undefined;
    };
    return { version, encoded: () => (text ??= encode()) };
  }

  private sendEncoded(s: Session, text: string | undefined): void {
    if (text !== undefined && s.ws.readyState === s.ws.OPEN) s.ws.send(text);
  }

  /** Protocol 7: the rules with the end users' lists inside, as a node of that version expects them. */
  private async legacyRulesPush(current: StoredRules): Promise<ToScanner> {
    return { type: 'rules.push', version: current.version, rules: rulesWithEndUserLists(current.document, await allRecipientLists(this.database.db)) };
  }

  /** Changes made here are announced to the other masters through `notices` (PostgreSQL). */
  announceChangesWith(notices: Pick<ChangeNotices, 'notify'>): void {
    this.notices = notices;
  }

  /** Another master changed `kind`: push what is current to the scanners linked here. */
  changedElsewhere(kind: ChangeKind): void {
    const push = { rules: () => this.pushCurrentRules(), 'recipient-lists': () => this.pushCurrentLists(), verification: () => this.pushVerificationToAll(), learn: async () => this.learning.published() }[kind];
    push().catch((err: unknown) => this.log.error({ event: 'CHANGE_PUSH_ERROR', kind, err }, 'could not push a change made on another master; scanners get it at their next connection'));
  }

  private announce(kind: ChangeKind): void {
    this.notices?.notify(kind).catch((err: unknown) => this.log.error({ event: 'CHANGE_NOTICE_ERROR', kind, err }, 'could not tell the other masters about a change; their scanners get it at their next connection'));
  }

  /** An end user changed their lists: the new version to the online scanners. */
  recipientListsChanged(): void {
    this.announce('recipient-lists');
    this.pushCurrentLists().catch((err: unknown) => this.log.error({ event: 'RECIPIENT_LISTS_PUSH_ERROR', err }, 'could not push the end-user lists; scanners get them at their next connection'));
  }

  private async pushCurrentLists(): Promise<void> {
    const lists = await this.listsFrame();
    const current = await currentRules(this.database.db);
    let legacy: ToScanner | undefined;
    for (const s of this.sessions.values()) {
      if (s.protocol >= RECIPIENT_LISTS_PROTOCOL_VERSION) this.sendEncoded(s, await lists.encoded());
      else if (current) this.send(s.ws, (legacy ??= await this.legacyRulesPush(current)));
    }
    this.log.info({ event: 'RECIPIENT_LISTS_PUSHED', version: lists.version, nodes: this.sessions.size }, 'end-user lists pushed to online scanners');
  }

  /** A learn event was recorded: sent to the online scanners. */
  learnRecorded(): void {
    this.announce('learn');
    this.learning.published();
  }

  // ── recipient verification: the store goes to every scanner that speaks version 3 ──
  private pushVerification(s: Session, sources: Omit<VerifySources, 'type'>): void {
    this.send(s.ws, { type: 'verify.sources', ...sources });
  }

  /** The verification store changed: sent to the online scanners. */
  verificationChanged(): void {
    this.announce('verification');
    this.pushVerificationToAll().catch((err: unknown) => this.log.error({ event: 'VERIFY_PUSH_ERROR', err }, 'could not push the verification store; scanners get it at their next connection'));
  }

  /** Run a recipient lookup on a scanner ("test this address"): what RCPT TO would answer there now. */
  async testRecipient(nodeId: string, address: string): Promise<VerifyTestAnswer> {
    const data = await this.request<unknown>(nodeId, (id) => ({ type: 'verify.test', id, address }), { version: VERIFY_PROTOCOL_VERSION, what: 'test recipients there' });
    if (!validTestAnswer(data)) throw new NodeRequestError(await this.nodeName(nodeId), 'MOAT_ERR_NODE', 'the node answered verify.test without a valid answer');
    return data;
  }

  /**
   * "What would happen to this message?": a dry run of the pipeline on a scanner (protocol 7),
   * under the rules in force there or a draft. Nothing is stored or relayed on the node.
   */
  async testMessage(nodeId: string, input: { envelope: TestEnvelope; message: Buffer; rules?: unknown }): Promise<MessageTestAnswer> {
    const frame = (id: string): ToScanner => ({ type: 'message.test', id, envelope: input.envelope, data: input.message.toString('base64'), ...(input.rules !== undefined ? { rules: input.rules } : {}) });
    // Never send a frame past the link's cap: the scanner would close the link (the route checks first and answers 413).
    if (Buffer.byteLength(encodeFrame(frame('x'.repeat(64)))) > MAX_FRAME_BYTES) throw new NodeRequestError(await this.nodeName(nodeId), 'MOAT_ERR_TOO_LARGE', 'the message and the draft rules do not fit one frame of the cluster link');
    const data = await this.request<unknown>(nodeId, frame, { version: MESSAGE_TEST_PROTOCOL_VERSION, what: 'test messages there' });
    if (!validMessageTestAnswer(data)) throw new NodeRequestError(await this.nodeName(nodeId), 'MOAT_ERR_NODE', 'the node answered message.test without a valid answer');
    return data;
  }

  rulesChanged(): void {
    this.announce('rules');
    this.pushCurrentRules().catch((err: unknown) => this.log.error({ event: 'RULES_PUSH_ERROR', err }, 'could not push the rules; scanners get them at their next connection'));
  }

  private async pushVerificationToAll(): Promise<void> {
    const sources = await this.verification.frame();
    for (const s of this.sessions.values()) if (s.protocol >= VERIFY_PROTOCOL_VERSION) this.pushVerification(s, sources);
  }

  private async pushCurrentRules(): Promise<void> {
    const current = await currentRules(this.database.db);
    if (!current) return;
    let legacy: ToScanner | undefined;
    for (const s of this.sessions.values()) {
      this.send(s.ws, s.protocol >= RECIPIENT_LISTS_PROTOCOL_VERSION ? { type: 'rules.push', version: current.version, rules: current.document } : (legacy ??= await this.legacyRulesPush(current)));
    }
    // Counted when it reached a scanner: a push with none linked here (a master starting, a change with every scanner on another master) sent nothing.
    if (this.sessions.size > 0) this.metrics.rulesPushes.inc();
    this.log.info({ event: 'RULES_PUSHED', version: current.version, nodes: this.sessions.size }, 'rules pushed to online scanners');
  }

  private async session(nodeId: string): Promise<Session> {
    const s = this.sessions.get(nodeId);
    if (!s) throw new NodeOfflineError(await this.nodeName(nodeId));
    return s;
  }

  /** A node's name for an error message (its id if it cannot be read). */
  private async nodeName(nodeId: string): Promise<string> {
    return this.nodeNames.get(nodeId) ?? (await this.registry.get(nodeId).catch(() => undefined))?.name ?? nodeId;
  }

  // ── requests for one node: on this master's link, or forwarded to the master holding it ──
  /** Several masters on one PostgreSQL: requests for nodes linked elsewhere go through `peers` (cluster/peer-*.ts). */
  forwardThrough(peers: Pick<PeerForwarder, 'request' | 'fetchStream' | 'reachableNodeIds'>): void {
    this.peers = peers;
  }

  private request<T>(nodeId: string, frame: (id: string) => ToScanner, need?: ProtocolNeed): Promise<T> {
    if (this.peers && !this.sessions.has(nodeId)) return this.peers.request<T>(nodeId, withoutId(frame), need);
    return this.requestHere<T>(nodeId, frame, need);
  }

  /** A request on this master's own link to the node (a forwarded one too: it is never forwarded again). */
  async requestHere<T>(nodeId: string, frame: (id: string) => ToScanner, need?: ProtocolNeed): Promise<T> {
    const s = await this.session(nodeId);
    if (need && s.protocol < need.version) throw new NodeRequestError(s.node.name, 'MOAT_ERR_NODE_TOO_OLD', `node ${s.node.name} speaks protocol ${s.protocol}: upgrade it to ${need.what}`);
    const { id, promise } = s.pending.open<T>(this.settings.requestTimeoutMs, () => new NodeRequestError(s.node.name, 'MOAT_ERR_NODE_TIMEOUT', `node ${s.node.name} did not answer in time`));
    this.send(s.ws, frame(id));
    return promise;
  }

  fetchQuarantined(nodeId: string, messageId: string): Promise<Readable> {
    return this.fetchStream(nodeId, (id) => ({ type: 'quarantine.fetch', id, messageId, window: FETCH_WINDOW }));
  }

  // ── retention (issue 10) ──
  fetchRetained(nodeId: string, messageId: string): Promise<Readable> {
    return this.fetchStream(nodeId, (id) => ({ type: 'retained.fetch', id, messageId, window: FETCH_WINDOW }));
  }

  async redeliverRetained(nodeId: string, messageId: string, rcptTo: readonly string[] | undefined): Promise<{ queueId: string; rcptTo: string[] }> {
    const data = await this.request<{ queueId?: unknown; rcptTo?: unknown }>(nodeId, (id) => ({ type: 'retained.redeliver', id, messageId, ...(rcptTo ? { rcptTo: [...rcptTo] } : {}) }));
    // The result's data is not covered by the frame schema: check the two fields before they reach the audit log.
    if (typeof data?.queueId !== 'string' || !/^[0-9A-Za-z]{20}$/.test(data.queueId) || !Array.isArray(data.rcptTo)) {
      throw new NodeRequestError(await this.nodeName(nodeId), 'MOAT_ERR_NODE_REQUEST', 'the node answered a re-delivery without its queue id');
    }
    return { queueId: data.queueId, rcptTo: data.rcptTo.filter((a): a is string => typeof a === 'string').slice(0, 100) };
  }
  // ── end retention ──

  private fetchStream(nodeId: string, frame: (id: string) => ToScanner): Promise<Readable> {
    if (this.peers && !this.sessions.has(nodeId)) return this.peers.fetchStream(nodeId, withoutId(frame));
    return this.fetchStreamHere(nodeId, frame);
  }

  /** A message's content from a node linked here, in chunks under credit (`quarantine.chunk` frames answer any fetch). */
  async fetchStreamHere(nodeId: string, frame: (id: string) => ToScanner): Promise<Readable> {
    const s = await this.session(nodeId);
    const id = `f${Math.random().toString(36).slice(2, 12)}`;
    const stream = new MessageStream(
      FETCH_WINDOW,
      (chunks) => this.send(s.ws, { type: 'stream.credit', id, chunks }),
      () => {
        s.streams.delete(id);
        this.send(s.ws, { type: 'stream.cancel', id });
      },
    );
    s.streams.set(id, stream);
    this.send(s.ws, frame(id));
    // Wait for the first chunk or the refusal, so the HTTP layer can still answer with a status.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NodeRequestError(s.node.name, 'MOAT_ERR_NODE_TIMEOUT', `node ${s.node.name} did not answer in time`)), this.settings.requestTimeoutMs);
    });
    try {
      await Promise.race([stream.firstChunk, timeout]);
    } catch (err) {
      stream.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return stream;
  }

  async quarantineAction(nodeId: string, messageId: string, action: 'release' | 'delete'): Promise<void> {
    await this.request(nodeId, (id) => ({ type: action === 'release' ? 'quarantine.release' : 'quarantine.delete', id, messageId }));
  }

  queueList(nodeId: string, limit: number): Promise<unknown> {
    return this.request(nodeId, (id) => ({ type: 'queue.list', id, limit }));
  }

  async queueAction(nodeId: string, queueId: string, action: 'retry' | 'delete' | 'bounce'): Promise<void> {
    await this.request(nodeId, (id) => ({ type: `queue.${action}`, id, queueId }), action === 'bounce' ? { version: QUEUE_BOUNCE_PROTOCOL_VERSION, what: 'bounce from its queue' } : undefined);
  }

  // ── queue.inject: mail the master composed (digests), relayed through a scanner's queue ──
  /**
   * Write a message into a scanner's durable relay queue; resolves with its queue id there
   * once the scanner has it on disk. Throws NodeOfflineError / NodeRequestError like any request.
   */
  async injectMessage(nodeId: string, message: { mailFrom: string; rcptTo: readonly string[]; raw: Buffer }): Promise<{ queueId: string }> {
    if (message.raw.length > MAX_INJECT_BYTES) throw new NodeRequestError(nodeId, 'MOAT_ERR_TOO_LARGE', `a message to inject is at most ${MAX_INJECT_BYTES} bytes`);
    const data = message.raw.toString('base64');
    const frame = (id: string): ToScanner => ({ type: 'queue.inject', id, mailFrom: message.mailFrom, rcptTo: [...message.rcptTo], data });
    // The scanner closes the link on an invalid frame: an address it would refuse never leaves here.
    if (!validInject(frame('check'))) throw new NodeRequestError(nodeId, 'MOAT_ERR_BAD_MESSAGE', 'the envelope of the message to inject is not valid for the link');
    const answer = await this.request<{ queueId?: unknown } | undefined>(nodeId, frame);
    const queueId = answer?.queueId;
    if (typeof queueId !== 'string') throw new NodeRequestError(await this.nodeName(nodeId), 'MOAT_ERR_NODE', 'the node answered queue.inject without a queue id');
    return { queueId };
  }

  // ── quarantine.release-rcpt: one recipient's copy of a message held for several ──
  /** Release a held message to these recipients only; it stays held for the others. Resolves with the copy's queue id. */
  async releaseForRecipients(nodeId: string, messageId: string, rcptTo: readonly string[]): Promise<{ queueId: string }> {
    const answer = await this.request<{ queueId?: unknown } | undefined>(nodeId, (id) => ({ type: 'quarantine.release-rcpt', id, messageId, rcptTo: [...rcptTo] }));
    if (typeof answer?.queueId !== 'string') throw new NodeRequestError(await this.nodeName(nodeId), 'MOAT_ERR_NODE', 'the node answered quarantine.release-rcpt without a queue id');
    return { queueId: answer.queueId };
  }

  private send(ws: WebSocket, frame: ToScanner): void {
    if (ws.readyState === ws.OPEN) ws.send(encodeFrame(frame));
  }
}
