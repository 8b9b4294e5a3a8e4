import { createHash, randomBytes } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { decodeToScanner, encodeFrame, helloSignature, FrameError, MAX_FRAME_BYTES, PendingRequests, offerProtocol, type BalancerReport, type ToMaster, type ToScanner } from '@moat/protocol';
import type { OutboxStore } from '../store/outbox-store.ts';
import type { PushedRulesSource } from '../rules-source/pushed-rules-source.ts';
import type { PushedRecipientLists } from '../rules-source/pushed-recipient-lists.ts';
import type { RequestHandlers } from './request-handlers.ts';
import type { NodeCredential, NodeKey } from './credential-store.ts';
import { reconnectDelay } from './backoff.ts';
import { ENGINES_PROTOCOL_VERSION, LEARN_PROTOCOL_VERSION, METRICS_PROTOCOL_VERSION, RECIPIENT_LISTS_PROTOCOL_VERSION, ROUTES_PROTOCOL_VERSION, type EngineHealth, type NodeMetrics, type RouteHealth, type VerifySources, type VerifyTestAnswer, type MessageTest, type MessageTestAnswer } from '@moat/protocol';
import type { LearnFollower } from '../learn/learn-follower.ts';

export interface LinkSettings {
  /** The masters' cluster links (several masters on one PostgreSQL, docs/database.md): a link that cannot be set up moves on to the next. */
  readonly urls: readonly string[];
  /** A one-time join token for the first join (`master.joinToken` or MOAT_JOIN_TOKEN). */
  readonly joinToken: string | undefined;
  /** SHA-256 fingerprint of the master's certificate (`AB:CD:…`); required for wss. */
  readonly fingerprint: string | undefined;
  readonly nodeName: string;
  readonly software: string;
  /** Where this node's SMTP listener is (read at each hello: the port is known only once it listens). */
  readonly smtpAddress: () => string;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly batchSize: number;
  /** The protocol version to offer (PROTOCOL_VERSION; tests set it one behind to play an older scanner). */
  readonly protocolVersion?: number;
}

export interface LinkDeps {
  readonly settings: LinkSettings;
  readonly credentials: { load(): NodeCredential | undefined; save(c: NodeCredential): Promise<void> };
  /** This node's own key pair: every hello is signed with it. */
  readonly key: NodeKey;
  readonly rules: PushedRulesSource;
  /** The end users' own lists, pushed apart from the rules (protocol 8). */
  readonly recipientLists?: PushedRecipientLists;
  readonly outbox: OutboxStore;
  readonly handlers: RequestHandlers;
  readonly queueDepth: () => number;
  /** The embedded balancer's status for the heartbeat, when this scanner runs one. */
  readonly balancerReport?: () => BalancerReport | undefined;
  /** Each route's last outcome for the heartbeat (protocol 4). */
  readonly routeHealth?: () => RouteHealth[];
  /** Each analyzer's engine for the heartbeat (protocol 5). */
  readonly engineHealth?: () => EngineHealth[];
  /** This run's counters and the queue and disk gauges for the heartbeat (protocol 6). */
  readonly nodeMetrics?: () => NodeMetrics;
  readonly log: Logger;
  readonly now: () => number;
  /** Cluster-wide learning: applies the master's learn log to this node's engines (learn/). */
  readonly learn?: LearnFollower;
  /** Recipient verification (issue 19): the master's verification store, and its "test this address". */
  readonly verification?: { sources(frame: VerifySources): Promise<void>; test(address: string): Promise<VerifyTestAnswer> };
  /** "What would happen to this message?" (protocol 7): a dry run of the pipeline (pipeline/test-message.ts). */
  readonly messageTest?: (frame: MessageTest) => Promise<MessageTestAnswer>;
}

type State = 'idle' | 'handshake' | 'ready';
const ACK_TIMEOUT_MS = 30_000;

/**
 * The scanner's end of the cluster link. It dials the master (so scanners may sit behind NAT),
 * proves who it is, applies rule pushes, drains the outbox one acknowledged batch at a time,
 * answers the master's requests, and reconnects with backoff and jitter when anything breaks.
 * Mail flow never waits for it.
 */
