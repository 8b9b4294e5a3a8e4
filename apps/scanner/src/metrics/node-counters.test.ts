import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeCounters, readGauges } from './node-counters.ts';

test('a message counts once per verdict and once per reason kind it carries', () => {
  const c = new NodeCounters(1000);
  c.message('quarantine', [{ kind: 'content', rule: 'a', match: 'x' }, { kind: 'content', rule: 'b', match: 'y' }, { kind: 'analyzer', rule: 'c', match: 'z' }]);
  c.message('quarantine', [{ kind: 'content', rule: 'a', match: 'x' }]);
  c.message('deliver', []);
  const r = c.report(readGauges({ queueOldest: () => null, quarantineBytes: () => 0, retainedBytes: () => 0, budgets: () => undefined, now: () => 0 }));
  assert.deepEqual(r.messages, [{ verdict: 'quarantine', count: 2 }, { verdict: 'deliver', count: 1 }]);
  assert.deepEqual(r.reasons, [{ verdict: 'quarantine', kind: 'content', count: 2 }, { verdict: 'quarantine', kind: 'analyzer', count: 1 }]);
  assert.equal(r.startedAt, 1000);
});

test('refusals by stage and code (4xx and 5xx only); relay outcomes per recipient', () => {
  const c = new NodeCounters(0);
  c.session();
  c.refusal('rcpt', 550);
  c.refusal('rcpt', 550);
  c.refusal('connect', 421);
  c.refusal('data', 250);
  c.attempt(2, 1, 0);
  c.attempt(0, 0, 1);
  const r = c.report({ queueOldestSeconds: 0, disk: { quarantineBytes: 0, quarantineMaxBytes: 0, retainedBytes: 0 } });
  assert.equal(r.sessions, 1);
  assert.deepEqual(r.refusals, [{ stage: 'rcpt', code: 550, count: 2 }, { stage: 'connect', code: 421, count: 1 }]);
  assert.deepEqual(r.relay, { delivered: 2, deferred: 1, bounced: 1 });
});

test('gauges: the oldest queued message\'s age, the budgets once rules are there (retention only when on)', () => {
  const base = { quarantineBytes: () => 10, retainedBytes: () => 20, now: () => 61_000 };
  assert.deepEqual(readGauges({ ...base, queueOldest: () => 1_000, budgets: () => ({ quarantineMaxBytes: 100, retainedMaxBytes: 200 }) }), {
    queueOldestSeconds: 60,
    disk: { quarantineBytes: 10, quarantineMaxBytes: 100, retainedBytes: 20, retainedMaxBytes: 200 },
  });
  assert.deepEqual(readGauges({ ...base, queueOldest: () => null, budgets: () => ({ quarantineMaxBytes: 100 }) }).disk, { quarantineBytes: 10, quarantineMaxBytes: 100, retainedBytes: 20 });
  assert.equal(readGauges({ ...base, queueOldest: () => null, budgets: () => undefined }).queueOldestSeconds, 0);
});
