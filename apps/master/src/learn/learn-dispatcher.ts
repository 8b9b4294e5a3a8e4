import type { Logger } from 'pino';
import type { LearnEvent } from '@moat/protocol';
import type { LearnStore } from './learn-store.ts';

interface Follower {
  readonly nodeId: string;
  readonly name: string;
  readonly send: (frame: LearnEvent) => void;
  /** The highest sequence the node says it applied; undefined until its first `learn.ack`. */
  acked: number | undefined;
  /** The event sent and not yet acknowledged (the node holds it, retrying it while an engine is down). */
  inFlight: number | undefined;
  error: string | undefined;
  /** The read of the next event, while one runs; `again`: look once more when it is done. */
  sending?: Promise<void> | undefined;
  again?: boolean;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: (outcome: LearnWaitOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

export interface LearnWaitOutcome {
  /** Every online node has applied the sequence waited for. */
  readonly complete: boolean;
  /** Online nodes that have applied it (names). */
  readonly applied: string[];
  /** Online nodes that have not yet (names), with their last error if an engine failed. */
  readonly pending: { readonly node: string; readonly error?: string }[];
}

/**
 * Sends the learn log to every online scanner, in order, one event in flight per node: a node
 * says where it stopped (its first `learn.ack` after the welcome), gets the next event, applies
 * it to its own engines, acknowledges, and gets the next. A node whose engine is down keeps the
 * event and retries it; it is not sent past it. Waiters (the learn routes, `moat learn`) are
 * told when every online node has applied a sequence.
 */
export class LearnDispatcher {
  private readonly followers = new Map<string, Follower>();
  private waiters: Waiter[] = [];
  private readonly store: LearnStore;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(deps: { store: LearnStore; log: Logger; now: () => number }) {
    this.store = deps.store;
    this.log = deps.log;
    this.now = deps.now;
  }

  /** A node that speaks the learn frames is online; nothing is sent until it says where it stopped. */
  attach(nodeId: string, name: string, send: (frame: LearnEvent) => void): void {
    this.followers.set(nodeId, { nodeId, name, send, acked: undefined, inFlight: undefined, error: undefined });
    this.settleWaiters();
  }

  detach(nodeId: string): void {
    if (this.followers.delete(nodeId)) this.settleWaiters();
  }

  /**
   * A node's `learn.ack`: it has applied everything up to `seq`; with `error`, the next event
   * failed there. The link awaits it before the node's next frame, so a node's acks are
   * recorded in their order.
   */
  async acked(nodeId: string, seq: number, error: string | undefined): Promise<void> {
    const f = this.followers.get(nodeId);
    if (!f) return;
    const first = f.acked === undefined;
    const moved = f.acked !== seq;
    const hadError = f.error;
    f.acked = seq;
    if (f.inFlight !== undefined && seq >= f.inFlight) f.inFlight = undefined;
    if (error !== undefined) {
      f.error = error;
      // The node holds the failed event and retries it itself.
      if (f.inFlight === undefined) f.inFlight = seq + 1;
    } else {
      f.error = undefined;
    }
    if (first) {
      const last = await this.store.lastSeq();
      if (seq > last) this.log.warn({ event: 'LEARN_NODE_AHEAD', node: f.name, seq, last }, 'the node has applied more learn events than this master holds (a master restored from an older backup?)');
    }
    if (error !== undefined) {
      if (error !== hadError) {
        this.log.warn({ event: 'LEARN_NODE_FAILED', node: f.name, seq: seq + 1, error }, 'a learn event failed on a node; it stays pending there and is retried');
        await this.store.failed(nodeId, seq, error, this.now());
      }
      return;
    }
    if (moved || hadError !== undefined || first) {
      await this.store.applied(nodeId, seq, this.now());
      if (hadError !== undefined) this.log.info({ event: 'LEARN_NODE_RECOVERED', node: f.name, seq }, 'a node applied the learn event that had failed there');
      if (moved && !first) this.log.debug({ event: 'LEARN_APPLIED', node: f.name, seq }, 'a node applied a learn event');
    }
    this.settleWaiters();
    await this.sendNext(f);
  }

  /** New events were recorded: send them to every node that is idle. */
  published(): void {
    for (const f of this.followers.values()) void this.sendNext(f).catch((err: unknown) => this.log.error({ event: 'LEARN_SEND_FAILED', node: f.name, err }, 'the next learn event could not be read; sent with the node\'s next ack or the next event'));
  }

  /** The live state of an online node (undefined: offline, or it speaks no learn frames). */
  live(nodeId: string): { readonly acked: number | undefined; readonly error: string | undefined } | undefined {
    const f = this.followers.get(nodeId);
    return f ? { acked: f.acked, error: f.error } : undefined;
  }

  /** Resolves when every online node has applied `seq`, or after `timeoutMs` with those still pending. */
  waitApplied(seq: number, timeoutMs: number): Promise<LearnWaitOutcome> {
    const now = this.outcome(seq);
    if (now.complete || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        seq,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(this.outcome(seq));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** The master stops: waiters get what there is now. */
  close(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(this.outcome(w.seq));
    }
    this.waiters = [];
  }

  private outcome(seq: number): LearnWaitOutcome {
    const applied: string[] = [];
    const pending: { node: string; error?: string }[] = [];
    for (const f of this.followers.values()) {
      if (f.acked !== undefined && f.acked >= seq) applied.push(f.name);
      else pending.push({ node: f.name, ...(f.error !== undefined ? { error: f.error } : {}) });
    }
    return { complete: pending.length === 0, applied, pending };
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      const o = this.outcome(w.seq);
      if (!o.complete) return true;
      clearTimeout(w.timer);
      w.resolve(o);
      return false;
    });
  }

  /**
   * The next event to a node that is idle. One read at a time per node: a publish during the
   * read makes it look again once done, so an event is sent once and none is skipped.
   */
  private sendNext(f: Follower): Promise<void> {
    if (f.sending) {
      f.again = true;
      return f.sending;
    }
    const run = async () => {
      do {
        f.again = false;
        if (f.acked === undefined || f.inFlight !== undefined) return;
        const e = await this.store.next(f.acked);
        if (!e || this.followers.get(f.nodeId) !== f) continue;
        if (f.inFlight !== undefined || f.acked === undefined || e.seq <= f.acked) continue;
        f.inFlight = e.seq;
        f.send({ type: 'learn.event', seq: e.seq, eventId: e.id, class: e.class, ...(e.unlearn ? { unlearn: e.unlearn } : {}), digest: e.digest, data: e.data });
      } while (f.again);
    };
    f.sending = run().finally(() => {
      f.sending = undefined;
    });
    return f.sending;
  }
}
