import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkClient, checkRecipient, checkSender } from './envelope.ts';
import type { EnvelopeDecision } from './facts.ts';
import { compiled } from './test-fixtures.ts';

const c = compiled({
  lists: {
    ipAllow: ['192.0.2.10', '2001:db8:1::/48'],
    ipBlock: ['192.0.2.0/24', '2001:db8::/32', '198.51.100.66'],
    senderAllow: ['friend@blocked.example', 'trusted.example'],
    senderBlock: ['*@blocked.example', '*.spam.example'],
    recipientAllow: ['abuse@example.test'],
    recipientBlock: ['abuse@example.test', 'former-*@example.test'],
  },
});

/** A short form of a decision: 'ok', 'allowed', or 'code enhanced'. */
function short(d: EnvelopeDecision): string {
  if (d.ok) return d.allowed ? 'allowed' : 'ok';
  return `${d.code} ${d.enhanced}`;
}

describe('checkClient', () => {
  const cases: [string, string][] = [
    ['203.0.113.1', 'ok'],
    ['192.0.2.1', '554 5.7.1'],
    ['::ffff:192.0.2.1', '554 5.7.1'],
    ['192.0.2.10', 'allowed'],
    ['::ffff:192.0.2.10', 'allowed'],
    ['2001:db8:2::1', '554 5.7.1'],
    ['2001:db8:1::1', 'allowed'],
    ['198.51.100.66', '554 5.7.1'],
  ];
  for (const [ip, expected] of cases) it(`${ip} → ${expected}`, () => assert.equal(short(checkClient(c, ip)), expected));
  it('names the list kind and the entry in the reason, not the entry in the text', () => {
    const d = checkClient(c, '192.0.2.1');
    assert.equal(d.ok, false);
    if (d.ok) return;
    assert.match(d.text, /IP block list/);
    assert.doesNotMatch(d.text, /192\.0\.2/);
    assert.deepEqual(d.reason, { kind: 'ip-list', rule: 'ipBlock', match: '192.0.2.0/24', action: 'reject' });
  });
});

describe('checkSender', () => {
  const cases: [string, string, string][] = [
    ['203.0.113.1', 'alice@sender.example', 'ok'],
    ['203.0.113.1', '', 'ok'],
    ['203.0.113.1', 'x@blocked.example', '550 5.7.1'],
    ['203.0.113.1', 'X@BLOCKED.EXAMPLE', '550 5.7.1'],
    ['203.0.113.1', 'x@mx.spam.example', '550 5.7.1'],
    ['203.0.113.1', 'x@spam.example', 'ok'],
    ['203.0.113.1', 'friend@blocked.example', 'allowed'],
    ['192.0.2.10', 'x@blocked.example', 'allowed'],
    ['203.0.113.1', 'x@trusted.example', 'allowed'],
  ];
  for (const [ip, from, expected] of cases) {
    it(`${ip} <${from}> → ${expected}`, () => assert.equal(short(checkSender(c, ip, from)), expected));
  }
  it('echoes at most 200 characters of the address and no line breaks', () => {
    const d = checkSender(c, '203.0.113.1', `${'a'.repeat(500)}\r\n250 ok@blocked.example`);
    assert.equal(d.ok, false);
    if (d.ok) return;
    assert.doesNotMatch(d.text, /[\r\n]/);
    assert.ok(d.text.length < 200 + 80, `${d.text.length}`);
    assert.match(d.text, /sender block list/);
  });
});

describe('checkRecipient', () => {
  const cases: [string, string, string, string][] = [
    ['203.0.113.1', 'a@sender.example', 'bob@example.test', 'ok'],
    ['203.0.113.1', 'a@sender.example', 'bob@EXAMPLE.TEST', 'ok'],
    ['203.0.113.1', 'a@sender.example', 'bob@x.sub.example.test', 'ok'],
    ['203.0.113.1', 'a@sender.example', 'bob@sub.example.test', '550 5.7.1'],
    ['203.0.113.1', 'a@sender.example', 'bob@elsewhere.example', '550 5.7.1'],
    ['203.0.113.1', 'a@sender.example', 'postmaster', '550 5.7.1'],
    ['192.0.2.10', 'a@sender.example', 'bob@elsewhere.example', '550 5.7.1'],
    ['203.0.113.1', 'x@trusted.example', 'bob@elsewhere.example', '550 5.7.1'],
    ['203.0.113.1', 'a@sender.example', 'former-joe@example.test', '550 5.7.1'],
    ['203.0.113.1', 'a@sender.example', 'abuse@example.test', 'allowed'],
    ['192.0.2.10', 'a@sender.example', 'former-joe@example.test', 'allowed'],
    ['203.0.113.1', 'x@trusted.example', 'former-joe@example.test', 'allowed'],
  ];
  for (const [ip, from, rcpt, expected] of cases) {
    it(`${ip} <${from}> → <${rcpt}>: ${expected}`, () => assert.equal(short(checkRecipient(c, ip, from, rcpt)), expected));
  }
  it('says relaying denied for a foreign domain', () => {
    const d = checkRecipient(c, '203.0.113.1', '', 'bob@elsewhere.example');
    assert.ok(!d.ok && /Relaying denied/.test(d.text) && d.reason.rule === 'acceptedDomains');
  });
  it('says recipient block list for a blocked recipient', () => {
    const d = checkRecipient(c, '203.0.113.1', '', 'former-joe@example.test');
    assert.ok(!d.ok && /recipient block list/.test(d.text) && d.reason.match === 'former-*@example.test');
  });
});