export class ClusterLink {
  private readonly deps: LinkDeps;
  private ws: WebSocket | undefined;
  private state: State = 'idle';
  private attempts = 0;
  private stopped = false;
  private lastReceived = 0;
  private heartbeatMs = 5000;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private batchInFlight: { id: string; sentAt: number } | undefined;
  /** This node's own requests of the master (greylisting), by id, each with its time-out. */
  private readonly requests = new PendingRequests();
  // ── which of the masters this link dials ──
  private urlIndex = 0;
  private url = '';
  /** The hello on this link was a join (with the token), so the welcome's node id is ours to keep. */
  private joining = false;
  /** The master refused our node id (removed, or re-keyed by an admin): join with the token next time. */
  private joinNext = false;
  /** The protocol version the master welcomed this link with. */
  private linkProtocol = 0;

  constructor(deps: LinkDeps) {
    this.deps = deps;
  }

  get isConnected(): boolean {
    return this.state === 'ready';
  }

  /** The link is up and speaks at least `version` (a frame added in it may be sent). */
  speaks(version: number): boolean {
    return this.state === 'ready' && this.linkProtocol >= version;
  }

  /** Send a frame that needs no answer; dropped when the link is down or older than `version`. */
  tell(frame: ToMaster, version: number): void {
    if (this.speaks(version)) this.send(frame);
  }

