import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localSeconds, rangeFromInputs } from './time-range.ts';

test('a range round-trips between the URL (ISO, UTC) and the inputs (local, to the second)', () => {
  const iso = '2026-03-04T05:06:07.000Z';
  assert.equal(new Date(localSeconds(iso)).toISOString(), iso);
  assert.deepEqual(rangeFromInputs(localSeconds(iso), ''), { from: iso });
  assert.equal(localSeconds(undefined), '');
  assert.equal(localSeconds('not a time'), '');
});

test('an open, a backwards and a bad range', () => {
  assert.deepEqual(rangeFromInputs('', ''), {});
  assert.deepEqual(rangeFromInputs('2026-03-04T06:00:00', '2026-03-04T05:00:00'), { error: 'The start must be before the end.', field: 'from' });
  assert.deepEqual(rangeFromInputs('2026-03-04T05:00:00', '2026-03-04T05:00:00'), { error: 'The start must be before the end.', field: 'from' });
  assert.deepEqual(rangeFromInputs('', 'soon'), { error: 'The end is not a date.', field: 'to' });
});
