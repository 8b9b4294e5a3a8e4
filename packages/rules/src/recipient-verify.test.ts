import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compiled } from './test-fixtures.ts';
import { HarvestCounter, checkLocalPartRouting, compileStaticList, postmasterAddress, stripTag, unknownRecipient, verificationTarget, verificationUnavailable } from './recipient-verify.ts';

const verifying = (extra: Record<string, unknown> = {}) =>
  compiled({ recipientVerification: { domains: [{ domain: 'example.test', source: 'static' }, { domain: '*.sub.example.test', source: 'callout' }], ...extra } });

test('which recipients are looked up, under which address', () => {
  const c = verifying();
  const cases: [string, string | undefined, string | undefined][] = [
    ['Bob@Example.TEST', 'bob@example.test', 'example.test'],
    ['bob+news@example.test', 'bob@example.test', 'example.test'],
    ['+bob@example.test', '+bob@example.test', 'example.test'], // a separator first is no tag
    ['postmaster@example.test', undefined, undefined],
    ['Abuse+x@example.test', undefined, undefined],
    ['a@x.sub.example.test', 'a@x.sub.example.test', 'sub.example.test'],
    ['a@other.example', undefined, undefined],
  ];
  for (const [rcpt, address, store] of cases) {
    const t = verificationTarget(c, rcpt);
    assert.equal(t?.address, address, rcpt);
    assert.equal(t?.store, store, rcpt);
  }
  assert.equal(verificationTarget(verifying({ tagSeparators: '-' }), 'bob+news@example.test')?.address, 'bob+news@example.test');
  assert.equal(verificationTarget(verifying({ tagSeparators: '-+' }), 'bob-x+y@example.test')?.address, 'bob@example.test');
  assert.equal(verificationTarget(compiled(), 'bob@example.test'), undefined, 'no verification configured');
});

test('stripTag cuts at the first separator, never the first character', () => {
  assert.equal(stripTag('a+b+c', '+'), 'a');
  assert.equal(stripTag('abc', ''), 'abc');
  assert.equal(stripTag('+abc', '+'), '+abc');
});

test('% and ! routing is refused with 501 5.1.3 unless allowed', () => {
  const c = verifying();
  for (const rcpt of ['user%other.example@example.test', 'other.example!user@example.test', '"a%b"@example.test']) {
    const d = checkLocalPartRouting(c.rules.recipientVerification, rcpt);
    assert.equal(d.ok, false, rcpt);
    if (!d.ok) assert.deepEqual([d.code, d.enhanced], [501, '5.1.3']);
  }
  assert.equal(checkLocalPartRouting(c.rules.recipientVerification, 'user@ex%ample.test').ok, true, 'only the local part counts');
  assert.equal(checkLocalPartRouting(verifying({ allowLocalPartRouting: true }).rules.recipientVerification, 'a%b@example.test').ok, true);
});

test('replies: 550 5.1.1 user unknown, 451 4.4.3 unavailable', () => {
  const u = unknownRecipient('nobody@example.test', 'static', 'nobody@example.test');
  assert.deepEqual([u.code, u.enhanced, u.text], [550, '5.1.1', '<nobody@example.test>: Recipient address rejected: User unknown']);
  const d = verificationUnavailable('a@example.test', 'ldap', 'connect ECONNREFUSED');
  assert.deepEqual([d.code, d.enhanced], [451, '4.4.3']);
});

test('postmaster without a domain stands for postmaster at the first exact accepted domain', () => {
  assert.equal(postmasterAddress(compiled({ acceptedDomains: ['*.a.example', 'Example.TEST'] })), 'postmaster@example.test');
  assert.equal(postmasterAddress(compiled({ acceptedDomains: ['*.a.example'] })), undefined);
});

test('static lists take addresses and *@domain patterns, case-insensitively', () => {
  const m = compileStaticList(['alice@example.test', '*@team.example.test']);
  assert.equal(m('ALICE@example.test'), 'alice@example.test');
  assert.equal(m('anyone@team.example.test'), '*@team.example.test');
  assert.equal(m('bob@example.test'), undefined);
});

test('the harvest counter counts per address within the window', () => {
  const h = new HarvestCounter(2);
  assert.equal(h.record('192.0.2.1', 0, 1000), 1);
  assert.equal(h.record('192.0.2.1', 500, 1000), 2);
  assert.equal(h.record('192.0.2.1', 1200, 1000), 2, 'the first one left the window');
  assert.equal(h.count('192.0.2.1', 5000, 1000), 0);
  h.record('192.0.2.2', 0, 1000);
  h.record('192.0.2.3', 0, 1000);
  h.record('192.0.2.4', 0, 1000);
  assert.equal(h.count('192.0.2.2', 0, 1000), 0, 'bounded: the oldest address went');
});
