import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRecipient } from './envelope.ts';
import { evaluateMessage } from './evaluate.ts';
import { compiled, facts } from './test-fixtures.ts';
import { compileOwnLists, withOwnLists } from './compile.ts';
import { validateRecipientLists } from './validate.ts';

/** Each recipient's own lists (`recipientLists`): scoped to that recipient, never to the others. */
const c = compiled({
  content: [{ id: 'spammy', target: 'subject', contains: 'cheap', action: 'quarantine' }],
  lists: { ipAllow: ['192.0.2.10'], senderAllow: ['partner.example'], recipientAllow: ['abuse@example.test'] },
  recipientLists: {
    'bob@example.test': { allow: ['news@shop.example'], block: ['pest@annoying.example'] },
    'carol@example.test': { allow: ['*@shop.example'], block: [] },
    'dave@example.test': { allow: [], block: ['*@partner.example'] },
  },
});
const spam = { subject: 'cheap stuff', mailFrom: 'news@shop.example' };

describe('recipientLists allow (after DATA)', () => {
  const cases: [string, string[], string, string][] = [
    ['the recipient allows the sender', ['bob@example.test'], 'news@shop.example', 'deliver'],
    ['case does not matter in the recipient or the sender', ['BOB@Example.TEST'], 'NEWS@shop.example', 'deliver'],
    ['another recipient does not', ['erin@example.test'], 'news@shop.example', 'quarantine'],
    ['every recipient allows (own lists)', ['bob@example.test', 'carol@example.test'], 'news@shop.example', 'deliver'],
    ['every recipient allows (own list + recipientAllow)', ['bob@example.test', 'abuse@example.test'], 'news@shop.example', 'deliver'],
    ['one recipient does not: the whole message is filtered', ['bob@example.test', 'erin@example.test'], 'news@shop.example', 'quarantine'],
    ['the list names another sender', ['bob@example.test'], 'other@shop.example', 'quarantine'],
    ['a pattern on the list', ['carol@example.test'], 'promo@shop.example', 'deliver'],
    ['the null sender matches no pattern', ['carol@example.test'], '', 'quarantine'],
  ];
  for (const [name, rcptTo, mailFrom, action] of cases) {
    it(`${name} → ${action}`, () => assert.equal(evaluateMessage(c, facts({ ...spam, rcptTo, mailFrom })).action, action));
  }
  it('reports the recipient and its entry; a virus is never allowed through', () => {
    const v = evaluateMessage(c, facts({ ...spam, rcptTo: ['bob@example.test'] }));
    assert.equal(v.allowed, true);
    assert.deepEqual(v.reasons[0], { kind: 'recipient-list', rule: 'recipientLists.allow', match: 'bob@example.test: news@shop.example', action: 'deliver' });
    const virus = evaluateMessage(c, facts({ ...spam, rcptTo: ['bob@example.test'], virus: { name: 'EICAR', action: 'quarantine' } }));
    assert.equal(virus.action, 'quarantine');
  });
});

describe('recipientLists block (at RCPT TO)', () => {
  const short = (ip: string, from: string, rcpt: string) => {
    const d = checkRecipient(c, ip, from, rcpt);
    return d.ok ? 'ok' : `${d.code} ${d.enhanced}`;
  };
  const cases: [string, string, string, string, string][] = [
    ['the recipient blocks the sender', '203.0.113.1', 'pest@annoying.example', 'bob@example.test', '550 5.7.1'],
    ['only that recipient', '203.0.113.1', 'pest@annoying.example', 'carol@example.test', 'ok'],
    ['even for an allow-listed client', '192.0.2.10', 'pest@annoying.example', 'bob@example.test', '550 5.7.1'],
    ['even for a globally allowed sender', '203.0.113.1', 'x@partner.example', 'dave@example.test', '550 5.7.1'],
    ['the null sender is never blocked by a pattern', '203.0.113.1', '', 'dave@example.test', 'ok'],
    ['an unaccepted domain is still relaying denied first', '203.0.113.1', 'pest@annoying.example', 'bob@elsewhere.example', '550 5.7.1'],
  ];
  for (const [name, ip, from, rcpt, expected] of cases) it(`${name} → ${expected}`, () => assert.equal(short(ip, from, rcpt), expected));
  it('says why without naming the entry; the reason names it', () => {
    const d = checkRecipient(c, '203.0.113.1', 'pest@annoying.example', 'bob@example.test');
    assert.equal(d.ok, false);
    if (d.ok) return;
    assert.match(d.text, /does not accept mail from this sender/);
    assert.deepEqual(d.reason, { kind: 'recipient-list', rule: 'recipientLists.block', match: 'bob@example.test: pest@annoying.example', action: 'reject' });
  });
});

/** The end users' lists come from their own source (the master's store, not the rules) and apply beside the rules' own. */
describe('end users\' lists beside the rules (withOwnLists)', () => {
  const endUsers = compileOwnLists(validateRecipientLists({
    'bob@example.test': { block: ['*@spam.example'] },
    'erin@example.test': { allow: ['news@shop.example'], block: [] },
  }));
  const both = withOwnLists(c, endUsers);
  it('an end user\'s block refuses at RCPT TO; the rules\' own block still does', () => {
    assert.equal(checkRecipient(both, '203.0.113.1', 'x@spam.example', 'bob@example.test').ok, false);
    assert.equal(checkRecipient(both, '203.0.113.1', 'pest@annoying.example', 'bob@example.test').ok, false);
    assert.equal(checkRecipient(c, '203.0.113.1', 'x@spam.example', 'bob@example.test').ok, true, 'the rules alone do not block it');
    assert.equal(checkRecipient(both, '203.0.113.1', 'x@spam.example', 'carol@example.test').ok, true, 'only for bob');
  });
  it('an end user\'s allow counts like one in the rules; the rules\' version stays the rules\'', () => {
    assert.equal(evaluateMessage(both, facts({ ...spam, rcptTo: ['erin@example.test'] })).action, 'deliver');
    assert.equal(evaluateMessage(both, facts({ ...spam, rcptTo: ['bob@example.test'] })).action, 'deliver', 'the rules\' allow still holds');
    assert.equal(both.version, c.version);
  });
  it('entries are an address or *@domain, keys one lower-case address, each problem named by its key', () => {
    assert.throws(() => validateRecipientLists({ 'bob@example.test': { allow: ['*e*'] } }), /bob@example\.test\.allow\.0/);
    assert.throws(() => validateRecipientLists({ 'Bob@example.test': {} }), /Bob@example\.test: must be one lower-case/);
    assert.throws(() => validateRecipientLists({ 'bob@example.test': { allow: [], other: [] } }), /bob@example\.test/);
    assert.deepEqual(validateRecipientLists({ 'bob@example.test': { allow: ['a@b.example'] } }), { 'bob@example.test': { allow: ['a@b.example'], block: [] } });
  });
});
