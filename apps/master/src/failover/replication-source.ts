import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Db } from '@moat/storage';
import { decodeToActive, encodeReplFrame, newNonce, proofMatches, standbyProof, FrameError, type ToActive, type ToStandby, type ReplPoint } from '@moat/protocol';
import { canContinue, type ChangeLog } from './change-log.ts';
import { streamSnapshot } from './change-apply.ts';

export interface SourceSettings {
  readonly joinSecret: string | undefined;
  readonly heartbeatMs: number;
  readonly name: string;
  /** Log entries kept behind the head; a standby further behind gets a snapshot. */
  readonly retainChanges: number;
}

export interface StandbyStatus {
  readonly name: string;
  readonly address: string;
  readonly connectedAt: number;
  readonly ackedSeq: number;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  /** Caught up at least once since it connected: acknowledgements wait for it. */
  readonly synced: boolean;
}

interface Session {
  readonly ws: WebSocket;
  readonly name: string;
  readonly address: string;
  readonly connectedAt: number;
  cursor: number;
  acked: number;
  ackedAt: number;
  lastSeen: number;
  ready: boolean;
  /**
   * Caught up once (acked the position it started from, or the snapshot): only then do
   * acknowledgements wait for it; a standby still copying would stall them for the whole copy.
   */
  synced: boolean;
  syncedAt: number;
  /** While its snapshot streams: the log entries after this point must not be pruned. */
  pinned: number | undefined;
}

const PUMP_MS = 50;
const PAGE = 500;
/** Bytes of change rows per frame (well under MAX_FRAME_BYTES with the JSON around them). */
const FRAME_BUDGET = 1024 * 1024;
/** Stop reading the log while this much is still queued on a slow standby's socket. */
const MAX_BUFFERED = 8 * 1024 * 1024;

/**
 * The active master's end of the replication link: authenticates a standby (challenge, then a
 * hello proved under the join secret), decides whether it can continue from its position or
 * needs a snapshot (log matching, see canContinue), then streams the log in order.
 */
export class ReplicationSource {
  private readonly sessions = new Set<Session>();
  private readonly deps;
  private readonly timer: NodeJS.Timeout;
  private lastPrune = 0;
  /** Callers waiting until a standby holds their write: resolved on acks, or when no standby follows. */
  private waiters: { seq: number; resolve: () => void }[] = [];
  private pumpSoon: NodeJS.Immediate | undefined;

  constructor(deps: {
    db: Db;
    log: Logger;
    now: () => number;
    changes: ChangeLog;
    settings: SourceSettings;
    isActive: () => boolean;
    epoch: () => number;
    /** A standby has seen a higher epoch than ours: we are stale. */
    onHigherEpoch: (epoch: number, from: string) => void;
  }) {
    this.deps = deps;
    this.timer = setInterval(() => this.pump(), PUMP_MS);
    this.timer.unref();
  }

  standbys(): StandbyStatus[] {
    const head = this.deps.changes.head();
    return [...this.sessions].filter((s) => s.ready).map((s) => ({
      name: s.name, address: s.address, connectedAt: s.connectedAt, ackedSeq: s.acked,
      lagEvents: Math.max(0, head.seq - s.acked),
      lagSeconds: s.acked >= head.seq ? 0 : Math.max(0, (head.at - s.ackedAt) / 1000),
      synced: s.synced,
    }));
  }

