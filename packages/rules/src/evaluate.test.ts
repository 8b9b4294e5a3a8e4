import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateMessage } from './evaluate.ts';
import { GTUBE } from './gtube.ts';
import type { MessageFacts } from './facts.ts';
import { compiled, facts } from './test-fixtures.ts';

const c = compiled({
  lists: { ipAllow: ['192.0.2.10'], senderAllow: ['boss@partner.example'], recipientAllow: ['abuse@example.test', 'postmaster@example.test'] },
  limits: { maxMessageBytes: 10_000 },
  content: [
    { id: 'block-foo', target: 'subject', contains: 'FOO', action: 'reject' },
    { id: 'hold-bar', target: 'body', regex: '\\bbar\\b', action: 'quarantine' },
    { id: 'spammy', target: 'any', contains: 'lottery', score: 6 },
  ],
  attachments: { action: 'quarantine' },
});

const exe = { filename: 'setup.exe', contentType: 'application/octet-stream', sizeBytes: 10 };
const virus = { name: 'Eicar-Test-Signature', action: 'reject' } as const;
const allowedByIp = { clientIp: '192.0.2.10' };

/**
 * One row per line of the precedence table in README.md: the facts, then the action,
 * `allowed`, and the kinds of the reasons in order.
 */
const rows: [name: string, overrides: Partial<MessageFacts>, action: string, allowed: boolean, kinds: string[]][] = [
  ['nothing matches', {}, 'deliver', false, []],
  ['a. virus', { virus }, 'reject', false, ['virus']],
  ['a. virus beats the allow-list', { ...allowedByIp, virus }, 'reject', true, ['virus', 'ip-list']],
  ['a. virus quarantine beats a weaker content tag', { virus: { name: 'X', action: 'quarantine' }, subject: 'lottery lottery' }, 'quarantine', false, ['virus', 'content', 'score']],
  ['b. attachment policy', { attachments: [exe] }, 'quarantine', false, ['attachment']],
  ['b. attachment policy beats the allow-list', { ...allowedByIp, attachments: [exe] }, 'quarantine', true, ['attachment', 'ip-list']],
  ['a+b. virus and attachment: the stronger wins', { virus, attachments: [exe] }, 'reject', false, ['virus', 'attachment']],
  ['c. ip allow skips content rules', { ...allowedByIp, subject: 'FOO' }, 'deliver', true, ['ip-list']],
  ['c. sender allow skips content rules', { mailFrom: 'Boss@Partner.example', subject: 'FOO' }, 'deliver', true, ['sender-list']],
  ['c. every recipient allow-listed', { rcptTo: ['abuse@example.test', 'postmaster@example.test'], subject: 'FOO' }, 'deliver', true, ['recipient-list']],
  ['c. one recipient not allow-listed', { rcptTo: ['abuse@example.test', 'bob@example.test'], subject: 'FOO' }, 'reject', false, ['content']],
  ['c. allow-list skips the size limit', { ...allowedByIp, sizeBytes: 20_000 }, 'deliver', true, ['ip-list']],
  ['d. size over the limit', { sizeBytes: 10_001 }, 'reject', false, ['size']],
  ['d. size at the limit', { sizeBytes: 10_000 }, 'deliver', false, []],
  ['e. content action', { subject: 'about FOO' }, 'reject', false, ['content']],
  ['e. GTUBE in the body rejects, built in', { bodyText: `test\n${GTUBE}\n` }, 'reject', false, ['content']],
  ['e. GTUBE is skipped by an allow-list', { ...allowedByIp, bodyText: GTUBE }, 'deliver', true, ['ip-list']],
  ['e. an analyzer may ask for an action', { extraScores: [{ id: 'rspamd', score: 2, detail: 'action reject', action: 'quarantine' }] }, 'quarantine', false, ['analyzer']],
  ['e. an analyzer cannot ask for deliver', { bodyText: 'a bar', extraScores: [{ id: 'x', score: 0, detail: '', action: 'deliver' }] }, 'quarantine', false, ['content', 'analyzer']],
  ['e. content score', { bodyText: 'you won the lottery' }, 'tag', false, ['content', 'score']],
  ['e. analyzer scores add up', { bodyText: 'lottery', extraScores: [{ id: 'spam', score: 5, detail: 'bayes' }] }, 'quarantine', false, ['content', 'analyzer', 'score']],
  ['f. the strongest action wins', { subject: 'FOO', bodyText: 'a bar b' }, 'reject', false, ['content', 'content']],
  ['f. quarantine beats tag', { bodyText: 'bar lottery' }, 'quarantine', false, ['content', 'content', 'score']],
];

