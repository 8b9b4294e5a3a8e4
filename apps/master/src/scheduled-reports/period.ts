import { DAY_MS, floorTo } from '../data/time-buckets.ts';
import { WEEKDAYS, type ReportSchedule } from './schedule-schema.ts';

/**
 * When reports are sent and what they cover. Pure: the runner only compares with its clock.
 * All in UTC, in whole days, because the roll-ups are hourly and daily UTC buckets.
 */

/** [start, end) in epoch ms: whole UTC days. */
export interface ReportPeriod {
  readonly start: number;
  readonly end: number;
}

/** One scheduled round: the period it reports and when it is due. */
export interface Round {
  readonly period: ReportPeriod;
  readonly dueAt: number;
}

type Timing = Pick<ReportSchedule, 'period' | 'sendAt' | 'weekday'>;

const periodDays = (t: Timing) => (t.period === 'weekly' ? 7 : 1);

/**
 * The round whose send time is the latest at or before `now`. Its send day is today (or the
 * last `weekday`) when its HH:MM has passed, else the one before; it reports the day (or seven
 * days) ending at that send day's midnight, so figures are of whole days that have ended.
 */
export function latestRound(t: Timing, now: number): Round {
  const [h, m] = t.sendAt.split(':').map(Number) as [number, number];
  const offset = (h * 60 + m) * 60_000;
  let day = floorTo(now, DAY_MS);
  if (day + offset > now) day -= DAY_MS;
  if (t.period === 'weekly') {
    const want = WEEKDAYS.indexOf(t.weekday);
    day -= ((new Date(day).getUTCDay() - want + 7) % 7) * DAY_MS;
  }
  return { period: { start: day - periodDays(t) * DAY_MS, end: day }, dueAt: day + offset };
}

/** The first round due strictly after `now`. */
export function nextRound(t: Timing, now: number): Round {
  return latestRound(t, latestRound(t, now).dueAt + periodDays(t) * DAY_MS);
}

/**
 * The round a scheduled check should send now, if any: the latest one, provided it came due
 * after the schedule was made (a schedule made at noon does not send this morning's report at
 * once). After downtime only the latest missed round is sent, not every one.
 */
export function dueRound(t: Timing, createdAt: number, now: number): Round | undefined {
  const round = latestRound(t, now);
  return round.dueAt >= createdAt ? round : undefined;
}

/** What *Send now* reports: the last whole day (or seven days) that has ended. */
export function lastCompletePeriod(t: Pick<ReportSchedule, 'period'>, now: number): ReportPeriod {
  const end = floorTo(now, DAY_MS);
  return { start: end - (t.period === 'weekly' ? 7 : 1) * DAY_MS, end };
}

const RETRY_BASE_MS = 60_000;
const RETRY_MAX_MS = 30 * 60_000;

/** When a failed round is tried again: a minute after the first failure, doubling, at most every 30 minutes. */
export function retryAt(attempts: number, lastAttemptAt: number): number {
  return lastAttemptAt + Math.min(RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_MS);
}
