import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateMessage } from './evaluate.ts';
import type { MessageFacts } from './facts.ts';
import { compiled, facts } from './test-fixtures.ts';

const message = facts({
  subject: 'Quarterly Report',
  headers: [
    { name: 'From', value: 'Alice <alice@sender.example>' },
    { name: 'Subject', value: 'Quarterly Report' },
    { name: 'X-Mailer', value: 'BulkBlaster 3.1' },
    { name: 'received', value: 'from relay-one.example' },
    { name: 'Received', value: 'from relay-two.example' },
  ],
  bodyText: 'Dear customer,\nplease VERIFY your account.',
});

/** Which rule ids hit the message above, for a single rule made of `fields`. */
function hits(fields: Record<string, unknown>, f: MessageFacts = message): string[] {
  const c = compiled({ content: [{ id: 'r', action: 'tag', ...fields }] });
  return evaluateMessage(c, f).reasons.filter((r) => r.kind === 'content').map((r) => `${r.rule}:${r.match}`);
}

describe('content rules: targets and matching', () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['subject contains, case-insensitive by default', { target: 'subject', contains: 'quarterly' }, ['r:Quarterly']],
    ['subject contains, case-sensitive', { target: 'subject', contains: 'quarterly', caseInsensitive: false }, []],
    ['subject contains, case-sensitive exact case', { target: 'subject', contains: 'Quarterly', caseInsensitive: false }, ['r:Quarterly']],
    ['subject does not see the body', { target: 'subject', contains: 'verify' }, []],
    ['body regex', { target: 'body', regex: 'verify \\w+ account' }, ['r:VERIFY your account']],
    ['body regex, case-sensitive', { target: 'body', regex: 'verify', caseInsensitive: false }, []],
    ['body does not see headers', { target: 'body', contains: 'BulkBlaster' }, []],
    ['header: the named header only', { target: 'header', header: 'x-mailer', regex: '^bulk' }, ['r:Bulk']],
    ['header: every value of a repeated header', { target: 'header', header: 'Received', contains: 'relay-two' }, ['r:relay-two']],
    ['header: another header does not count', { target: 'header', header: 'From', contains: 'BulkBlaster' }, []],
    ['header: ^ anchors to the value', { target: 'header', header: 'received', regex: '^from relay-one' }, ['r:from relay-one']],
    ['headers: each "Name: value" line', { target: 'headers', regex: '^X-Mailer: Bulk' }, ['r:X-Mailer: Bulk']],
    ['headers: names as sent', { target: 'headers', regex: '^received: from relay-one', caseInsensitive: false }, ['r:received: from relay-one']],
    ['headers do not see the body', { target: 'headers', contains: 'verify' }, []],
    ['any: subject', { target: 'any', contains: 'report' }, ['r:Report']],
    ['any: headers', { target: 'any', contains: 'bulkblaster' }, ['r:BulkBlaster']],
    ['any: body', { target: 'any', contains: 'dear customer' }, ['r:Dear customer']],
    ['contains is literal, not a regex', { target: 'body', contains: 'account.' }, ['r:account.']],
    ['contains with regex characters', { target: 'body', contains: '(a+)+' }, []],
    ['disabled rules never match', { target: 'subject', contains: 'quarterly', enabled: false }, []],
    ['regex without match', { target: 'any', regex: 'viagra|cialis' }, []],
  ];
  for (const [name, fields, expected] of cases) it(name, () => assert.deepEqual(hits(fields), expected));

  it('reports one reason per matching rule, in document order', () => {
    const c = compiled({
      content: [
        { id: 'one', target: 'any', contains: 'relay', score: 1 },
        { id: 'off', target: 'any', contains: 'relay', score: 1, enabled: false },
        { id: 'two', target: 'body', contains: 'account', score: 2 },
      ],
    });
    const v = evaluateMessage(c, message);
    assert.deepEqual(v.reasons.map((r) => r.rule), ['one', 'two']);
    assert.equal(v.score, 3);
  });
  it('an empty message matches nothing and still delivers', () => {
    const empty = facts({ subject: '', headers: [], bodyText: '' });
    assert.deepEqual(hits({ target: 'any', contains: 'x' }, empty), []);
  });
});