describe('evaluateMessage: GTUBE', () => {
  it('rejects with reason gtube and says so', () => {
    const v = evaluateMessage(c, facts({ bodyText: GTUBE }));
    assert.deepEqual(v.reasons[0], { kind: 'content', rule: 'gtube', match: 'GTUBE test string in the body', action: 'reject' });
    assert.equal(v.rejectText, 'Message refused by content rule gtube');
  });
});

describe('evaluateMessage: precedence', () => {
  for (const [name, overrides, action, allowed, kinds] of rows) {
    it(name, () => {
      const v = evaluateMessage(c, facts(overrides));
      assert.equal(v.action, action);
      assert.equal(v.allowed, allowed);
      assert.deepEqual(v.reasons.map((r) => r.kind), kinds);
      assert.equal(v.rulesVersion, 7);
      assert.equal(v.rejectText !== undefined, action === 'reject');
    });
  }
});

describe('evaluateMessage: reasons and reply text', () => {
  it('names the rule and what matched', () => {
    const v = evaluateMessage(c, facts({ subject: 'Re: foo fighters' }));
    assert.deepEqual(v.reasons, [{ kind: 'content', rule: 'block-foo', match: 'foo', action: 'reject', score: undefined }]);
    assert.equal(v.rejectText, 'Message refused by content rule block-foo');
  });
  it('builds the reply from the strongest reason', () => {
    const v = evaluateMessage(c, facts({ bodyText: 'bar', virus }));
    assert.equal(v.rejectText, 'Message refused: virus found (Eicar-Test-Signature)');
    assert.equal(evaluateMessage(c, facts({ sizeBytes: 1e6 })).rejectText, 'Message refused: message size exceeds the limit of 10000 bytes');
  });
  it('keeps the sender\'s text out of the reply beyond 200 characters and without CR/LF', () => {
    const filename = `${'x'.repeat(300)}\r\n250 OK.pdf.exe`;
    const v = evaluateMessage(compiled(), facts({ attachments: [{ ...exe, filename }] }));
    assert.equal(v.action, 'reject');
    assert.doesNotMatch(v.rejectText ?? '', /[\r\n]/);
    assert.ok((v.rejectText ?? '').length <= 200 + 60);
    assert.ok(v.reasons.every((r) => r.match.length <= 200));
  });
  it('clips a long content match to 200 characters', () => {
    const long = compiled({ content: [{ id: 'all', target: 'body', regex: 'x+', action: 'tag' }] });
    const v = evaluateMessage(long, facts({ bodyText: 'x'.repeat(5000) }));
    assert.equal(v.reasons[0]?.match.length, 200);
  });
  it('reports the score and the threshold it reached', () => {
    const v = evaluateMessage(c, facts({ subject: 'lottery', extraScores: [{ id: 'spam', score: 14.5, detail: 'bayes 0.99' }] }));
    assert.equal(v.score, 20.5);
    assert.equal(v.action, 'reject');
    assert.deepEqual(v.reasons.at(-1), { kind: 'score', rule: 'scoring', match: 'score 20.5 reaches reject threshold 20', action: 'reject' });
    assert.equal(v.rejectText, 'Message refused: score 20.5 reaches reject threshold 20');
  });
  it('scores 0 when an allow-list skipped scoring', () => {
    assert.equal(evaluateMessage(c, facts({ ...allowedByIp, subject: 'lottery' })).score, 0);
  });
  it('treats a malformed virus action as quarantine, never deliver', () => {
    const odd = { name: 'X', action: 'deliver' } as unknown as MessageFacts['virus'];
    assert.equal(evaluateMessage(c, facts({ virus: odd })).action, 'quarantine');
  });
});
