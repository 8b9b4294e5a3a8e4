import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimiter } from './connection-limiter.ts';

test('concurrency is limited per address and released', () => {
  const l = new ConnectionLimiter({ maxConcurrent: 2, rateCount: 100, rateWindowMs: 1000 }, () => 0);
  assert.deepEqual(l.admit('a'), { ok: true });
  assert.deepEqual(l.admit('a'), { ok: true });
  assert.deepEqual(l.admit('a'), { ok: false, why: 'concurrency' });
  assert.deepEqual(l.admit('b'), { ok: true });
  l.release('a');
  assert.deepEqual(l.admit('a'), { ok: true });
});

test('rate refills with time', () => {
  let now = 0;
  const l = new ConnectionLimiter({ maxConcurrent: 100, rateCount: 3, rateWindowMs: 3000 }, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(l.admit('a').ok, true);
    l.release('a');
  }
  assert.deepEqual(l.admit('a'), { ok: false, why: 'rate' });
  now = 999;
  assert.deepEqual(l.admit('a'), { ok: false, why: 'rate' });
  now = 1000;
  assert.deepEqual(l.admit('a'), { ok: true });
});

test('releasing an unknown address is harmless', () => {
  const l = new ConnectionLimiter({ maxConcurrent: 1, rateCount: 1, rateWindowMs: 1000 }, () => 0);
  l.release('nobody');
  assert.equal(l.active('nobody'), 0);
});
