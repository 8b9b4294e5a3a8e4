import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepRulesDraft, readRulesDraft, sameDocument, scoreBars, thresholdMarks, toBase64 } from './message-test.ts';

test('score bars share one scale: the reject threshold, or the largest score past it', () => {
  const bars = scoreBars([{ kind: 'analyzer', rule: 'spamassassin', match: '', score: 5 }, { kind: 'analyzer', rule: 'spamassassin.bayes', match: '', score: -2.5 }, { kind: 'content', rule: 'gtube', match: '', action: 'reject' }], 20);
  assert.deepEqual(bars.map((b) => [b.percent, b.negative]), [[25, false], [12.5, true], [0, false]]);
  assert.deepEqual(scoreBars([{ kind: 'analyzer', rule: 'x', match: '', score: 40 }], 20).map((b) => b.percent), [100]);
  assert.deepEqual(thresholdMarks({ tag: 5, quarantine: 10, reject: 20 }, []).map((m) => m.percent), [25, 50, 100]);
});

test('an upload as base64, in slices', () => {
  const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
  assert.equal(toBase64(bytes), Buffer.from(bytes).toString('base64'));
});

test('the rules editor\'s draft: kept, read back, removed; a damaged entry is none', () => {
  const map = new Map<string, string>();
  const storage = { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) };
  keepRulesDraft(storage, { acceptedDomains: ['a.test'] }, 3, new Date('2026-12-06T00:00:00Z'));
  assert.deepEqual(readRulesDraft(storage), { document: { acceptedDomains: ['a.test'] }, baseVersion: 3, at: '2026-12-06T00:00:00.000Z' });
  keepRulesDraft(storage, undefined, 3);
  assert.equal(readRulesDraft(storage), undefined);
  map.set('moat.rules-draft', '{');
  assert.equal(readRulesDraft(storage), undefined);
  assert.ok(sameDocument({ b: 1, a: [1, { c: 2, d: 3 }], version: 4 }, { a: [1, { d: 3, c: 2 }], b: 1 }));
  assert.ok(!sameDocument({ a: [1, 2] }, { a: [2, 1] }));
});
