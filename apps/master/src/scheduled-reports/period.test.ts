import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dueRound, lastCompletePeriod, latestRound, nextRound, retryAt } from './period.ts';

const at = (iso: string) => Date.parse(iso);
const daily = { period: 'daily' as const, sendAt: '07:30', weekday: 'monday' as const };
// 2026-03-04 is a Wednesday.
const weekly = { period: 'weekly' as const, sendAt: '06:00', weekday: 'monday' as const };

test('daily: the latest send time at or before now reports the whole day before it', () => {
  const cases: [string, string, string, string][] = [
    // now, due at, period start, period end
    ['2026-03-04T07:30:00Z', '2026-03-04T07:30:00Z', '2026-03-03T00:00:00Z', '2026-03-04T00:00:00Z'],
    ['2026-03-04T23:59:59Z', '2026-03-04T07:30:00Z', '2026-03-03T00:00:00Z', '2026-03-04T00:00:00Z'],
    ['2026-03-04T07:29:59Z', '2026-03-03T07:30:00Z', '2026-03-02T00:00:00Z', '2026-03-03T00:00:00Z'],
    ['2026-01-01T08:00:00Z', '2026-01-01T07:30:00Z', '2025-12-31T00:00:00Z', '2026-01-01T00:00:00Z'],
  ];
  for (const [now, due, start, end] of cases) {
    assert.deepEqual(latestRound(daily, at(now)), { dueAt: at(due), period: { start: at(start), end: at(end) } }, now);
  }
});

test('weekly: the last `weekday` at its send time reports the seven days before that day', () => {
  const cases: [string, string, string, string][] = [
    ['2026-03-04T12:00:00Z', '2026-03-02T06:00:00Z', '2026-02-23T00:00:00Z', '2026-03-02T00:00:00Z'],
    ['2026-03-02T06:00:00Z', '2026-03-02T06:00:00Z', '2026-02-23T00:00:00Z', '2026-03-02T00:00:00Z'],
    ['2026-03-02T05:59:59Z', '2026-02-23T06:00:00Z', '2026-02-16T00:00:00Z', '2026-02-23T00:00:00Z'],
    ['2026-03-08T23:00:00Z', '2026-03-02T06:00:00Z', '2026-02-23T00:00:00Z', '2026-03-02T00:00:00Z'],
  ];
  for (const [now, due, start, end] of cases) {
    assert.deepEqual(latestRound(weekly, at(now)), { dueAt: at(due), period: { start: at(start), end: at(end) } }, now);
  }
  assert.equal(latestRound({ ...weekly, weekday: 'sunday' }, at('2026-03-04T12:00:00Z')).dueAt, at('2026-03-01T06:00:00Z'));
});

test('the next round is the first strictly after now', () => {
  assert.equal(nextRound(daily, at('2026-03-04T07:30:00Z')).dueAt, at('2026-03-05T07:30:00Z'));
  assert.equal(nextRound(daily, at('2026-03-04T07:29:00Z')).dueAt, at('2026-03-04T07:30:00Z'));
  assert.deepEqual(nextRound(weekly, at('2026-03-04T12:00:00Z')), { dueAt: at('2026-03-09T06:00:00Z'), period: { start: at('2026-03-02T00:00:00Z'), end: at('2026-03-09T00:00:00Z') } });
});

test('a round is due only if it came due after the schedule was made; after downtime, only the latest', () => {
  const made = at('2026-03-04T12:00:00Z');
  assert.equal(dueRound(daily, made, at('2026-03-04T12:00:30Z')), undefined, 'this morning\'s report is not sent at once');
  assert.equal(dueRound(daily, made, at('2026-03-05T07:29:59Z')), undefined);
  assert.equal(dueRound(daily, made, at('2026-03-05T07:30:00Z'))?.period.start, at('2026-03-04T00:00:00Z'));
  // Down from the 5th to the 8th: one round, the 8th's.
  assert.equal(dueRound(daily, made, at('2026-03-08T09:00:00Z'))?.period.start, at('2026-03-07T00:00:00Z'));
});

test('send now reports the last whole day or week that has ended', () => {
  assert.deepEqual(lastCompletePeriod(daily, at('2026-03-04T00:10:00Z')), { start: at('2026-03-03T00:00:00Z'), end: at('2026-03-04T00:00:00Z') });
  assert.deepEqual(lastCompletePeriod(weekly, at('2026-03-04T00:10:00Z')), { start: at('2026-02-25T00:00:00Z'), end: at('2026-03-04T00:00:00Z') });
});

test('a failed round is retried after a minute, doubling, at most every 30 minutes', () => {
  assert.deepEqual([1, 2, 3, 6, 20].map((n) => retryAt(n, 0) / 60_000), [1, 2, 4, 30, 30]);
});
