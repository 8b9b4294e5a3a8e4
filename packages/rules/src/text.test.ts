import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTION_STRENGTH, isAction, strongerAction, strongestAction } from './action.ts';
import { clip } from './text.ts';

describe('clip', () => {
  const cases: [string, number, string][] = [
    ['short', 200, 'short'],
    ['a\r\nb\tc\u0000d\u2028e', 200, 'a  b c d e'],
    ['abcdef', 4, 'abc…'],
    ['ab\u{1F600}cd', 4, 'ab…'],
  ];
  for (const [input, max, expected] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(clip(input, max), expected));
  it('never exceeds 200 characters by default', () => assert.equal(clip('x'.repeat(1000)).length, 200));
});

describe('actions', () => {
  it('orders deliver < tag < quarantine < reject', () => {
    assert.deepEqual(Object.keys(ACTION_STRENGTH).sort((a, b) => ACTION_STRENGTH[a as 'tag'] - ACTION_STRENGTH[b as 'tag']), ['deliver', 'tag', 'quarantine', 'reject']);
    assert.equal(strongerAction('tag', 'quarantine'), 'quarantine');
    assert.equal(strongerAction('reject', 'deliver'), 'reject');
    assert.equal(strongestAction([]), 'deliver');
  });
  it('isAction knows the vocabulary only', () => {
    assert.ok(isAction('quarantine'));
    assert.ok(!isAction('drop') && !isAction('toString'));
  });
});
