import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTION_MODEL, SIGNAL_IDS, engineSignals, strongestHits, weighSignal } from './detection-model.ts';

describe('engineSignals', () => {
  const cases: [string, Parameters<typeof engineSignals>, ReturnType<typeof engineSignals>][] = [
    ['SpamAssassin without a Bayes hit: one signal, the whole score', ['spamassassin', 6.1, [{ name: 'RDNS_NONE', score: 2.4 }, { name: 'HTML_MESSAGE', score: 3.7 }]], [{ id: 'spamassassin', raw: 6.1, hits: [{ name: 'RDNS_NONE', score: 2.4 }, { name: 'HTML_MESSAGE', score: 3.7 }] }]],
    ['SpamAssassin\'s Bayes rules apart; the parts add up to its score', ['spamassassin', 7.5, [{ name: 'BAYES_99', score: 3.5 }, { name: 'BAYES_999', score: 0.2 }, { name: 'X', score: 3.8 }]], [
      { id: 'spamassassin', raw: 3.8, hits: [{ name: 'X', score: 3.8 }] },
      { id: 'spamassassin.bayes', raw: 3.7, hits: [{ name: 'BAYES_99', score: 3.5 }, { name: 'BAYES_999', score: 0.2 }] },
    ]],
    ['a ham vote is negative', ['spamassassin', -0.9, [{ name: 'BAYES_00', score: -1.9 }, { name: 'Y', score: 1 }]], [
      { id: 'spamassassin', raw: 1, hits: [{ name: 'Y', score: 1 }] },
      { id: 'spamassassin.bayes', raw: -1.9, hits: [{ name: 'BAYES_00', score: -1.9 }] },
    ]],
    ['Rspamd: Bayes and fuzzy apart; the rest is its own signal', ['rspamd', 12, [{ name: 'BAYES_SPAM', score: 4 }, { name: 'LOCAL_FUZZY_DENIED', score: 5 }, { name: 'R', score: 3 }]], [
      { id: 'rspamd', raw: 3, hits: [{ name: 'R', score: 3 }] },
      { id: 'rspamd.bayes', raw: 4, hits: [{ name: 'BAYES_SPAM', score: 4 }] },
      { id: 'rspamd.fuzzy', raw: 5, hits: [{ name: 'LOCAL_FUZZY_DENIED', score: 5 }] },
    ]],
    ['SpamAssassin\'s BAYES_50 (cannot tell) counts nothing, in neither signal', ['spamassassin', 5.4, [{ name: 'BAYES_50', score: 2 }, { name: 'X', score: 3.4 }]], [
      { id: 'spamassassin', raw: 3.4, hits: [{ name: 'X', score: 3.4 }] },
      { id: 'spamassassin.bayes', raw: 0, hits: [{ name: 'BAYES_50', score: 2 }] },
    ]],
    ['a name that only looks alike is not a learned vote', ['rspamd', 2, [{ name: 'BAYES_SPAMMY', score: 2 }]], [{ id: 'rspamd', raw: 2, hits: [{ name: 'BAYES_SPAMMY', score: 2 }] }]],
  ];
  for (const [name, args, expected] of cases) it(name, () => assert.deepEqual(engineSignals(...args), expected));
});

describe('weighSignal', () => {
  it('points times the model\'s weight for the signal, or the admin\'s override', () => {
    const model = { version: 't', weights: { spamassassin: 0.5, 'spamassassin.bayes': 2, rspamd: 1, 'rspamd.bayes': 1, 'rspamd.fuzzy': 1 }, settledByRspamd: { bayesAtMost: -2, rulesAtMost: 6 } };
    assert.equal(weighSignal(model, { id: 'spamassassin.bayes', raw: 3.5, hits: [] }), 7);
    assert.equal(weighSignal(model, { id: 'spamassassin', raw: 3.3, hits: [] }), 1.65);
    assert.equal(weighSignal(model, { id: 'spamassassin', raw: 3.3, hits: [] }, 0), 0);
  });
  it('the shipped model weighs every signal with a finite, non-negative weight and names its version', () => {
    assert.ok(DETECTION_MODEL.version.length > 0);
    for (const id of SIGNAL_IDS) assert.ok(Number.isFinite(DETECTION_MODEL.weights[id]) && DETECTION_MODEL.weights[id] >= 0, id);
  });
});

describe('strongestHits', () => {
  it('weighing hits first by size; zero-score hits only when none weighs', () => {
    assert.deepEqual(strongestHits([{ name: 'A', score: 0.5 }, { name: 'Z', score: 0 }, { name: 'B', score: -6 }], 8), ['B(-6)', 'A(0.5)']);
    assert.deepEqual(strongestHits([{ name: 'GTUBE', score: 0 }], 8), ['GTUBE(0)']);
    assert.deepEqual(strongestHits([{ name: 'A', score: 1 }, { name: 'B', score: 2 }], 1), ['B(2)']);
  });
});
