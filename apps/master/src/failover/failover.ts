import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '@moat/storage';
import { runHookCommand, startElection, type ElectionConfig, type ElectionNode } from '@moat/balancer';
import type { MasterConfig } from '../config.ts';
import { installChangeCapture, setCapture } from './change-capture.ts';
import { createChangeLog, type ChangeLog } from './change-log.ts';
import { createApplier } from './change-apply.ts';
import { ReplicationSource, type StandbyStatus } from './replication-source.ts';
import { ReplicationFollower, type FollowerStatus } from './replication-follower.ts';
import { requestVote } from './witness.ts';

export type FailoverConfig = NonNullable<MasterConfig['failover']>;
export type MasterRole = 'active' | 'standby';

/** What the rest of the master does when this one starts or stops being the active master. */
export interface RoleHooks {
  /** Became active: accept scanners, run the background jobs (the epoch is persisted already). */
  activate(epoch: number): Promise<void>;
  /** Stopped being active: close every scanner link, stop the background jobs. */
  deactivate(reason: string): Promise<void>;
}

export interface MastersStatus {
  readonly name: string;
  readonly role: MasterRole;
  readonly epoch: number;
  readonly election: { readonly state: string; readonly priority: number; readonly master: string | null } | null;
  readonly witness: string | null;
  readonly standbys: readonly StandbyStatus[];
  readonly replication: FollowerStatus | null;
}

const FENCE = 'fence';

/**
 * Management failover: which role this master has, its epoch, the replication link in the
 * right direction for that role, the election and the witness lease. The one place that
 * decides; the hub, the HTTP gate and the background jobs ask `isActive()`.
 *
 * Epochs: each term of an active master has one, strictly above every epoch this master has
 * seen (persisted before it acts). Whoever sees a higher epoch than its own term's steps down.
 */
export class Failover {
  private role: MasterRole = 'standby';
  private readonly changes: ChangeLog;
  private readonly source: ReplicationSource;
  private readonly follower: ReplicationFollower;
  private election: ElectionNode | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseUntil = 0;
  private claiming = false;
  private transition: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly deps;

  constructor(deps: { db: Db; log: Logger; now: () => number; name: string; joinSecret: string | undefined; heartbeatMs: number; config: FailoverConfig; registry: Registry; hooks: RoleHooks }) {
    this.deps = deps;
    installChangeCapture(deps.db);
    setCapture(deps.db, false);
    this.changes = createChangeLog(deps.db);
    this.source = new ReplicationSource({
      db: deps.db, log: deps.log, now: deps.now, changes: this.changes,
      settings: { joinSecret: deps.joinSecret, heartbeatMs: deps.heartbeatMs, name: deps.name, retainChanges: deps.config.retainChanges },
      isActive: () => this.isActive(), epoch: () => this.epoch(),
      onHigherEpoch: (epoch, from) => this.observedEpoch(epoch, `standby ${from}`),
    });
    this.follower = new ReplicationFollower({
      log: deps.log, now: deps.now, changes: this.changes, applier: createApplier(deps.db),
      settings: { urls: deps.config.peers, joinSecret: deps.joinSecret, fingerprint: deps.config.fingerprint, name: deps.name, retryMs: Math.min(1000, deps.heartbeatMs) },
      epoch: () => this.epoch(),
      onEpoch: (epoch, active) => this.observedEpoch(epoch, `active master ${active}`),
    });
    this.metrics(deps.registry);
  }

  /** Checked at every use (links, acks, pushes, API): with a witness, only within the lease, even before the timer notices. */
  isActive(): boolean {
    return this.role === 'active' && (!this.deps.config.witness || this.deps.now() < this.leaseUntil);
  }

  /** The highest epoch seen (this master's own term's while it is active). */
  epoch(): number {
    return this.changes.state().epoch;
  }

  async start(): Promise<void> {
    const { config, log } = this.deps;
    if (!config.election) {
      if (config.role === 'active') await this.claim('configured active');
      if (!this.isActive()) this.follow(config.role === 'active' ? 'configured active, but cannot be: see FAILOVER_INCOMPLETE' : 'configured standby');
      return;
    }
    this.follow('startup');
    const e = config.election;
    // As the balancer does: at start the standby hook clears a management address a crash left here.
    await this.roleHook('standby', 'init', 'startup');
    const cfg: ElectionConfig = {
      nodeId: this.deps.name, vrid: e.vrid, priority: e.priority, preempt: e.preempt, preemptDelayMs: 0, startupDelayMs: 0, advertIntervalMs: e.advertIntervalMs,
      bind: e.bind, peers: e.peers, key: e.key, replayWindowMs: 30_000, hooks: { timeoutMs: 10_000 },
      // Not a health check: the fence tracker is failed by this class when it must not be active
      // (the witness refused, a higher epoch exists), so the election resigns at once.
      track: [{ upstream: FENCE, weight: 0, intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 2 }],
    };
    this.election = await startElection(cfg, {
      onMaster: () => this.queue(() => this.claim('won the election')),
      onBackup: () => this.queue(() => this.stepDown('lost the election')),
    }, log, this.deps.now);
  }

