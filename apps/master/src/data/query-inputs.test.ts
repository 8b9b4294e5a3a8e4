import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { parseTimeInput } from './time-input.ts';
import { containsPattern, ftsAllOf, ftsPhrase, trigramsOf } from './sql-like.ts';

test('parseTimeInput: epoch ms and ISO 8601 (UTC unless a zone is given)', () => {
  const cases: [string, number | undefined][] = [
    ['1717171717000', 1717171717000],
    ['0', 0],
    ['2024-06-01', Date.UTC(2024, 5, 1)],
    ['2024-06-01T12:30', Date.UTC(2024, 5, 1, 12, 30)],
    ['2024-06-01T12:30:15Z', Date.UTC(2024, 5, 1, 12, 30, 15)],
    ['2024-06-01 12:30:15.250Z', Date.UTC(2024, 5, 1, 12, 30, 15, 250)],
    ['2024-06-01T14:30+02:00', Date.UTC(2024, 5, 1, 12, 30)],
    ['2024-02-31', undefined],
    ['2024-13-01', undefined],
    ['yesterday', undefined],
    ['-5', undefined],
    ['1e9', undefined],
    ['', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseTimeInput(text), ms, text);
});

test('cursors round-trip and refuse anything else', () => {
  assert.deepEqual(decodeCursor(encodeCursor({ time: 1717171717000, rid: 42 })), { time: 1717171717000, rid: 42 });
  for (const bad of ['', '1', '1.', 'a.b', '1.2.3', '-1.2', '99999999999999999.1']) assert.equal(decodeCursor(bad), undefined, bad);
});

test('LIKE and FTS inputs are escaped', () => {
  assert.equal(containsPattern('100%_\\x'), '%100\\%\\_\\\\x%');
  assert.equal(ftsPhrase('say "hi" OR x'), '"say ""hi"" OR x"');
  assert.deepEqual(trigramsOf('abcdabc'), ['abc', 'bcd', 'cda', 'dab']);
  assert.deepEqual(trigramsOf('ab'), []);
  assert.deepEqual(trigramsOf('x@ü.de'), ['x@ü', '@ü.', 'ü.d', '.de']);
  assert.equal(ftsAllOf(['a"b', 'AND']), '"a""b" AND "AND"');
});
