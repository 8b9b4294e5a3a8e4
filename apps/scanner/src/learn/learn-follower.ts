import type { Logger } from 'pino';
import type { LearnAck, LearnEvent } from '@moat/protocol';
import type { LearnStateStore } from './learn-state.ts';

/** Teaches this node's engines one event (throws, naming the engine, when one cannot be taught). */
export type ApplyLearn = (event: LearnEvent) => Promise<void>;

export interface LearnFollowerDeps {
  readonly state: LearnStateStore;
  readonly apply: ApplyLearn;
  readonly log: Logger;
  readonly now: () => number;
  /** First retry of a failed event; doubles up to `retryMaxMs`. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

/**
 * This node's end of the learn log. On a new link it tells the master the sequence it has
 * applied; the master then sends the next event, which is applied to the engines, recorded
 * durably, and acknowledged. An event that fails (an engine down) is kept and retried with
 * backoff; the acknowledgement carries the error and never goes past it, so the master knows
 * the node is behind and why.
 */
export class LearnFollower {
  private readonly deps: LearnFollowerDeps;
  private send: ((frame: LearnAck) => void) | undefined;
  private current: LearnEvent | undefined;
  private running = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(deps: LearnFollowerDeps) {
    this.deps = deps;
  }

  /** The sequence applied so far (for the heartbeat, logs and tests). */
  get seq(): number {
    return this.deps.state.load().seq;
  }

  /** A link that speaks the learn frames is up: say where this node stands. */
  attach(send: (frame: LearnAck) => void): void {
    this.send = send;
    this.drop();
    send({ type: 'learn.ack', seq: this.seq });
  }

  /** The link is down: an event not yet applied is dropped (the master sends it again). */
  detach(): void {
    this.send = undefined;
    this.drop();
  }

  stop(): void {
    this.detach();
  }

  receive(event: LearnEvent): void {
    if (event.seq <= this.seq) {
      // Already applied (sent again after a lost acknowledgement): say so.
      this.send?.({ type: 'learn.ack', seq: this.seq });
      return;
    }
    if (this.current) {
      if (this.current.seq !== event.seq) this.deps.log.warn({ event: 'LEARN_OUT_OF_ORDER', seq: event.seq, holding: this.current.seq }, 'a learn event arrived while another is pending; ignored');
      return;
    }
    if (event.seq !== this.seq + 1) this.deps.log.warn({ event: 'LEARN_GAP', seq: event.seq, applied: this.seq }, 'learn events skipped by the master');
    this.current = event;
    this.failures = 0;
    void this.run();
  }

  private drop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.current = undefined;
  }

  /** Applies the held event (and any that replaced it meanwhile) unless a retry is scheduled. */
  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.current && !this.retryTimer) await this.applyOne(this.current);
    } finally {
      this.running = false;
    }
  }

  private async applyOne(event: LearnEvent): Promise<void> {
    const { log } = this.deps;
    if (event.seq <= this.seq) {
      this.current = undefined;
      this.send?.({ type: 'learn.ack', seq: this.seq });
      return;
    }
    try {
      await this.deps.apply(event);
      const before = this.deps.state.load();
      await this.deps.state.save({ seq: event.seq, spam: before.spam + (event.class === 'spam' ? 1 : 0), ham: before.ham + (event.class === 'ham' ? 1 : 0), at: this.deps.now() });
      log.info({ event: 'LEARN_APPLIED', seq: event.seq, class: event.class, unlearn: event.unlearn, digest: event.digest.slice(0, 16) }, event.unlearn ? `learn event applied: ${event.unlearn} → ${event.class}` : `learn event applied: ${event.class}`);
      if (this.current === event) this.current = undefined;
      this.send?.({ type: 'learn.ack', seq: event.seq });
    } catch (err) {
      const error = (err as Error).message.slice(0, 900);
      const delay = Math.min(this.deps.retryMaxMs ?? 60_000, (this.deps.retryBaseMs ?? 2000) * 2 ** Math.min(this.failures, 10));
      this.failures++;
      log.warn({ event: 'LEARN_FAILED', seq: event.seq, class: event.class, error, retryInMs: delay, attempts: this.failures }, 'a learn event could not be applied; it stays pending and is retried');
      if (this.current !== event) return;
      this.send?.({ type: 'learn.ack', seq: this.seq, error });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.run();
      }, delay);
      this.retryTimer.unref();
    }
  }
}
