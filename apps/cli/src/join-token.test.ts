import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTtl } from './join-token.ts';

test('--ttl takes seconds or s/m/h/d, between a minute and a week', () => {
  const table: [string | undefined, number | undefined][] = [
    [undefined, 3600], ['600', 600], ['90m', 5400], ['2h', 7200], ['7d', 604_800],
    ['59', undefined], ['8d', undefined], ['1w', undefined], ['-5m', undefined], ['', undefined], ['1.5h', undefined],
  ];
  for (const [text, expected] of table) assert.equal(parseTtl(text), expected, String(text));
});
