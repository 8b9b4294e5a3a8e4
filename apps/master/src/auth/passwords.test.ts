import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword } from './passwords.ts';

const FAST = { ln: 10, r: 8, p: 1 };

test('a hash verifies its password and no other', async () => {
  const hash = await hashPassword('s3cret password', FAST);
  assert.match(hash, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(await verifyPassword('s3cret password', hash), true);
  assert.equal(await verifyPassword('s3cret passworD', hash), false);
  assert.equal(await verifyPassword('', hash), false);
});

test('each hash has its own salt', async () => {
  const [a, b] = await Promise.all([hashPassword('same', FAST), hashPassword('same', FAST)]);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword('same', a), true);
  assert.equal(await verifyPassword('same', b), true);
});

test('the default cost is in the hash string, so it can change later', async () => {
  const hash = await hashPassword('x');
  assert.match(hash, /^\$scrypt\$ln=15,r=8,p=1\$/);
  assert.equal(await verifyPassword('x', hash), true);
});

test('malformed or tampered hashes never verify', async () => {
  const good = await hashPassword('pw', FAST);
  for (const bad of ['', 'plain', good.replace('ln=10', 'ln=30'), good.replace('ln=10', 'ln=2'), good.slice(0, -4), `${good}x`]) {
    assert.equal(await verifyPassword('pw', bad), false, bad);
  }
});

test('unicode passwords are normalized (NFC) before hashing', async () => {
  const hash = await hashPassword('caf\u00e9', FAST);
  assert.equal(await verifyPassword('cafe\u0301', hash), true);
});
