import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateMessage } from './evaluate.ts';
import { scoreAction, totalScore } from './scoring.ts';
import { compiled, facts } from './test-fixtures.ts';

const thresholds = { tag: 5, quarantine: 10, reject: 20 };

describe('scoreAction: thresholds and boundaries', () => {
  const cases: [number, string][] = [
    [-50, 'deliver'], [0, 'deliver'], [4.999, 'deliver'], [5, 'tag'], [9.999, 'tag'],
    [10, 'quarantine'], [19.999, 'quarantine'], [20, 'reject'], [1000, 'reject'],
  ];
  for (const [score, action] of cases) it(`${score} → ${action}`, () => assert.equal(scoreAction(score, thresholds), action));
  it('equal thresholds pick the strongest', () => assert.equal(scoreAction(7, { tag: 7, quarantine: 7, reject: 7 }), 'reject'));
});

describe('totalScore', () => {
  it('rounds away floating-point dust so 0.1 + 0.2 meets 0.3', () => {
    assert.equal(totalScore([0.1, 0.2].map((score) => ({ kind: 'analyzer', rule: 'x', match: '', score }))), 0.3);
  });
  it('counts a non-finite score as 0', () => {
    assert.equal(totalScore([Number.NaN, Infinity, 2].map((score) => ({ kind: 'analyzer', rule: 'x', match: '', score }))), 2);
  });
});

describe('scores in evaluateMessage', () => {
  const c = compiled({
    scoring: { tag: 3, quarantine: 6, reject: 9 },
    content: [
      { id: 'plus3', target: 'subject', contains: 'cheap', score: 3 },
      { id: 'minus4', target: 'headers', contains: 'X-Trusted: yes', score: -4 },
      { id: 'tag-and-3', target: 'body', contains: 'unsubscribe', score: 3, action: 'tag' },
    ],
  });
  const cases: [string, Parameters<typeof facts>[0], number, string][] = [
    ['below tag', { subject: 'hello' }, 0, 'deliver'],
    ['exactly tag', { subject: 'cheap' }, 3, 'tag'],
    ['a negative score pulls back', { subject: 'cheap', headers: [{ name: 'X-Trusted', value: 'yes' }] }, -1, 'deliver'],
    ['rule action plus score', { subject: 'cheap', bodyText: 'unsubscribe' }, 6, 'quarantine'],
    ['analyzer pushes to reject', { subject: 'cheap', extraScores: [{ id: 'spf', score: 6, detail: 'fail' }] }, 9, 'reject'],
    ['a rule action is not lowered by a negative score', { bodyText: 'unsubscribe', extraScores: [{ id: 'ham', score: -10, detail: '' }] }, -7, 'tag'],
  ];
  for (const [name, overrides, score, action] of cases) {
    it(`${name}: ${score} → ${action}`, () => {
      const v = evaluateMessage(c, facts(overrides));
      assert.equal(v.score, score);
      assert.equal(v.action, action);
    });
  }
});
