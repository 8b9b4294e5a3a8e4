import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMetrics } from '@moat/protocol';
import { NodeMetricsBook } from './node-metrics-book.ts';

function report(startedAt: number, deliver: number, reject = 0): NodeMetrics {
  return {
    startedAt,
    messages: [{ verdict: 'deliver', count: deliver }, ...(reject ? [{ verdict: 'reject' as const, count: reject }] : [])],
    reasons: [],
    sessions: 0,
    refusals: [],
    relay: { delivered: 0, deferred: 0, bounced: 0 },
    queueOldestSeconds: 0,
    disk: { quarantineBytes: 0, quarantineMaxBytes: 0, retainedBytes: 0 },
  };
}
const total = (b: NodeMetricsBook) => Object.fromEntries(b.clusterMessages());

test('the cluster counts add each report\'s increase, across nodes', () => {
  const b = new NodeMetricsBook(1000);
  b.record('a', report(2000, 3), 1);
  b.record('b', report(2000, 1, 2), 1);
  b.record('a', report(2000, 5), 2);
  b.record('a', report(2000, 5), 3);
  assert.deepEqual(total(b), { deliver: 6, reject: 2 });
});

test('a scanner restart (a new startedAt) adds its new counts from zero, never goes backwards', () => {
  const b = new NodeMetricsBook(1000);
  b.record('a', report(2000, 10), 1);
  b.record('a', report(3000, 2), 2);
  b.record('a', report(3000, 4), 3);
  assert.deepEqual(total(b), { deliver: 14 });
});

test('a node whose run began before this master started adds only what it counts from now on', () => {
  const b = new NodeMetricsBook(5000);
  b.record('old', report(2000, 100), 1);
  b.record('old', report(2000, 103), 2);
  assert.deepEqual(total(b), { deliver: 3 });
  b.forget('old');
  assert.equal(b.get('old'), undefined);
});
