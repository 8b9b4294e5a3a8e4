import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT_FACTOR, createLoginLimiter, type Attempt } from './login-limiter.ts';

function limiter(limit = 3) {
  const clock = { t: 1_000_000 };
  return { clock, l: createLoginLimiter({ limit, now: () => clock.t }) };
}
const allowed = (a: Attempt) => a.allowed;

test('an attempt is counted when it is allowed, before any password is checked: the limit holds for parallel attempts', () => {
  const { l } = limiter(10);
  // 150 attempts in one tick, none of them finished: exactly the limit goes ahead.
  const verdicts = Array.from({ length: 150 }, () => l.attempt('192.0.2.1', 'admin'));
  assert.equal(verdicts.filter(allowed).length, 10);
});

test('up to the limit per minute, then refused with the wait; refused attempts do not extend it', () => {
  const { clock, l } = limiter(3);
  for (let i = 0; i < 3; i++) {
    assert.ok(l.attempt('192.0.2.1', 'alice').allowed);
    clock.t += 1000;
  }
  assert.deepEqual(l.attempt('192.0.2.1', 'alice'), { allowed: false, retryAfterSeconds: 57 });
  clock.t += 56_999;
  assert.equal(l.attempt('192.0.2.1', 'alice').allowed, false);
  clock.t += 1;
  assert.ok(l.attempt('192.0.2.1', 'alice').allowed);
});

test('a right password gives its attempt back', () => {
  const { l } = limiter(2);
  for (let i = 0; i < 5; i++) {
    const a = l.attempt('192.0.2.1', 'alice');
    assert.ok(a.allowed);
    l.succeeded(a.ticket);
  }
});

test('counts per address: one client guessing many names is stopped; an IPv6 client is its /64', () => {
  const { l } = limiter(3);
  for (const name of ['a', 'b', 'c']) l.attempt('192.0.2.1', name);
  assert.equal(l.attempt('192.0.2.1', 'd').allowed, false);
  assert.equal(l.attempt('::ffff:192.0.2.1', 'd').allowed, false, 'the same IPv4 client, as a mapped address');
  assert.equal(l.attempt('192.0.2.2', 'd').allowed, true);
  for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:0db8:0001:0002::77']) l.attempt(ip, 'e');
  assert.equal(l.attempt('2001:db8:1:2:a:b:c:d', 'f').allowed, false);
  assert.equal(l.attempt('2001:db8:1:3::1', 'f').allowed, true);
});

test('many clients guessing one account are stopped at the account-wide count, but not its owner\'s known address', () => {
  const { l } = limiter(3);
  const owner = l.attempt('198.51.100.7', 'Admin');
  assert.ok(owner.allowed);
  l.succeeded(owner.ticket);
  // 3 wrong from each of ACCOUNT_FACTOR addresses: the account-wide count is full.
  for (let i = 0; i < ACCOUNT_FACTOR; i++) for (let j = 0; j < 3; j++) assert.ok(l.attempt(`192.0.2.${i}`, 'admin').allowed);
  assert.equal(l.attempt('203.0.113.1', 'admin').allowed, false, 'a new address is refused');
  assert.equal(l.attempt('203.0.113.1', 'bob').allowed, true, 'other accounts are untouched');
  assert.equal(l.attempt('198.51.100.7', 'admin').allowed, true, 'the address that signed in before still may');
});

test('per account and address: ten wrong from one place do not lock the account elsewhere', () => {
  const { l } = limiter(3);
  for (let j = 0; j < 3; j++) l.attempt('192.0.2.1', 'admin');
  assert.equal(l.attempt('192.0.2.1', 'admin').allowed, false);
  assert.equal(l.attempt('198.51.100.7', 'admin').allowed, true);
});

test('retry-after is at least one second', () => {
  const { clock, l } = limiter(1);
  l.attempt('192.0.2.1', 'x');
  clock.t += 59_999;
  assert.deepEqual(l.attempt('192.0.2.1', 'x'), { allowed: false, retryAfterSeconds: 1 });
});

test('tracked keys are bounded', () => {
  const clock = { t: 0 };
  const l = createLoginLimiter({ limit: 1, now: () => clock.t, maxKeys: 6 });
  l.attempt('192.0.2.1', 'first');
  for (let i = 0; i < 10; i++) l.attempt(`198.51.100.${i}`, `user${i}`);
  // The oldest keys were dropped: the first address may try again.
  assert.equal(l.attempt('192.0.2.1', 'other').allowed, true);
  assert.equal(l.attempt('198.51.100.9', 'other').allowed, false);
});
