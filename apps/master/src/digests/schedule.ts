import type { DigestSettings } from './settings-schema.ts';

const DAY_MS = 86_400_000;

/**
 * When the next round is due, given when the last one finished (or, before the first, when
 * the settings were saved). `daily`: the first HH:MM UTC strictly after `since`; `interval`:
 * `since` + the interval. Pure, so the scheduler's only job is to compare with the clock.
 */
export function nextRunAt(schedule: DigestSettings['schedule'], since: number): number {
  if (schedule.mode === 'interval') return since + schedule.intervalMinutes * 60_000;
  const [h, m] = schedule.dailyAt.split(':').map(Number) as [number, number];
  const dayStart = since - (((since % DAY_MS) + DAY_MS) % DAY_MS);
  const today = dayStart + (h * 60 + m) * 60_000;
  return today > since ? today : today + DAY_MS;
}
