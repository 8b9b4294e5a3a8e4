import type { PeerCertificate, TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import { decodeToStandby, encodeReplFrame, standbyProof, FrameError, MAX_FRAME_BYTES, type ToActive, type ToStandby, type ReplPoint } from '@moat/protocol';
import type { ChangeLog } from './change-log.ts';
import type { Applier } from './change-apply.ts';

/** Log places a standby offers when its position does not match (a master that crashed while active has a short unreplicated tail). */
const RECENT_POSITIONS = 512;

export interface FollowerSettings {
  /** The other masters' replication links (`ws[s]://host:port/cluster/replication`), tried in order. */
  readonly urls: readonly string[];
  readonly joinSecret: string | undefined;
  readonly fingerprint: string | undefined;
  readonly name: string;
  readonly retryMs: number;
}

export interface FollowerStatus {
  readonly following: string | null;
  readonly activeName: string | null;
  readonly appliedSeq: number;
  readonly headSeq: number;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly connected: boolean;
}

/**
 * The standby's end of the replication link: dials the masters in order until the active one
 * welcomes it, then applies the log in order (each run of changes and the position in one
 * transaction, so a restart resumes exactly where it stopped) and acknowledges it.
 */
export class ReplicationFollower {
  private readonly deps;
  private ws: WebSocket | undefined;
  private next = 0;
  private stopped = true;
  private retry: NodeJS.Timeout | undefined;
  private beat: NodeJS.Timeout | undefined;
  private lastReceived = 0;
  private heartbeatMs = 5000;
  private following: string | null = null;
  private activeName: string | null = null;
  private head: ReplPoint = { seq: 0, epoch: 0, at: 0 };
  private connected = false;

  constructor(deps: {
    log: Logger;
    now: () => number;
    changes: ChangeLog;
    applier: Applier;
    settings: FollowerSettings;
    /** Highest epoch this master has seen (persisted). */
    epoch: () => number;
    /** The active master's epoch, once it welcomed us (persist it before anything else). */
    onEpoch: (epoch: number, activeName: string) => void;
  }) {
    this.deps = deps;
  }

  status(): FollowerStatus {
    const s = this.deps.changes.state();
    const head = Math.max(this.head.seq, s.appliedSeq);
    return {
      following: this.following, activeName: this.activeName, appliedSeq: s.appliedSeq, headSeq: head, connected: this.connected,
      lagEvents: head - s.appliedSeq,
      lagSeconds: s.appliedSeq >= head ? 0 : Math.max(0, (this.head.at - s.appliedAt) / 1000),
    };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.beat);
    const ws = this.ws;
    this.ws = undefined;
    this.connected = false;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1001, 'standby stopping');
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000).unref();
      });
    }
  }

  private connect(): void {
    const { settings, log } = this.deps;
    if (this.stopped || settings.urls.length === 0) return;
    const url = settings.urls[this.next % settings.urls.length]!;
    this.next++;
    const secure = url.startsWith('wss:');
    const ws = new WebSocket(url, { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: 5000, ...(secure ? { rejectUnauthorized: false } : {}) });
    this.ws = ws;
    if (secure) {
      ws.on('upgrade', (res) => {
        const cert: PeerCertificate = (res.socket as TLSSocket).getPeerCertificate();
        const pin = settings.fingerprint?.toUpperCase();
        if (!pin || cert.fingerprint256?.toUpperCase() !== pin) {
          log.error({ event: 'REPL_PIN_MISMATCH', url }, 'refusing the master: certificate pin mismatch (failover.fingerprint)');
          ws.terminate();
        }
      });
    }
    ws.on('message', (data: Buffer) => {
      if (ws !== this.ws) return;
      this.lastReceived = this.deps.now();
      let frame: ToStandby;
      try {
        frame = decodeToStandby(data);
      } catch (err) {
        const e = err as FrameError;
        log.error({ event: 'REPL_BAD_FRAME', url, code: e.code, error: e.message }, 'invalid replication frame from the active master');
        ws.close(1008, 'invalid frame');
        return;
      }
      try {
        this.onFrame(ws, url, frame);
      } catch (err) {
        // A gap or a schema difference: drop the link; the next hello carries our position and
        // the active master decides (a snapshot when we cannot continue).
        log.error({ event: 'REPL_APPLY_FAILED', url, error: (err as Error).message }, 'could not apply replicated changes; reconnecting');
        ws.close(1011, 'apply failed');
      }
    });
    ws.on('close', () => {
      if (ws !== this.ws) return;
      clearInterval(this.beat);
      const was = this.connected;
      this.connected = false;
      this.following = null;
      if (was) log.warn({ event: 'REPL_DOWN', url }, 'replication link closed');
      if (this.stopped) return;
      // Next master in the list at once; a pause after a full round.
      const delay = this.next % settings.urls.length === 0 ? settings.retryMs : 0;
      this.retry = setTimeout(() => this.connect(), delay);
      this.retry.unref();
    });
    ws.on('error', (err) => log.debug({ event: 'REPL_LINK_ERROR', url, error: err.message }, 'replication link error'));
  }

  private onFrame(ws: WebSocket, url: string, frame: ToStandby): void {
    const { log, changes, applier, settings } = this.deps;
    switch (frame.type) {
      case 'challenge': {
        if (!settings.joinSecret) {
          log.error({ event: 'REPL_NO_SECRET' }, 'a standby needs cluster.joinSecret to follow the active master');
          ws.close(1000, 'no secret');
          return;
        }
        const s = changes.state();
        this.send(ws, {
          type: 'repl.hello', protocol: frame.protocol, name: settings.name, proof: standbyProof(settings.joinSecret, settings.name, frame.nonce),
          epoch: this.deps.epoch(), seq: s.appliedSeq, seqEpoch: s.appliedEpoch, seqAt: s.appliedAt,
          // Where else it may match, if its position does not (it was active and wrote what nobody got).
          recent: s.copying ? [] : changes.recent(RECENT_POSITIONS),
        });
        return;
      }
      case 'repl.welcome':
        if (frame.epoch < this.deps.epoch()) {
          log.warn({ event: 'REPL_STALE_ACTIVE', url, epoch: frame.epoch, seen: this.deps.epoch() }, 'a master below the highest epoch seen claims to be active; ignoring it');
          ws.close(1008, 'stale epoch');
          return;
        }
        this.deps.onEpoch(frame.epoch, frame.name);
        this.following = url;
        this.activeName = frame.name;
        this.head = frame.head;
        this.connected = true;
        this.heartbeatMs = frame.heartbeatMs;
        this.startHeartbeat(ws);
        if (frame.rollbackTo) {
          try {
            const undone = applier.rollbackTo(frame.rollbackTo);
            log.warn({ event: 'REPL_ROLLED_BACK', active: frame.name, undone, to: frame.rollbackTo.seq }, 'changes made here that the active master never got were undone');
          } catch (err) {
            // Cannot undo: start over from a full copy (position 0: the next hello asks for one).
            log.error({ event: 'REPL_APPLY_FAILED', url, error: (err as Error).message }, 'could not undo the changes the active master never got; a full copy follows');
            applier.beginSnapshot();
            ws.close(1011, 'rollback failed');
            return;
          }
        }
        if (frame.snapshot) {
          const s = changes.state();
          if (s.appliedSeq > 0) log.warn({ event: 'REPL_DIVERGED', active: frame.name, appliedSeq: s.appliedSeq, appliedEpoch: s.appliedEpoch }, 'this master\'s state is not a prefix of the active master\'s (pruned, or changed here while cut off): replaced by a full copy');
          applier.beginSnapshot();
        }
        log.info({ event: 'REPL_UP', url, active: frame.name, epoch: frame.epoch, snapshot: frame.snapshot, appliedSeq: changes.state().appliedSeq, headSeq: frame.head.seq }, 'following the active master');
        return;
      case 'repl.snapshot':
        applier.snapshotRows(frame.table, frame.rows);
        return;
      case 'repl.snapshot.end':
        applier.endSnapshot(frame.point);
        log.info({ event: 'REPL_SNAPSHOT_APPLIED', seq: frame.point.seq }, 'full copy applied');
        this.send(ws, { type: 'repl.ack', seq: frame.point.seq });
        return;
      case 'repl.changes':
        applier.apply(frame.changes);
        if (frame.head.seq > this.head.seq) this.head = frame.head;
        this.send(ws, { type: 'repl.ack', seq: changes.state().appliedSeq });
        return;
      case 'repl.heartbeat':
        if (frame.head && frame.head.seq >= this.head.seq) this.head = frame.head;
        return;
      case 'error':
        log[frame.code === 'MOAT_ERR_NOT_ACTIVE' ? 'debug' : 'warn']({ event: 'REPL_REFUSED', url, code: frame.code, error: frame.message }, 'the master refused the replication link');
        return;
    }
  }

  private startHeartbeat(ws: WebSocket): void {
    clearInterval(this.beat);
    this.beat = setInterval(() => {
      if (this.deps.now() - this.lastReceived > 3 * this.heartbeatMs) {
        this.deps.log.warn({ event: 'REPL_TIMEOUT', url: this.following }, 'no heartbeat from the active master; reconnecting');
        ws.terminate();
        return;
      }
      this.send(ws, { type: 'repl.heartbeat', at: this.deps.now() });
    }, this.heartbeatMs);
    this.beat.unref();
  }

  private send(ws: WebSocket, frame: ToActive): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeReplFrame(frame));
  }
}