  /**
   * Resolves once a following standby has committed the log up to `seq` (semi-synchronous
   * replication: a scanner's events and an admin's change are acknowledged only then, so a
   * failover loses nothing acknowledged). With no standby following it resolves at once: the
   * master runs alone (visible as moat_replication_standbys 0), as it would without failover.
   */
  replicated(seq: number): Promise<void> {
    if (!this.following() || this.bestAck() >= seq) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ seq, resolve }));
    this.pumpSoon ??= setImmediate(() => {
      this.pumpSoon = undefined;
      this.pump();
    });
    return p;
  }

  private following(): boolean {
    for (const s of this.sessions) if (s.ready && s.synced) return true;
    return false;
  }

  private bestAck(): number {
    let best = 0;
    for (const s of this.sessions) if (s.ready && s.synced && s.acked > best) best = s.acked;
    return best;
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const all = !this.following();
    const best = this.bestAck();
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (all || best >= w.seq ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  accept(ws: WebSocket, address: string): void {
    const nonce = newNonce();
    let session: Session | undefined;
    const helloTimer = setTimeout(() => this.refuse(ws, address, 'MOAT_ERR_HELLO_TIMEOUT', 'no hello in time'), 10_000);
    ws.on('message', (data: Buffer) => {
      let frame: ToActive;
      try {
        frame = decodeToActive(data);
      } catch (err) {
        const e = err as FrameError;
        this.deps.log.warn({ event: 'REPL_BAD_FRAME', address, code: e.code, error: e.message }, 'invalid replication frame; closing');
        this.send(ws, { type: 'error', code: e.code ?? 'MOAT_ERR_FRAME', message: e.message.slice(0, 900) });
        ws.close(1008, 'invalid frame');
        return;
      }
      if (!session) {
        clearTimeout(helloTimer);
        if (frame.type !== 'repl.hello') return this.refuse(ws, address, 'MOAT_ERR_HELLO_EXPECTED', `expected repl.hello, got ${frame.type}`);
        session = this.hello(ws, address, nonce, frame);
        return;
      }
      session.lastSeen = this.deps.now();
      if (frame.type === 'repl.ack') {
        if (frame.seq > session.acked) {
          session.acked = frame.seq;
          if (!session.synced && frame.seq >= session.syncedAt) {
            session.synced = true;
            this.deps.log.info({ event: 'REPL_STANDBY_SYNCED', standby: session.name, seq: frame.seq }, 'standby caught up: changes are now acknowledged once it has them');
          }
          session.ackedAt = this.deps.changes.entry(frame.seq)?.at ?? session.ackedAt;
          this.settleWaiters();
        }
      } else if (frame.type === 'error') this.deps.log.warn({ event: 'REPL_STANDBY_ERROR', standby: session.name, code: frame.code, error: frame.message }, 'standby reported an error');
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (session && this.sessions.delete(session)) {
        this.deps.log.warn({ event: 'REPL_STANDBY_GONE', standby: session.name }, 'standby disconnected');
        this.settleWaiters();
      }
    });
    ws.on('error', (err) => this.deps.log.warn({ event: 'REPL_LINK_ERROR', address, error: err.message }, 'replication socket error'));
    this.send(ws, { type: 'challenge', protocol: 1, nonce });
  }

  private hello(ws: WebSocket, address: string, nonce: string, hello: Extract<ToActive, { type: 'repl.hello' }>): Session | undefined {
    let h = hello;
    const { settings, changes, log, now } = this.deps;
    if (!settings.joinSecret || !proofMatches(standbyProof(settings.joinSecret, h.name, nonce), h.proof)) {
      this.refuse(ws, address, 'MOAT_ERR_JOIN_REFUSED', `standby ${h.name} refused: wrong join secret`);
      return undefined;
    }
    if (h.epoch > this.deps.epoch()) {
      this.refuse(ws, address, 'MOAT_ERR_STALE_EPOCH', `this master's epoch ${this.deps.epoch()} is below ${h.epoch}, seen by ${h.name}`);
      this.deps.onHigherEpoch(h.epoch, h.name);
      return undefined;
    }
    if (!this.deps.isActive()) {
      this.refuse(ws, address, 'MOAT_ERR_NOT_ACTIVE', `${settings.name} is not the active master`);
      return undefined;
    }
    const head = changes.head();
    // Its position, else the newest of its recent places this log holds (it undoes what came after), else a full copy.
    const rollbackTo = canContinue(changes, { seq: h.seq, epoch: h.seqEpoch, at: h.seqAt }) ? undefined : h.recent.find((p) => canContinue(changes, p));
    const snapshot = !canContinue(changes, { seq: h.seq, epoch: h.seqEpoch, at: h.seqAt }) && rollbackTo === undefined;
    if (rollbackTo) h = { ...h, seq: rollbackTo.seq, seqEpoch: rollbackTo.epoch, seqAt: rollbackTo.at };
    const session: Session = { ws, name: h.name, address, connectedAt: now(), cursor: h.seq, acked: snapshot ? 0 : h.seq, ackedAt: 0, lastSeen: now(), ready: false, synced: !snapshot && h.seq >= head.seq, syncedAt: snapshot ? Number.MAX_SAFE_INTEGER : head.seq, pinned: snapshot ? 0 : undefined };
    this.send(ws, { type: 'repl.welcome', name: settings.name, epoch: this.deps.epoch(), head, snapshot, heartbeatMs: settings.heartbeatMs, ...(rollbackTo ? { rollbackTo } : {}) });
    this.sessions.add(session);
    if (snapshot) {
      void this.sendSnapshot(session, { seq: h.seq, epoch: h.seqEpoch }).catch((err: unknown) => {
        log.warn({ event: 'REPL_SNAPSHOT_FAILED', standby: h.name, error: (err as Error).message }, 'snapshot not completed; the standby will ask again');
        ws.close(1011, 'snapshot failed');
      });
    } else session.ready = true;
    log.info({ event: 'REPL_STANDBY_UP', standby: h.name, address, fromSeq: session.cursor, headSeq: head.seq, snapshot, rolledBackTo: rollbackTo?.seq }, 'standby following');
    return session;
  }

  /** A full copy, page by page as the socket drains; the session follows the log from its point after it. */
  private async sendSnapshot(s: Session, from: { seq: number; epoch: number }): Promise<void> {
    let rows = 0;
    const point = await streamSnapshot(this.deps.db, PAGE, FRAME_BUDGET, (p) => (s.pinned = p.seq), async (table, page) => {
      if (s.ws.readyState !== s.ws.OPEN) throw new Error('the standby went away');
      rows += page.length;
      this.send(s.ws, { type: 'repl.snapshot', table, rows: page });
      while (s.ws.bufferedAmount > MAX_BUFFERED && s.ws.readyState === s.ws.OPEN) await new Promise((r) => setTimeout(r, 10));
    });
    this.send(s.ws, { type: 'repl.snapshot.end', point });
    s.cursor = point.seq;
    s.syncedAt = point.seq;
    s.pinned = undefined;
    s.ready = true;
    this.deps.log.info({ event: 'REPL_SNAPSHOT_SENT', standby: s.name, rows, seq: point.seq, from }, 'standby needed a full copy; snapshot sent');
  }

  private refuse(ws: WebSocket, address: string, code: string, message: string): void {
    // Two standbys probing each other while no master is active is expected: not a warning.
    this.deps.log[code === 'MOAT_ERR_NOT_ACTIVE' ? 'debug' : 'warn']({ event: 'REPL_REFUSED', address, code }, message);
    this.send(ws, { type: 'error', code, message });
    ws.close(1008, code);
  }

  /** Send what each standby has not had yet, heartbeats, and prune the log now and then. */
  private pump(): void {
    const { changes, now, settings } = this.deps;
    if (this.sessions.size === 0 && this.waiters.length === 0 && now() - this.lastPrune < 60_000) return;
    const head = changes.head();
    for (const s of this.sessions) {
      if (now() - s.lastSeen > 3 * settings.heartbeatMs) {
        this.deps.log.warn({ event: 'REPL_STANDBY_TIMEOUT', standby: s.name }, 'standby silent; closing its link');
        s.ws.terminate();
        this.sessions.delete(s);
        this.settleWaiters();
        continue;
      }
      if (!s.ready) continue;
      while (s.cursor < head.seq && s.ws.bufferedAmount < MAX_BUFFERED) {
        const page = changes.since(s.cursor, PAGE);
        if (page.length === 0) break;
        let bytes = 0;
        let n = 0;
        while (n < page.length && (n === 0 || bytes + (page[n]!.row?.length ?? 0) < FRAME_BUDGET)) bytes += page[n++]!.row?.length ?? 0;
        const batch = page.slice(0, n);
        this.send(s.ws, { type: 'repl.changes', changes: batch, head });
        s.cursor = batch.at(-1)!.seq;
      }
    }
    this.heartbeat(head);
    if (now() - this.lastPrune >= 60_000) {
      this.lastPrune = now();
      let below = head.seq - settings.retainChanges;
      // Never below a snapshot still streaming: its standby continues from its point.
      for (const s of this.sessions) if (s.pinned !== undefined) below = Math.min(below, s.pinned);
      if (below > 0) {
        const removed = changes.pruneBelow(below);
        if (removed > 0) this.deps.log.debug({ event: 'REPL_PRUNED', removed, below }, 'old replication log entries dropped');
      }
    }
  }

  private lastBeat = 0;
  private heartbeat(head: ReplPoint): void {
    if (this.deps.now() - this.lastBeat < this.deps.settings.heartbeatMs) return;
    this.lastBeat = this.deps.now();
    for (const s of this.sessions) this.send(s.ws, { type: 'repl.heartbeat', at: this.lastBeat, head });
  }

  /** Close every standby link (this master stops being active, or stops). */
  closeAll(reason: string): void {
    for (const s of this.sessions) s.ws.close(1001, reason.slice(0, 100));
    this.sessions.clear();
    this.settleWaiters();
  }

  close(): void {
    clearInterval(this.timer);
    this.closeAll('master stopping');
  }

  private send(ws: WebSocket, frame: ToStandby): void {
    if (ws.readyState === ws.OPEN) ws.send(encodeReplFrame(frame));
  }
}
