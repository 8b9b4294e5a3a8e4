import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineSignals } from '@moat/rules';
import { rspamdPoints, settledByRspamd } from './settled-by-rspamd.ts';

const limits = { bayesAtMost: -2, rulesAtMost: 6 };

describe('settledByRspamd', () => {
  const cases: [string, Parameters<typeof settledByRspamd>[0], boolean][] = [
    ['a sure ham vote and few rule points: settled', { rules: 1.8, bayes: -2.9 }, true],
    ['exactly at both limits: settled', { rules: 6, bayes: -2 }, true],
    ['the Bayes vote not sure enough', { rules: 1.8, bayes: -1.9 }, false],
    ['a spam vote', { rules: 0, bayes: 4.5 }, false],
    ['too many rule points beside a sure ham vote (spam Bayes took for ham)', { rules: 6.1, bayes: -3 }, false],
    ['no Bayes vote (untrained, or too few tokens): never settled', { rules: -5 }, false],
    ['a fuzzy match of reported spam: never settled', { rules: 0, bayes: -3, fuzzy: 10 }, false],
    ['a fuzzy match of good mail (negative) does not stop it', { rules: 0, bayes: -3, fuzzy: -2.1 }, true],
    ['not a number: ask SpamAssassin', { rules: Number.NaN, bayes: -3 }, false],
  ];
  for (const [name, points, settled] of cases) it(name, () => assert.equal(settledByRspamd(points, limits) !== undefined, settled));

  it('the reason names the points and the limits', () => {
    assert.equal(settledByRspamd({ rules: 1.8, bayes: -2.9 }, limits), 'settled by Rspamd: its Bayes -2.9 ≤ -2 and its rules 1.8 ≤ 6, SpamAssassin not asked');
  });
});

describe('rspamdPoints', () => {
  it('reads the cut of Rspamd\'s answer', () => {
    const signals = engineSignals('rspamd', 0.5, [{ name: 'BAYES_HAM', score: -2.5 }, { name: 'R', score: 3 }]);
    assert.deepEqual(rspamdPoints(signals), { rules: 3, bayes: -2.5, fuzzy: undefined });
  });
  it('no Rspamd signal: nothing', () => assert.equal(rspamdPoints(engineSignals('spamassassin', 3, [])), undefined));
});
