import { randomBytes } from 'node:crypto';
import type { Db } from '@moat/storage';
import type { ReportPeriod } from './period.ts';
import { validateReportSchedule, type ReportSchedule } from './schedule-schema.ts';

export interface StoredSchedule {
  readonly id: string;
  readonly schedule: ReportSchedule;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

export type RoundStatus = 'sending' | 'sent' | 'failed';

/** One scheduled round: what was (or is being) sent for one period, and when. */
export interface StoredRound {
  readonly scheduleId: string;
  readonly period: ReportPeriod;
  readonly status: RoundStatus;
  readonly attempts: number;
  readonly lastAttemptAt: number;
  readonly sentAt: number | null;
  readonly nodeId: string | null;
  readonly queueId: string | null;
  readonly recipients: readonly string[];
  readonly error: string | null;
}

interface ScheduleRow { id: string; document: string; created_at: number; updated_at: number; updated_by: string }
interface RoundRow {
  schedule_id: string; period_start: number; period_end: number; status: RoundStatus; attempts: number; last_attempt_at: number;
  sent_at: number | null; node_id: string | null; queue_id: string | null; recipients: string; error: string | null;
}

// Stored documents passed validation; a key a later release adds takes its default here.
const toSchedule = (r: ScheduleRow): StoredSchedule => ({ id: r.id, schedule: validateReportSchedule(JSON.parse(r.document)), createdAt: r.created_at, updatedAt: r.updated_at, updatedBy: r.updated_by });
const toRound = (r: RoundRow): StoredRound => ({
  scheduleId: r.schedule_id, period: { start: r.period_start, end: r.period_end }, status: r.status, attempts: r.attempts, lastAttemptAt: r.last_attempt_at,
  sentAt: r.sent_at, nodeId: r.node_id, queueId: r.queue_id, recipients: JSON.parse(r.recipients) as string[], error: r.error,
});

/** Rounds kept per schedule (the newest; older ones are only history). */
const KEEP_ROUNDS = 100;

/** The schedules and the record of their rounds (migration 18). */
export function createScheduleRepository(db: Db) {
  const all = db.prepare<[], ScheduleRow>('SELECT id, document, created_at, updated_at, updated_by FROM report_schedules ORDER BY created_at, id');
  const one = db.prepare<[string], ScheduleRow>('SELECT id, document, created_at, updated_at, updated_by FROM report_schedules WHERE id = ?');
  const insert = db.prepare('INSERT INTO report_schedules (id, document, created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)');
  const update = db.prepare('UPDATE report_schedules SET document = ?, updated_at = ?, updated_by = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM report_schedules WHERE id = ?');
  const round = db.prepare<[string, number, number], RoundRow>('SELECT * FROM report_rounds WHERE schedule_id = ? AND period_start = ? AND period_end = ?');
  const recent = db.prepare<[string, number], RoundRow>('SELECT * FROM report_rounds WHERE schedule_id = ? ORDER BY last_attempt_at DESC LIMIT ?');
  const claimNew = db.prepare(`INSERT INTO report_rounds (schedule_id, period_start, period_end, status, attempts, last_attempt_at, recipients)
    VALUES (?, ?, ?, 'sending', 1, ?, ?) ON CONFLICT (schedule_id, period_start, period_end) DO NOTHING`);
  const claimAgain = db.prepare(`UPDATE report_rounds SET status = 'sending', attempts = attempts + 1, last_attempt_at = ?, recipients = ?, error = NULL
    WHERE schedule_id = ? AND period_start = ? AND period_end = ? AND status <> 'sent'`);
  const markSent = db.prepare(`UPDATE report_rounds SET status = 'sent', sent_at = ?, node_id = ?, queue_id = ?, error = NULL
    WHERE schedule_id = ? AND period_start = ? AND period_end = ?`);
  const markFailed = db.prepare(`UPDATE report_rounds SET status = 'failed', node_id = ?, error = ?
    WHERE schedule_id = ? AND period_start = ? AND period_end = ? AND status = 'sending'`);
  const prune = db.prepare(`DELETE FROM report_rounds WHERE schedule_id = ? AND last_attempt_at < (
    SELECT MIN(last_attempt_at) FROM (SELECT last_attempt_at FROM report_rounds WHERE schedule_id = ? ORDER BY last_attempt_at DESC LIMIT ${KEEP_ROUNDS}) newest)`);
  const claimTx = db.transaction((id: string, p: ReportPeriod, at: number, recipients: string): boolean => {
    if (claimNew.run(id, p.start, p.end, at, recipients).changes > 0) return true;
    return claimAgain.run(at, recipients, id, p.start, p.end).changes > 0;
  });

  return {
    list: (): StoredSchedule[] => all.all().map(toSchedule),
    get: (id: string): StoredSchedule | undefined => {
      const row = one.get(id);
      return row ? toSchedule(row) : undefined;
    },
    create(schedule: ReportSchedule, by: string, at: number): StoredSchedule {
      const id = randomBytes(8).toString('hex');
      insert.run(id, JSON.stringify(schedule), at, at, by);
      return { id, schedule, createdAt: at, updatedAt: at, updatedBy: by };
    },
    /** Replace a schedule's document; false if there is none with that id. */
    update: (id: string, schedule: ReportSchedule, by: string, at: number): boolean => update.run(JSON.stringify(schedule), at, by, id).changes > 0,
    /** Delete it and its rounds; false if there was none. */
    delete: (id: string): boolean => remove.run(id).changes > 0,
    round: (id: string, p: ReportPeriod): StoredRound | undefined => {
      const row = round.get(id, p.start, p.end);
      return row ? toRound(row) : undefined;
    },
    recentRounds: (id: string, limit: number): StoredRound[] => recent.all(id, limit).map(toRound),
    /**
     * Take this period's round for sending: true if it was not there yet or not sent (a failed
     * or interrupted one is tried again); false if it was sent already. In one transaction, so
     * a round marked sent is never claimed again.
     */
    claim: (id: string, p: ReportPeriod, recipients: readonly string[], at: number): boolean => claimTx(id, p, at, JSON.stringify(recipients)),
    sent(id: string, p: ReportPeriod, at: number, nodeId: string, queueId: string): void {
      markSent.run(at, nodeId, queueId, id, p.start, p.end);
      prune.run(id, id);
    },
    failed: (id: string, p: ReportPeriod, nodeId: string | null, error: string): void => void markFailed.run(nodeId, error.slice(0, 500), id, p.start, p.end),
  };
}
export type ScheduleRepository = ReturnType<typeof createScheduleRepository>;