  private queue(fn: () => Promise<void>): Promise<void> {
    this.transition = this.transition.then(fn).catch((err: unknown) => this.deps.log.error({ event: 'FAILOVER_ERROR', err }, 'role change failed'));
    return this.transition;
  }

  /** Become active: a new epoch above every one seen, the witness's vote for it if configured. */
  private async claim(reason: string): Promise<void> {
    if (this.closed || this.role === 'active') return;
    const { db, log, config, now, name } = this.deps;
    if (this.changes.state().copying) {
      // Part of a snapshot is all this master has: becoming active would lose the rest.
      log.error({ event: 'FAILOVER_INCOMPLETE', reason }, 'won the election but holds only part of a full copy: staying standby');
      this.fence();
      return;
    }
    let epoch = this.epoch() + 1;
    if (config.witness) {
      // The lease is counted from before the request: the witness's runs from when it got it.
      const asked = now();
      const vote = await requestVote(config.witness.url, config.witness.key, name, epoch, config.witness.timeoutMs);
      // Refused: the witness's epoch is now the highest we know of; the next attempt goes above it.
      if (vote && !vote.granted) this.changes.raiseEpoch(vote.epoch);
      if (!vote?.granted) {
        log.warn({ event: 'FAILOVER_WITNESS_REFUSED', epoch, holder: vote?.holder ?? null, heldEpoch: vote?.epoch ?? null, reachable: vote !== undefined }, 'the witness did not grant its vote: staying standby');
        this.fence();
        return;
      }
      this.leaseUntil = asked + vote.leaseMs * 0.8;
      this.claiming = true;
      this.startLease(epoch, vote.leaseMs);
    }
    await this.follower.stop();
    db.transaction(() => {
      this.changes.raiseEpoch(epoch);
      setCapture(db, true);
      // Every term starts with a mark in the log: its epoch is then in the log at once.
      db.prepare("INSERT INTO repl_changes (epoch, at, tbl, op) VALUES (?, ?, '', 'mark')").run(epoch, now());
    })();
    // Active (scanners and the API let in) once the first admin, the registry, the jobs and the
    // management address (the `active` hook) are ready.
    try {
      await this.deps.hooks.activate(epoch);
      await this.roleHook('active', 'standby', `${reason} (epoch ${epoch})`);
    } finally {
      this.claiming = false;
    }
    this.role = 'active';
    log.warn({ event: 'FAILOVER_ACTIVE', epoch, reason }, `this master is now active (epoch ${epoch})`);
  }

  /** Renew the witness's lease; a master that cannot renew stops acting before the lease runs out. */
  private startLease(epoch: number, leaseMs: number): void {
    clearInterval(this.leaseTimer);
    const { config, name, now, log } = this.deps;
    const w = config.witness!;
    this.leaseTimer = setInterval(() => {
      // Renewed from the grant on, also while the activation (first admin, jobs) runs.
      if (this.role !== 'active' && !this.claiming) return;
      if (now() >= this.leaseUntil) {
        log.warn({ event: 'FAILOVER_LEASE_LOST', epoch }, 'the witness lease ran out unrenewed: stepping down');
        void this.queue(() => this.stepDown('witness lease lost'));
        this.fence();
        return;
      }
      const sent = now();
      void requestVote(w.url, w.key, name, epoch, w.timeoutMs).then((v) => {
        if (v?.granted && v.epoch === epoch) this.leaseUntil = Math.max(this.leaseUntil, sent + v.leaseMs * 0.8);
        else if (v && !v.granted) {
          this.changes.raiseEpoch(v.epoch);
          void this.queue(() => this.stepDown(`the witness holds epoch ${v.epoch} for ${v.holder ?? 'nobody'}`));
          this.fence();
        }
      });
    }, Math.max(50, Math.floor(leaseMs / 4)));
    this.leaseTimer.unref();
  }

  /** `failover.election.hooks`: move the management virtual address (never throws; logged as ha.hook_*). */
  private async roleHook(to: 'active' | 'standby', from: string, reason: string): Promise<void> {
    const e = this.deps.config.election;
    const command = e?.hooks[to];
    if (!e || !command) return;
    await runHookCommand(command, { state: to, previousState: from, reason, vip: e.address ?? '', vipPort: 0, priority: e.priority, vrid: e.vrid, nodeId: this.deps.name }, e.hooks.timeoutMs, this.deps.log);
  }