  start(): void {
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1001, 'scanner stopping');
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000).unref();
      });
    }
  }

  /**
   * Ask the master something and wait at most `timeoutMs` for its answer (a frame echoing the
   * id). Rejects at once when the link is not up, at the time-out, on an `error` frame with
   * the id, and when the link drops: callers decide without the master then.
   */
  request<T extends ToScanner>(frame: (id: string) => ToMaster, timeoutMs: number): Promise<T> {
    if (this.state !== 'ready') return Promise.reject(new LinkUnavailableError('the cluster link is down'));
    const { id, promise } = this.requests.open<T>(timeoutMs, () => new LinkUnavailableError(`the master did not answer within ${timeoutMs} ms`));
    this.send(frame(id));
    return promise;
  }

  /** New outbox rows were committed: send them now rather than at the next heartbeat. */
  notifyOutbox(): void {
    this.drain();
  }

  private connect(): void {
    const { settings, log } = this.deps;
    this.url = settings.urls[this.urlIndex % settings.urls.length]!;
    const secure = this.url.startsWith('wss:');
    const ws = new WebSocket(this.url, {
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
      // A pinned fingerprint instead of a CA (the master's certificate is usually self-signed):
      // checked on 'upgrade', before any frame is read or sent.
      ...(secure ? { rejectUnauthorized: false } : {}),
    });
    this.ws = ws;
    if (secure) {
      ws.on('upgrade', (res) => {
        const problem = this.checkPin((res.socket as TLSSocket).getPeerCertificate());
        if (problem) {
          log.error({ event: 'LINK_PIN_MISMATCH', error: problem.message }, 'refusing the master: certificate pin mismatch');
          ws.terminate();
        }
      });
    }
    this.state = 'handshake';
    ws.on('message', (data: Buffer) => this.onMessage(ws, data));
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
    ws.on('error', (err) => log.warn({ event: 'LINK_ERROR', error: err.message }, 'cluster link error'));
  }

  private checkPin(cert: PeerCertificate): Error | undefined {
    const pin = this.deps.settings.fingerprint?.toUpperCase();
    if (!pin) return new Error('wss needs master.fingerprint in the scanner config');
    return cert.fingerprint256?.toUpperCase() === pin ? undefined : new Error(`master certificate fingerprint ${cert.fingerprint256} does not match the pinned one`);
  }

  private send(frame: ToMaster): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeFrame(frame));
  }

  private onMessage(ws: WebSocket, data: Buffer): void {
    if (ws !== this.ws) return;
    this.lastReceived = this.deps.now();
    let frame: ToScanner;
    try {
      frame = decodeToScanner(data);
    } catch (err) {
      const e = err as FrameError;
      this.deps.log.error({ event: 'LINK_BAD_FRAME', code: e.code, error: e.message }, 'invalid frame from the master');
      this.send({ type: 'error', code: e.code ?? 'MOAT_ERR_FRAME', message: e.message.slice(0, 900) });
      ws.close(1008, 'invalid frame');
      return;
    }
    void this.dispatch(frame).catch((err: unknown) => this.deps.log.error({ event: 'LINK_HANDLER_ERROR', err }, 'error handling a master frame'));
  }

  private async dispatch(frame: ToScanner): Promise<void> {
    const { log, settings } = this.deps;
    switch (frame.type) {
      case 'challenge': {
        const cred = this.joinNext ? undefined : this.deps.credentials.load();
        const token = settings.joinToken;
        if (!cred && !token) {
          log.error({ event: 'LINK_NO_CREDENTIAL' }, 'this node has not joined and has no join token (master.joinToken or MOAT_JOIN_TOKEN): cannot join the cluster');
          this.ws?.close(1000, 'no credential');
          return;
        }
        this.joining = !cred;
        // The master's own version when it is one behind (a rolling upgrade), else ours.
        const protocol = offerProtocol(frame.protocol, settings.protocolVersion);
        const lists = this.deps.recipientLists;
        this.send({
          type: 'hello',
          protocol,
          nodeName: settings.nodeName,
          ...(cred ? { nodeId: cred.nodeId } : { joinToken: token, publicKey: this.deps.key.publicKey }),
          proof: helloSignature(this.deps.key.privateKeyPem, settings.nodeName, frame.nonce),
          software: settings.software,
          rulesVersion: this.deps.rules.version(),
          // A master speaking 7 would refuse the hello with a key it does not know.
          ...(lists && protocol >= RECIPIENT_LISTS_PROTOCOL_VERSION ? { recipientListsVersion: lists.version() } : {}),
          smtpAddress: settings.smtpAddress(),
        });
        return;
      }
      case 'welcome': {
        const ws = this.ws;
        if (this.joining) {
          await this.deps.credentials.save({ nodeId: frame.nodeId });
          this.joining = false;
          this.joinNext = false;
          log.info({ event: 'LINK_JOINED', nodeId: frame.nodeId }, 'joined the cluster with the join token; node id stored (the node proves itself with its key from now on)');
        }
        // The link may have dropped while the credential was being written.
        if (ws !== this.ws || ws?.readyState !== WebSocket.OPEN) return;
        this.ready(ws, frame);
        return;
      }
      case 'heartbeat':
        return;
      case 'error':
        if (frame.id !== undefined && this.requests.settle(frame.id, { ok: false, error: new LinkUnavailableError(`the master refused the request: ${frame.code} ${frame.message}`) })) return;
        // Our node id was refused (an admin removed the node or gave its name a new key): a configured token may bring it back.
        if (frame.code === 'MOAT_ERR_NODE_AUTH' && settings.joinToken) this.joinNext = true;
        log.error({ event: 'LINK_REFUSED', code: frame.code, error: frame.message, url: this.url }, 'the master refused the link');
        return;
      case 'rules.push': {
        const outcome = await this.deps.rules.apply(frame.version, frame.rules);
        this.send({ type: 'rules.ack', version: frame.version, ok: outcome.ok, ...(outcome.ok ? {} : { error: outcome.error }) });
        return;
      }
      case 'recipient-lists.push': {
        const outcome = this.deps.recipientLists
          ? await this.deps.recipientLists.apply(frame.version, frame.lists)
          : { ok: false as const, error: 'this node keeps no end-user lists' };
        this.send({ type: 'recipient-lists.ack', version: frame.version, ok: outcome.ok, ...(outcome.ok ? {} : { error: outcome.error }) });
        return;
      }
      case 'events.ack': {
        if (this.batchInFlight?.id !== frame.id) return;
        this.deps.outbox.acknowledge(frame.upToSeq);
        this.batchInFlight = undefined;
        this.drain();
        return;
      }
      case 'learn.event':
        this.deps.learn?.receive(frame);
        return;
      case 'greylist.result':
      case 'callout.cached':
        this.requests.settle(frame.id, { ok: true, value: frame });
        return;
      case 'verify.sources':
        await this.deps.verification?.sources(frame);
        return;
      case 'verify.test': {
        if (this.state !== 'ready') return;
        const answer = this.deps.verification
          ? await this.deps.verification.test(frame.address).then((data) => ({ ok: true, data }), (err: Error) => ({ ok: false, code: 'MOAT_ERR_VERIFY', message: err.message.slice(0, 900) }))
          : { ok: false, code: 'MOAT_ERR_VERIFY', message: 'this node does not verify recipients' };
        this.send({ type: 'result', id: frame.id, ...answer });
        return;
      }
      case 'message.test': {
        if (this.state !== 'ready') return;
        const answer = this.deps.messageTest
          ? await this.deps.messageTest(frame).then((data) => ({ ok: true, data }), (err: Error) => ({ ok: false, code: err.name === 'MessageTestRefused' ? 'MOAT_ERR_VALIDATION' : 'MOAT_ERR_NODE', message: err.message.slice(0, 900) }))
          : { ok: false, code: 'MOAT_ERR_NODE', message: 'this node cannot test messages yet' };
        this.send({ type: 'result', id: frame.id, ...answer });
        return;
      }
      default:
        if (this.state !== 'ready') return;
        await this.deps.handlers.handle(frame, (f) => this.send(f));
    }
  }

  private ready(ws: WebSocket, frame: { nodeId: string; protocol: number; heartbeatMs: number }): void {
    const { log } = this.deps;
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
    this.state = 'ready';
    this.attempts = 0;
    this.heartbeatMs = frame.heartbeatMs;
    this.linkProtocol = frame.protocol;
    this.batchInFlight = undefined;
    log.info({ event: 'LINK_UP', nodeId: frame.nodeId, protocol: frame.protocol, url: this.url }, 'connected to the master');
    this.startHeartbeat();
    this.drain();
    if (frame.protocol >= LEARN_PROTOCOL_VERSION) this.deps.learn?.attach((f) => this.send(f));
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      const now = this.deps.now();
      // No frame from the master for three intervals: the link is dead even if TCP says otherwise.
      if (now - this.lastReceived > 3 * this.heartbeatMs) {
        this.deps.log.warn({ event: 'LINK_TIMEOUT' }, 'no heartbeat from the master; reconnecting');
        this.ws?.terminate();
        return;
      }
      if (this.batchInFlight && now - this.batchInFlight.sentAt > ACK_TIMEOUT_MS) {
        this.deps.log.warn({ event: 'LINK_ACK_TIMEOUT' }, 'events batch not acknowledged; reconnecting');
        this.ws?.terminate();
        return;
      }
      const balancer = this.deps.balancerReport?.();
      const routes = this.linkProtocol >= ROUTES_PROTOCOL_VERSION ? this.deps.routeHealth?.() : undefined;
      // A master that speaks 4 would refuse the heartbeat with a key it does not know.
      const engines = this.linkProtocol >= ENGINES_PROTOCOL_VERSION ? this.deps.engineHealth?.() : undefined;
      const metrics = this.linkProtocol >= METRICS_PROTOCOL_VERSION ? this.deps.nodeMetrics?.() : undefined;
      this.send({ type: 'heartbeat', at: now, queueDepth: this.deps.queueDepth(), outboxBacklog: this.deps.outbox.backlog(), rulesVersion: this.deps.rules.version(), ...(balancer ? { balancer } : {}), ...(routes?.length ? { routes } : {}), ...(engines?.length ? { engines } : {}), ...(metrics ? { metrics } : {}) });
      this.drain();
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** One batch in flight at a time; the master's ack deletes it here, then the next goes. */
  private drain(): void {
    if (this.state !== 'ready' || this.batchInFlight) return;
    const events = this.deps.outbox.pending(this.deps.settings.batchSize);
    if (events.length === 0) return;
    const id = randomBytes(8).toString('hex');
    this.batchInFlight = { id, sentAt: this.deps.now() };
    this.send({ type: 'events.batch', id, events });
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    const wasReady = this.state === 'ready';
    // A master that never welcomed us (down, or refusing): the next one in the list.
    if (!wasReady) this.urlIndex++;
    this.state = 'idle';
    this.batchInFlight = undefined;
    clearInterval(this.heartbeatTimer);
    this.deps.handlers.cancelAll();
    this.deps.learn?.detach();
    this.requests.failAll(() => new LinkUnavailableError('the cluster link closed'));
    if (this.stopped) return;
    const delay = reconnectDelay(this.attempts++, this.deps.settings.reconnectBaseMs, this.deps.settings.reconnectMaxMs);
    this.deps.log[wasReady ? 'warn' : 'info']({ event: 'LINK_DOWN', code, reason: reason.slice(0, 200), retryInMs: delay, url: this.url }, 'cluster link closed; reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }
}

/** The master could not be asked (link down, no answer in time, or it refused): decide locally. */
export class LinkUnavailableError extends Error {
  override readonly name = 'LinkUnavailableError';
}

/** `sha256 fingerprint` helper for docs and tests: what to pin for a PEM certificate. */
export function fingerprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/.{2}/g)!.join(':');
}
