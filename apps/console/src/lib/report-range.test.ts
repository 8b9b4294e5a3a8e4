import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketFor, localInput, reportRange } from './report-range.ts';

const now = Date.parse('2026-11-22T12:00:00Z');
const base = { bucket: 'day', node: '' } as const;

test('a preset counts back from now', () => {
  assert.deepEqual(reportRange({ ...base, preset: '7', from: '', to: '' }, now), { from: '2026-11-15T12:00:00.000Z' });
});

test('a custom range sends both ends; an empty end means now', () => {
  const r = reportRange({ ...base, preset: 'custom', from: '2026-11-01T00:00:00Z', to: '2026-11-03T00:00:00Z' }, now);
  assert.deepEqual(r, { from: '2026-11-01T00:00:00.000Z', to: '2026-11-03T00:00:00.000Z' });
  assert.deepEqual(reportRange({ ...base, preset: 'custom', from: '2026-11-01T00:00:00Z', to: '' }, now), { from: '2026-11-01T00:00:00.000Z' });
});

test('a custom range without a start, with a bad date or backwards says what to fix', () => {
  assert.deepEqual(reportRange({ ...base, preset: 'custom', from: '', to: '' }, now), { error: 'Choose the start of the range.' });
  assert.deepEqual(reportRange({ ...base, preset: 'custom', from: 'soon', to: '' }, now), { error: 'The start of the range is not a date.' });
  assert.deepEqual(reportRange({ ...base, preset: 'custom', from: '2026-11-03T00:00:00Z', to: '2026-11-01T00:00:00Z' }, now), { error: 'The start of the range must be before its end.' });
});

test('automatic buckets: hours up to two days, days beyond; a chosen size is kept', () => {
  const auto = { ...base, bucket: 'auto', preset: '1', from: '', to: '' } as const;
  assert.equal(bucketFor(auto, reportRange(auto, now) as { from: string }, now), 'hour');
  for (const preset of ['7', '30']) assert.equal(bucketFor({ ...auto, preset }, reportRange({ ...auto, preset }, now) as { from: string }, now), 'day');
  assert.equal(bucketFor({ ...auto, bucket: 'hour', preset: '30' }, { from: '2026-10-23T12:00:00.000Z' }, now), 'hour');
  assert.equal(bucketFor(auto, { from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T12:00:00.000Z' }, now), 'hour');
});

test('a datetime-local value reads back as the same minute', () => {
  const ms = Date.parse('2026-11-03T14:37:59Z');
  assert.equal(new Date(localInput(ms)).getTime(), ms - 59_000);
});
