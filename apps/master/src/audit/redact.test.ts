import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecrets } from './redact.ts';

test('keys that name secrets are redacted at any depth; the rest is kept', () => {
  const out = redactSecrets({
    username: 'alice',
    password: 'hunter2',
    newPassword: 'x',
    passwordHash: '$scrypt$...',
    token: 'moat_abc_def',
    tokenId: 'abc',
    nested: { secret: 's', joinSecret: 'j', list: [{ credential: 'c', name: 'n' }], Authorization: 'Bearer x' },
    passwordReset: true,
  });
  assert.deepEqual(out, {
    username: 'alice',
    password: '[redacted]',
    newPassword: '[redacted]',
    passwordHash: '[redacted]',
    token: '[redacted]',
    tokenId: 'abc',
    nested: { secret: '[redacted]', joinSecret: '[redacted]', list: [{ credential: '[redacted]', name: 'n' }], Authorization: '[redacted]' },
    passwordReset: true,
  });
});
