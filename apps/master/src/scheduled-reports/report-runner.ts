import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
import { LeaseLostError, type JobLease, type Lease } from '../db/leases.ts';
import { ApiError } from '../http/api-error.ts';
import { composeReport } from './compose.ts';
import { dueRound, lastCompletePeriod, nextRound, retryAt, type ReportPeriod } from './period.ts';
import { gatherReport } from './report-data.ts';
import { renderReport } from './render.ts';
import { createScheduleRepository, type ScheduleRepository, type StoredSchedule } from './schedule-repository.ts';

/** What a report needs of the cluster: the scanners it can hand a report to, and a scanner's queue (hub.ts), as digests. */
export interface ReportRelay {
  /** Sorted; on several masters, those linked to another when none is linked here (hub.relayNodeIds). */
  relayNodeIds(): Promise<readonly string[]>;
  injectMessage(nodeId: string, message: { mailFrom: string; rcptTo: readonly string[]; raw: Buffer }): Promise<{ queueId: string }>;
}

export interface ReportRunnerDeps {
  /** The message log's roll-ups and quarantine index the figures come from. */
  readonly db: Kysely<MasterSchema>;
  readonly repo: ScheduleRepository;
  readonly relay: ReportRelay;
  readonly log: Logger;
  readonly now: () => number;
  /** Right-hand side of the reports' Message-IDs (the master's node name). */
  readonly hostname: string;
  /**
   * The checks' lease across masters (db/leases.ts): a tick runs only on the master holding it,
   * and a round is claimed fenced, so a master that paused past its lease claims nothing after
   * another took over. Absent: every tick runs (the claim alone keeps a round from going twice).
   */
  readonly lease?: JobLease;
}

/** A report handed to a scanner. */
export interface SentReport {
  readonly period: ReportPeriod;
  readonly nodeId: string;
  readonly queueId: string;
  readonly recipients: readonly string[];
}

/** What one scheduled check did: reports queued, and rounds that failed (retried later). */
export interface TickOutcome {
  readonly sent: number;
  readonly failed: number;
}

/**
 * Scheduled reports: every check, each enabled schedule whose latest round is due and not yet
 * sent gets its report built from the roll-ups and handed to an online scanner's durable relay
 * queue (`queue.inject`, as digests are), which delivers it through its relay. The round is
 * claimed in the database before the hand-off and marked sent with the scanner's queue id
 * after it, so a period is sent once whatever restarts; a failure is retried with a back-off.
 */
export class ReportRunner {
  private readonly deps: ReportRunnerDeps;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<TickOutcome> | undefined;
  private nextNode = 0;

  constructor(deps: ReportRunnerDeps) {
    this.deps = deps;
  }

