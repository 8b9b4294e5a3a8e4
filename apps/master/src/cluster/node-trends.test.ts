import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMetrics } from '@moat/protocol';
import { NodeTrends, sumThroughput, throughput } from './node-trends.ts';

function metrics(startedAt: number, deliver: number, reject = 0): NodeMetrics {
  return {
    startedAt,
    messages: [{ verdict: 'deliver', count: deliver }, { verdict: 'reject', count: reject }],
    reasons: [],
    sessions: 0,
    refusals: [],
    relay: { delivered: 0, deferred: 0, bounced: 0 },
    queueOldestSeconds: 0,
    disk: { quarantineBytes: 10, quarantineMaxBytes: 100, retainedBytes: 0 },
  };
}

test('kept samples are a step apart; the newest heartbeat is always the last sample', () => {
  const t = new NodeTrends({ stepMs: 10, historyMs: 1000 });
  for (const at of [0, 5, 10, 15, 20, 25]) t.record('a', at, { queueDepth: at });
  assert.deepEqual(t.samples('a', 0).map((s) => s.at), [0, 10, 20, 25]);
  assert.equal(t.latest('a')?.queueDepth, 25);
  assert.deepEqual(t.samples('a', 11).map((s) => s.at), [20, 25]);
});

test('the ring is bounded: the oldest samples go', () => {
  const t = new NodeTrends({ stepMs: 1, historyMs: 2 });
  for (let at = 0; at < 10; at++) t.record('a', at, { queueDepth: at, outboxBacklog: 1 });
  assert.deepEqual(t.samples('a', 0).map((s) => s.at), [7, 8, 9]);
  t.forget('a');
  assert.deepEqual(t.samples('a', 0), []);
  assert.equal(t.latest('a'), undefined);
});

test('a heartbeat without queue or outbox keeps the last known depth', () => {
  const t = new NodeTrends({ stepMs: 1, historyMs: 10 });
  t.record('a', 0, { queueDepth: 4, outboxBacklog: 2 });
  t.record('a', 1, {});
  assert.deepEqual([t.latest('a')?.queueDepth, t.latest('a')?.outboxBacklog, t.latest('a')?.counters], [4, 2, undefined]);
});

test('throughput: the counters\' increase over the window, per second', () => {
  const t = new NodeTrends({ stepMs: 10_000, historyMs: 3_600_000 });
  // 0 s: 100 delivered; 60 s: 160 delivered, 30 rejected more; 70 s: 170.
  t.record('a', 0, { metrics: metrics(1, 100, 0) });
  t.record('a', 30_000, { metrics: metrics(1, 130, 0) });
  t.record('a', 60_000, { metrics: metrics(1, 160, 30) });
  t.record('a', 70_000, { metrics: metrics(1, 170, 30) });
  // The window of 60 s reaches back from 70 s to the sample at 0 s (the newest at least 60 s back).
  const got = t.throughput('a', 60_000, 70_000)!;
  assert.equal(got.seconds, 70);
  assert.equal(got.perSecond.deliver, 70 / 70);
  assert.equal(got.perSecond.reject, 30 / 70);
  assert.equal(got.perSecond.total, 100 / 70);
  // A shorter window starts at the 60 s sample.
  assert.deepEqual(t.throughput('a', 10_000, 70_000), { perSecond: { deliver: 1, tag: 0, quarantine: 0, reject: 0, total: 1 }, seconds: 10 });
});

test('throughput across a scanner restart counts the new run from zero and never goes negative', () => {
  const ring = [
    { at: 0, queueDepth: 0, outboxBacklog: 0, counters: { startedAt: 1, messages: { deliver: 500, tag: 0, quarantine: 0, reject: 0 } } },
    { at: 10_000, queueDepth: 0, outboxBacklog: 0, counters: { startedAt: 1, messages: { deliver: 510, tag: 0, quarantine: 0, reject: 0 } } },
    { at: 20_000, queueDepth: 0, outboxBacklog: 0, counters: { startedAt: 2, messages: { deliver: 5, tag: 0, quarantine: 0, reject: 0 } } },
  ];
  assert.equal(throughput(ring, 60_000, 20_000)?.perSecond.deliver, 15 / 20);
});

test('throughput is null without counters, with one sample, or once the node stopped reporting', () => {
  const t = new NodeTrends({ stepMs: 1, historyMs: 10 });
  t.record('old', 0, { queueDepth: 1 });
  t.record('old', 5, { queueDepth: 1 });
  assert.equal(t.throughput('old', 60_000, 5), null, 'an older scanner sends no counters');
  t.record('one', 0, { metrics: metrics(1, 3) });
  assert.equal(t.throughput('one', 60_000, 0), null);
  t.record('one', 1_000, { metrics: metrics(1, 4) });
  assert.equal(t.throughput('one', 60_000, 1_000)?.perSecond.deliver, 1);
  assert.equal(t.throughput('one', 60_000, 62_000), null, 'no heartbeat for longer than the window');
  assert.equal(t.throughput('nobody', 60_000, 0), null);
});

test('the cluster\'s throughput adds the nodes\' rates', () => {
  const a = { perSecond: { deliver: 1, tag: 0, quarantine: 0.5, reject: 0, total: 1.5 }, seconds: 60 };
  const b = { perSecond: { deliver: 2, tag: 1, quarantine: 0, reject: 0, total: 3 }, seconds: 30 };
  assert.deepEqual(sumThroughput([a, null, b]), { perSecond: { deliver: 3, tag: 1, quarantine: 0.5, reject: 0, total: 4.5 }, seconds: 60 });
  assert.equal(sumThroughput([null]), null);
});
