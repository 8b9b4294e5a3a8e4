import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEnvelopeAddress } from './address-syntax.ts';

test('envelope addresses: mailboxes pass', () => {
  for (const a of [
    'user@example.test', 'USER@EXAMPLE.TEST', 'first.last+tag@sub.example.test', "o'brien@example.test",
    '"q u"@example.test', '"a\\"b"@example.test', 'user@[127.0.0.1]', 'user@[IPv6:2001:db8::1]',
    'x@a', 'a-b@a-b.c-d', 'jörg@bücher.example', '用户@例子.测试', `${'l'.repeat(100)}@example.test`,
  ]) {
    assert.equal(isEnvelopeAddress(a, 'recipient'), true, a);
    assert.equal(isEnvelopeAddress(a, 'sender'), true, a);
  }
});

test('envelope addresses: what is not a mailbox is refused', () => {
  for (const a of [
    '(?:@example.test', '(comment)user@example.test', 'user', 'user@', '@example.test', 'a@b@c',
    '.user@example.test', 'user.@example.test', 'us..er@example.test', 'user@-example.test',
    'user@example-.test', 'user@example..test', 'user@example.test.', 'us er@example.test',
    'user@exa mple.test', '"unterminated@example.test', 'user@[1.2.3.4', 'user@[a]b]',
    '\u0000@example.test', 'user@example.test\r\n', 'a:b@example.test', '<user@example.test>',
    'user@ex_ample.test',
  ]) {
    assert.equal(isEnvelopeAddress(a, 'recipient'), false, JSON.stringify(a));
    assert.equal(isEnvelopeAddress(a, 'sender'), false, JSON.stringify(a));
  }
});

test('envelope addresses: the null path for senders only, Postmaster for recipients', () => {
  assert.equal(isEnvelopeAddress('', 'sender'), true);
  assert.equal(isEnvelopeAddress('', 'recipient'), false);
  assert.equal(isEnvelopeAddress('Postmaster', 'recipient'), true);
  assert.equal(isEnvelopeAddress('postmaster', 'recipient'), true);
  assert.equal(isEnvelopeAddress('postmaster', 'sender'), false);
});
