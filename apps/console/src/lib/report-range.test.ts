import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reportRange } from './report-range.ts';

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
