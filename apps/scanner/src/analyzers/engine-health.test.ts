import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineHealthTracker, HEALTH_WINDOW_MS } from './engine-health.ts';

test('unknown until a scan or probe; the last outcome says up or down; the last error stays', () => {
  let now = 1_000_000;
  const t = new EngineHealthTracker(['clamav', 'spamassassin'], () => now);
  assert.deepEqual(t.report().map((e) => [e.engine, e.state, e.samples]), [['clamav', 'unknown', 0], ['spamassassin', 'unknown', 0]]);
  t.succeeded('clamav', 12);
  now += 10;
  t.failed('clamav', 'clamd: ECONNREFUSED');
  let c = t.report()[0]!;
  assert.equal(c.state, 'down');
  assert.deepEqual(c.lastError, { message: 'clamd: ECONNREFUSED', at: now });
  assert.equal(c.errors, 1);
  t.failed('clamav', 'clamd: ECONNREFUSED', false);
  assert.equal(t.report()[0]!.errors, 1, 'a failed probe changes the state, not the count of failed scans');
  now += 10;
  t.succeeded('clamav', 5, false);
  c = t.report()[0]!;
  assert.equal(c.state, 'up', 'a probe that answers brings it up');
  assert.equal(c.samples, 1, 'a probe is no scan time');
  assert.deepEqual(c.lastError, { message: 'clamd: ECONNREFUSED', at: now - 10 });
});

test('p50 and p95 of the scans within the window; older samples and errors fall out', () => {
  let now = 0;
  const t = new EngineHealthTracker(['rspamd'], () => now);
  for (let ms = 1; ms <= 100; ms++) t.succeeded('rspamd', ms);
  t.failed('rspamd', 'timeout');
  t.succeeded('rspamd', 50);
  let r = t.report()[0]!;
  assert.equal(r.samples, 101);
  assert.equal(r.p50Ms, 50);
  assert.equal(r.p95Ms, 95);
  assert.equal(r.errors, 1);
  now += HEALTH_WINDOW_MS + 1;
  t.succeeded('rspamd', 7);
  r = t.report()[0]!;
  assert.deepEqual([r.samples, r.p50Ms, r.p95Ms, r.errors], [1, 7, 7, 0]);
});
