import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signLink, verifyLink, type Link } from './links.ts';

const secret = randomBytes(32);
const link: Link = { action: 'release', nodeId: '0123456789abcdef', messageId: 'ABCDEFGHIJ0123456789', recipient: 'bob@example.test', expiresAt: 10_000 };

test('a signed link verifies until it expires, then is refused as expired', () => {
  const token = signLink(secret, link);
  assert.deepEqual(verifyLink(secret, token, 9_999), { ok: true, link });
  assert.deepEqual(verifyLink(secret, token, 10_000), { ok: false, reason: 'expired' });
});

test('any change to the link, or another key, is refused as forged', () => {
  const token = signLink(secret, link);
  const [payload, signature] = token.split('.') as [string, string];
  for (const changed of [{ action: 'delete' as const }, { recipient: 'eve@example.test' }, { messageId: 'ZZZZZZZZZZ0123456789' }, { expiresAt: 99_999 }, { nodeId: 'ffffffffffffffff' }]) {
    const other = signLink(secret, { ...link, ...changed }).split('.')[0]!;
    assert.deepEqual(verifyLink(secret, `${other}.${signature}`, 0), { ok: false, reason: 'forged' }, JSON.stringify(changed));
  }
  assert.deepEqual(verifyLink(randomBytes(32), token, 0), { ok: false, reason: 'forged' });
  const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
  assert.deepEqual(verifyLink(secret, `${payload}.${flipped}`, 0), { ok: false, reason: 'forged' });
});

test('garbage is malformed, never an exception', () => {
  for (const junk of ['', 'abc', 'a.b', `${'x'.repeat(2000)}.${'y'.repeat(43)}`, '../../etc.passwd', '%00.%00']) {
    assert.equal(verifyLink(secret, junk, 0).ok, false, junk);
  }
});