  /** Check every `tickMs` whether a round is due. */
  start(tickMs: number): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.tick().catch((err: unknown) => this.deps.log.error({ event: 'REPORT_TICK_ERROR', err }, 'scheduled report check failed')), tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
    await this.deps.lease?.release().catch((err: unknown) => this.deps.log.warn({ event: 'LEASE_RELEASE_FAILED', job: 'reports', err }, 'could not give the scheduled reports\' lease up; another master takes it once it expires'));
  }

  /** When this schedule's next round is due (null while it is disabled). */
  async nextDueAt(s: StoredSchedule): Promise<number | null> {
    if (!s.schedule.enabled) return null;
    const now = this.deps.now();
    const due = dueRound(s.schedule, s.createdAt, now);
    const round = due ? await this.deps.repo.round(s.id, due.period) : undefined;
    if (due && round?.status !== 'sent') return Math.max(due.dueAt, round ? retryAt(round.attempts, round.lastAttemptAt) : 0);
    return nextRound(s.schedule, now).dueAt;
  }

  /** One check of every schedule at `now` (the clock's time by default); concurrent calls share one check. */
  tick(now = this.deps.now()): Promise<TickOutcome> {
    this.running ??= this.leased(now).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Nothing while another master holds the lease; a check stops where its lease was lost. */
  private async leased(now: number): Promise<TickOutcome> {
    const lease = await this.deps.lease?.take();
    if (this.deps.lease && !lease) return { sent: 0, failed: 0 };
    try {
      return await this.check(now, lease);
    } catch (err) {
      if (!(err instanceof LeaseLostError)) throw err;
      this.deps.log.warn({ event: 'REPORT_LEASE_LOST' }, `scheduled report check stopped: ${err.message}`);
      return { sent: 0, failed: 0 };
    }
  }

  /** Take a round: fenced by the lease when the check has one, joined to that transaction. */
  private claim(lease: Lease | undefined, ...args: Parameters<ScheduleRepository['claim']>): Promise<boolean> {
    const jobLease = this.deps.lease;
    if (!lease || !jobLease) return this.deps.repo.claim(...args);
    return jobLease.fenced(lease, (trx) => createScheduleRepository(trx).claim(...args));
  }

  private async check(now: number, lease: Lease | undefined): Promise<TickOutcome> {
    let sent = 0;
    let failed = 0;
    for (const s of await this.deps.repo.list()) {
      if (!s.schedule.enabled) continue;
      const due = dueRound(s.schedule, s.createdAt, now);
      if (!due) continue;
      const round = await this.deps.repo.round(s.id, due.period);
      if (round?.status === 'sent') continue;
      if (round && now < retryAt(round.attempts, round.lastAttemptAt)) continue;
      // Taken as seen: another master that took it since (its attempts moved on) keeps it.
      if (!(await this.claim(lease, s.id, due.period, s.schedule.recipients, now, round?.attempts ?? 0))) continue;
      try {
        const out = await this.send(s, due.period, now, `<report.${s.id}.${due.period.start.toString(36)}.${due.period.end.toString(36)}@${this.deps.hostname}>`);
        await this.deps.repo.sent(s.id, due.period, this.deps.now(), out.nodeId, out.queueId);
        this.deps.log.info({ event: 'REPORT_SENT', schedule: s.id, periodStart: due.period.start, nodeId: out.nodeId, queueId: out.queueId, recipients: out.recipients.length }, 'scheduled report queued for relay');
        sent++;
      } catch (err) {
        const nodeId = err instanceof ReportSendError ? err.nodeId : null;
        await this.deps.repo.failed(s.id, due.period, nodeId, (err as Error).message);
        this.deps.log.warn({ event: 'REPORT_SEND_FAILED', schedule: s.id, periodStart: due.period.start, nodeId, code: (err as { code?: string }).code, error: (err as Error).message }, 'scheduled report not queued; retrying later');
        failed++;
      }
    }
    return { sent, failed };
  }

  /** *Send now*: the last whole period that has ended, to the schedule's recipients, whether or not it is enabled. Not a round: the schedule's own round still goes out. */
  async sendNow(s: StoredSchedule): Promise<SentReport> {
    const at = this.deps.now();
    try {
      return await this.send(s, lastCompletePeriod(s.schedule, at), at, `<report.${s.id}.now.${at.toString(36)}@${this.deps.hostname}>`);
    } catch (err) {
      if (err instanceof ReportSendError && err.nodeId === null) throw new ApiError(503, 'MOAT_ERR_NODE_OFFLINE', err.message);
      throw err instanceof ReportSendError ? err.cause : err;
    }
  }

  private async send(s: StoredSchedule, period: ReportPeriod, at: number, messageId: string): Promise<SentReport> {
    const online = await this.deps.relay.relayNodeIds();
    if (online.length === 0) throw new ReportSendError(null, 'no scanner is online to relay the report');
    const nodeId = online[this.nextNode++ % online.length]!;
    const report = renderReport(await gatherReport(this.deps.db, s.schedule, period, at));
    const mail = await composeReport(s.schedule, report, messageId, new Date(at));
    try {
      const { queueId } = await this.deps.relay.injectMessage(nodeId, { mailFrom: mail.mailFrom, rcptTo: s.schedule.recipients, raw: mail.raw });
      return { period, nodeId, queueId, recipients: s.schedule.recipients };
    } catch (err) {
      throw new ReportSendError(nodeId, (err as Error).message, err);
    }
  }
}

/** The hand-off to a scanner failed (`nodeId` null: none was online). */
class ReportSendError extends Error {
  readonly nodeId: string | null;
  readonly code: string | undefined;
  constructor(nodeId: string | null, message: string, cause?: unknown) {
    super(message, { cause });
    this.nodeId = nodeId;
    this.code = (cause as { code?: string } | undefined)?.code ?? (nodeId === null ? 'MOAT_ERR_NODE_OFFLINE' : undefined);
  }
}
