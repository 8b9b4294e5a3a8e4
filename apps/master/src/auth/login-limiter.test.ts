import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLoginLimiter } from './login-limiter.ts';

function limiter(limit = 3) {
  const clock = { t: 1_000_000 };
  return { clock, l: createLoginLimiter({ limit, now: () => clock.t }) };
}

test('allows up to the limit of failures per minute, then refuses with the wait', () => {
  const { clock, l } = limiter(3);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(l.check('192.0.2.1', 'alice'), { allowed: true });
    l.fail('192.0.2.1', 'alice');
    clock.t += 1000;
  }
  assert.deepEqual(l.check('192.0.2.1', 'alice'), { allowed: false, retryAfterSeconds: 57 });
  clock.t += 56_999;
  assert.equal(l.check('192.0.2.1', 'alice').allowed, false);
  clock.t += 1;
  assert.deepEqual(l.check('192.0.2.1', 'alice'), { allowed: true });
});

test('counts per address: one client guessing many names is stopped', () => {
  const { l } = limiter(3);
  for (const name of ['a', 'b', 'c']) l.fail('192.0.2.1', name);
  assert.equal(l.check('192.0.2.1', 'd').allowed, false);
  assert.equal(l.check('192.0.2.2', 'd').allowed, true);
});

test('counts per user name, case-insensitively: many clients guessing one name are stopped', () => {
  const { l } = limiter(3);
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) l.fail(ip, 'Admin');
  assert.equal(l.check('198.51.100.9', 'admin').allowed, false);
  assert.equal(l.check('198.51.100.9', 'bob').allowed, true);
});

test('retry-after is at least one second', () => {
  const { clock, l } = limiter(1);
  l.fail('192.0.2.1', 'x');
  clock.t += 59_999;
  assert.deepEqual(l.check('192.0.2.1', 'x'), { allowed: false, retryAfterSeconds: 1 });
});

test('tracked keys are bounded', () => {
  const clock = { t: 0 };
  const l = createLoginLimiter({ limit: 1, now: () => clock.t, maxKeys: 4 });
  l.fail('192.0.2.1', 'first');
  for (let i = 0; i < 10; i++) l.fail(`198.51.100.${i}`, `user${i}`);
  // The oldest keys were dropped: the first address may try again.
  assert.equal(l.check('192.0.2.1', 'other').allowed, true);
  assert.equal(l.check('198.51.100.9', 'other').allowed, false);
});