  /** Make the election resign now and stay out for a while (a failed fence tracker = FAULT). */
  private fence(): void {
    const e = this.election;
    if (!e) return;
    e.setTracker(FENCE, false);
    const back = setTimeout(() => e.setTracker(FENCE, true), 4 * (this.deps.config.election?.advertIntervalMs ?? 1000));
    back.unref();
  }

  private follow(reason: string): void {
    this.role = 'standby';
    const { db } = this.deps;
    db.transaction(() => {
      setCapture(db, false);
      // What this master has applied is its own log up to its head (its own entries, if it was active).
      const head = this.changes.head();
      db.prepare('UPDATE repl_state SET applied_seq = ?, applied_epoch = ?, applied_at = ? WHERE id = 1').run(head.seq, head.epoch, head.at);
    })();
    this.deps.log.info({ event: 'FAILOVER_STANDBY', epoch: this.epoch(), reason }, 'this master is a standby');
    this.follower.start();
  }

  private async stepDown(reason: string): Promise<void> {
    if (this.closed || this.role !== 'active') return;
    clearInterval(this.leaseTimer);
    this.role = 'standby';
    setCapture(this.deps.db, false);
    this.deps.log.warn({ event: 'FAILOVER_STEPPED_DOWN', epoch: this.epoch(), reason }, 'this master stepped down');
    // Scanners first: nothing written here since the last standby ack may be acknowledged to them now.
    await this.deps.hooks.deactivate(reason);
    this.source.closeAll('no longer the active master');
    await this.roleHook('standby', 'active', reason);
    this.follow(reason);
  }

  /** An epoch seen anywhere (a standby, a scanner, the active master): persisted; an active master below it steps down. */
  observedEpoch(epoch: number, from: string): void {
    const mine = this.epoch();
    if (epoch <= mine) return;
    this.changes.raiseEpoch(epoch);
    this.deps.log.warn({ event: 'FAILOVER_EPOCH_SEEN', epoch, was: mine, from }, `epoch ${epoch} seen (${from})`);
    if (this.role === 'active') {
      void this.queue(() => this.stepDown(`a higher epoch (${epoch}) exists, seen by ${from}`));
      this.fence();
    }
  }

  /**
   * Resolves once what this master has written so far is on a standby too (at once when no
   * standby follows, or when this master is not active): see ReplicationSource.replicated.
   */
  replicated(): Promise<void> {
    if (this.role !== 'active') return Promise.resolve();
    return this.source.replicated(this.changes.head().seq);
  }

  acceptStandby(ws: WebSocket, address: string): void {
    this.source.accept(ws, address);
  }

  status(): MastersStatus {
    const el = this.election?.status();
    return {
      name: this.deps.name, role: this.role, epoch: this.epoch(),
      election: el ? { state: el.state, priority: el.effectivePriority, master: el.master } : null,
      witness: this.deps.config.witness?.url ?? null,
      standbys: this.role === 'active' ? this.source.standbys() : [],
      replication: this.role === 'standby' ? this.follower.status() : null,
    };
  }

  /** `abrupt`: as a crash would (no resign advert), for tests. */
  async close(opts: { abrupt?: boolean } = {}): Promise<void> {
    this.closed = true;
    clearInterval(this.leaseTimer);
    await this.election?.stop(opts);
    await this.transition;
    this.source.close();
    await this.follower.stop();
  }

  private metrics(registry: Registry): void {
    const gauge = (name: string, help: string, value: () => number) => new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
    gauge('moat_master_active', '1 while this master is the active one (0: standby).', () => (this.role === 'active' ? 1 : 0));
    gauge('moat_master_epoch', 'The highest epoch this master has seen (its own term\'s while active).', () => this.epoch());
    gauge('moat_replication_applied_seq', 'Standby: the last replication log entry applied (active: the log head).', () => (this.role === 'active' ? this.changes.head().seq : this.follower.status().appliedSeq));
    gauge('moat_replication_lag_events', 'Standby: log entries of the active master not applied yet.', () => (this.role === 'active' ? 0 : this.follower.status().lagEvents));
    gauge('moat_replication_lag_seconds', 'Standby: how far behind the active master its applied state is, in the active master\'s time.', () => (this.role === 'active' ? 0 : this.follower.status().lagSeconds));
    gauge('moat_replication_standbys', 'Active master: standbys following now (0: changes are acknowledged without a copy).', () => (this.role === 'active' ? this.source.standbys().length : 0));
    gauge('moat_replication_connected', 'Standby: 1 while following the active master.', () => (this.follower.status().connected ? 1 : 0));
    const standbys = () => (this.role === 'active' ? this.source.standbys() : []);
    new Gauge({
      name: 'moat_replication_standby_lag_events', help: 'Active master: each standby\'s unacknowledged log entries.', labelNames: ['standby'], registers: [registry],
      collect() {
        this.reset();
        for (const s of standbys()) this.set({ standby: s.name }, s.lagEvents);
      },
    });
  }
}
