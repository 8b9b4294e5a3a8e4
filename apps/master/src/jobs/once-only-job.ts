import type { Logger } from 'pino';
import { LeaseLostError, type JobLease, type Lease } from '../db/leases.ts';

export interface OnceOnlyJobDeps {
  /** The job's name in logs. */
  readonly name: string;
  readonly lease: JobLease;
  readonly log: Logger;
  /** One run, by the master holding the lease (its writes that a stale holder must not make go through `lease.fenced`). */
  readonly run: (lease: Lease) => Promise<void>;
}

/**
 * A periodic job that runs on one master at a time: every tick takes (or renews) the job's
 * lease and runs only if this master holds it. The holder keeps it from tick to tick (its
 * lease outlives the interval); when it stops it gives the lease up, and when it dies the lease
 * expires and another master's next tick takes it with a higher fence.
 */
export class OnceOnlyJob {
  private readonly deps: OnceOnlyJobDeps;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private held: Lease | undefined;

  constructor(deps: OnceOnlyJobDeps) {
    this.deps = deps;
  }

  start(everyMs: number): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.tick(), everyMs);
    this.timer.unref();
  }

  /** One try now: true if this master held the lease and ran the job (a failed run is logged). */
  tick(): Promise<boolean> {
    this.running ??= this.once().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.deps.lease.release().catch((err: unknown) => this.deps.log.warn({ event: 'LEASE_RELEASE_FAILED', job: this.deps.name, err }, 'could not give the job\'s lease up; another master takes it once it expires'));
  }

  private async once(): Promise<boolean> {
    const { name, log } = this.deps;
    try {
      const lease = await this.deps.lease.take();
      if (lease?.fence !== this.held?.fence) log.info({ event: lease ? 'LEASE_TAKEN' : 'LEASE_HELD_ELSEWHERE', job: name, fence: lease?.fence }, lease ? 'this master runs the job now' : 'another master runs the job');
      this.held = lease;
      if (!lease) return false;
      await this.deps.run(lease);
      return true;
    } catch (err) {
      if (err instanceof LeaseLostError) log.warn({ event: 'LEASE_LOST', job: name }, err.message);
      else log.error({ event: 'JOB_FAILED', job: name, err }, `${name} failed`);
      return false;
    }
  }
}
