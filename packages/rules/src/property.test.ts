import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ACTION_STRENGTH } from './action.ts';
import { checkClient, checkRecipient, checkSender } from './envelope.ts';
import { evaluateMessage } from './evaluate.ts';
import type { MessageFacts } from './facts.ts';
import { compiled } from './test-fixtures.ts';

const c = compiled({
  lists: { ipAllow: ['192.0.2.0/24'], ipBlock: ['::/0'], senderBlock: ['*@*'], senderAllow: ['*.example'], recipientAllow: ['a*@example.test'] },
  content: [
    { id: 'c1', target: 'any', regex: '(\\w+\\.)+\\w+', score: 2.5 },
    { id: 'c2', target: 'header', header: 'x', contains: 'a', action: 'tag', score: -1 },
    { id: 'c3', target: 'body', contains: 'b', caseInsensitive: false, action: 'quarantine' },
  ],
});

const text = fc.string({ maxLength: 40 });
const anyFacts: fc.Arbitrary<MessageFacts> = fc.record({
  clientIp: fc.oneof(fc.ipV4(), fc.ipV6(), text),
  mailFrom: fc.oneof(fc.emailAddress(), text),
  rcptTo: fc.array(fc.oneof(fc.emailAddress(), text), { maxLength: 3 }),
  sizeBytes: fc.oneof(fc.nat(), fc.double()),
  headers: fc.array(fc.record({ name: fc.constantFrom('x', 'X', 'Subject', 'y'), value: text }), { maxLength: 4 }),
  subject: text,
  bodyText: fc.string({ maxLength: 300 }),
  attachments: fc.array(
    fc.record({ filename: text, contentType: text, sizeBytes: fc.nat(), archiveEntries: fc.option(fc.array(text, { maxLength: 3 }), { nil: undefined }) }),
    { maxLength: 3 },
  ),
  virus: fc.option(fc.record({ name: text, action: fc.constantFrom('quarantine', 'reject') }), { nil: undefined }),
  extraScores: fc.option(fc.array(fc.record({ id: text, score: fc.double(), detail: text }), { maxLength: 3 }), { nil: undefined }),
});

describe('properties', () => {
  it('evaluateMessage never throws, and returns a known action with clean reasons', () => {
    fc.assert(
      fc.property(anyFacts, (f) => {
        const v = evaluateMessage(c, f);
        assert.ok(Object.hasOwn(ACTION_STRENGTH, v.action));
        assert.ok(Number.isFinite(v.score));
        assert.equal(v.rejectText !== undefined, v.action === 'reject');
        assert.doesNotMatch(v.rejectText ?? '', /[\r\n]/);
        for (const r of v.reasons) assert.ok(r.match.length <= 200 && !/[\r\n]/.test(r.match));
        // No reason asks for more than the verdict: the action is the strongest one.
        for (const r of v.reasons) if (r.action) assert.ok(ACTION_STRENGTH[r.action] <= ACTION_STRENGTH[v.action]);
        if (f.virus) assert.ok(ACTION_STRENGTH[v.action] >= ACTION_STRENGTH[f.virus.action]);
      }),
      { numRuns: 300 },
    );
  });
  it('envelope checks never throw and never echo a line break', () => {
    fc.assert(
      fc.property(text, text, text, (ip, from, rcpt) => {
        for (const d of [checkClient(c, ip), checkSender(c, ip, from), checkRecipient(c, ip, from, rcpt)]) {
          if (!d.ok) assert.doesNotMatch(d.text, /[\r\n]/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
