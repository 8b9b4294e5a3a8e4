import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextRunAt } from './schedule.ts';

const at = (iso: string) => Date.parse(iso);

test('daily: the next HH:MM UTC strictly after the last round', () => {
  const s = { mode: 'daily' as const, dailyAt: '08:00', intervalMinutes: 1440 };
  assert.equal(nextRunAt(s, at('2026-03-01T07:59:00Z')), at('2026-03-01T08:00:00Z'));
  assert.equal(nextRunAt(s, at('2026-03-01T08:00:00Z')), at('2026-03-02T08:00:00Z'));
  assert.equal(nextRunAt(s, at('2026-03-01T23:30:00Z')), at('2026-03-02T08:00:00Z'));
  assert.equal(nextRunAt({ ...s, dailyAt: '00:00' }, at('2026-12-31T12:00:00Z')), at('2027-01-01T00:00:00Z'));
});

test('interval: the last round plus the interval', () => {
  const s = { mode: 'interval' as const, dailyAt: '08:00', intervalMinutes: 90 };
  assert.equal(nextRunAt(s, at('2026-03-01T07:00:00Z')), at('2026-03-01T08:30:00Z'));
});
