import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { MasterSchema } from '../db/schema.ts';
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

/**
 * The schedules and the record of their rounds (migration 18). A round is claimed in one
 * statement, keyed by (schedule, period): two masters on one database never both send one.
 */
export function createScheduleRepository(db: Kysely<MasterSchema>) {
  const schedules = () => db.selectFrom('report_schedules').select(['id', 'document', 'created_at', 'updated_at', 'updated_by']);
  return {
    list: async (): Promise<StoredSchedule[]> => (await schedules().orderBy('created_at').orderBy('id').execute()).map(toSchedule),
    get: async (id: string): Promise<StoredSchedule | undefined> => {
      const row = await schedules().where('id', '=', id).executeTakeFirst();
      return row ? toSchedule(row) : undefined;
    },
    async create(schedule: ReportSchedule, by: string, at: number): Promise<StoredSchedule> {
      const id = randomBytes(8).toString('hex');
      await db.insertInto('report_schedules').values({ id, document: JSON.stringify(schedule), created_at: at, updated_at: at, updated_by: by }).execute();
      return { id, schedule, createdAt: at, updatedAt: at, updatedBy: by };
    },
    /** Replace a schedule's document; false if there is none with that id. */
    update: async (id: string, schedule: ReportSchedule, by: string, at: number): Promise<boolean> =>
      Number((await db.updateTable('report_schedules').set({ document: JSON.stringify(schedule), updated_at: at, updated_by: by }).where('id', '=', id).executeTakeFirst()).numUpdatedRows) > 0,
    /** Delete it and its rounds (the foreign key cascades); false if there was none. */
    delete: async (id: string): Promise<boolean> => Number((await db.deleteFrom('report_schedules').where('id', '=', id).executeTakeFirst()).numDeletedRows) > 0,
    round: async (id: string, p: ReportPeriod): Promise<StoredRound | undefined> => {
      const row = await db.selectFrom('report_rounds').selectAll().where('schedule_id', '=', id).where('period_start', '=', p.start).where('period_end', '=', p.end).executeTakeFirst();
      return row ? toRound(row) : undefined;
    },
    recentRounds: async (id: string, limit: number): Promise<StoredRound[]> =>
      (await db.selectFrom('report_rounds').selectAll().where('schedule_id', '=', id).orderBy('last_attempt_at', 'desc').limit(limit).execute()).map(toRound),
    /**
     * Take this period's round for sending, as seen with `seenAttempts` attempts (0: no round
     * yet): true if this call took it. One statement: a new round is inserted; an existing one
     * not sent is taken again only if it still has the attempts the caller saw, so of two
     * masters that both saw it due, one takes it; a round marked sent is never taken again.
     */
    async claim(id: string, p: ReportPeriod, recipients: readonly string[], at: number, seenAttempts: number): Promise<boolean> {
      const rows = await db.insertInto('report_rounds')
        .values({ schedule_id: id, period_start: p.start, period_end: p.end, status: 'sending', attempts: 1, last_attempt_at: at, recipients: JSON.stringify(recipients) })
        .onConflict((oc) => oc.columns(['schedule_id', 'period_start', 'period_end'])
          .doUpdateSet((eb) => ({ status: 'sending', attempts: eb('report_rounds.attempts', '+', 1), last_attempt_at: eb.ref('excluded.last_attempt_at'), recipients: eb.ref('excluded.recipients'), error: null }))
          .where('report_rounds.status', '<>', 'sent').where('report_rounds.attempts', '=', seenAttempts))
        .returning('attempts').execute();
      return rows.length > 0;
    },
    async sent(id: string, p: ReportPeriod, at: number, nodeId: string, queueId: string): Promise<void> {
      await db.updateTable('report_rounds').set({ status: 'sent', sent_at: at, node_id: nodeId, queue_id: queueId, error: null })
        .where('schedule_id', '=', id).where('period_start', '=', p.start).where('period_end', '=', p.end).execute();
      // Only the newest KEEP_ROUNDS of this schedule are kept.
      const oldestKept = await db.selectFrom('report_rounds').select('last_attempt_at').where('schedule_id', '=', id).orderBy('last_attempt_at', 'desc').offset(KEEP_ROUNDS - 1).limit(1).executeTakeFirst();
      if (oldestKept) await db.deleteFrom('report_rounds').where('schedule_id', '=', id).where('last_attempt_at', '<', oldestKept.last_attempt_at).execute();
    },
    async failed(id: string, p: ReportPeriod, nodeId: string | null, error: string): Promise<void> {
      await db.updateTable('report_rounds').set({ status: 'failed', node_id: nodeId, error: error.slice(0, 500) })
        .where('schedule_id', '=', id).where('period_start', '=', p.start).where('period_end', '=', p.end).where('status', '=', 'sending').execute();
    },
  };
}
export type ScheduleRepository = ReturnType<typeof createScheduleRepository>;
