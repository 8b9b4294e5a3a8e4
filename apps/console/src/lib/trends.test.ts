import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diskUse, nodeLines, perSecond, type NodeTrend } from './trends.ts';

test('messages a second read as people read them', () => {
  assert.deepEqual([null, undefined, 0, 0.004, 0.0512, 1.234, 9.999, 37.4].map(perSecond), ['—', '—', '0', '<0.01', '0.05', '1.23', '10', '37']);
});

const node = (name: string, samples: NodeTrend['samples']): NodeTrend => ({ id: name, name, online: true, throughput: null, disk: null, samples });

test('one line per node with samples, in seconds, each in its own colour', () => {
  const lines = nodeLines([
    node('a', [{ at: '2026-01-01T00:00:00Z', queueDepth: 1, outboxBacklog: 0 }, { at: '2026-01-01T00:00:10Z', queueDepth: 3, outboxBacklog: 0 }]),
    node('quiet', []),
    node('b', [{ at: '2026-01-01T00:00:05Z', queueDepth: 0, outboxBacklog: 2 }]),
  ], (s) => s.queueDepth);
  const t0 = Date.parse('2026-01-01T00:00:00Z') / 1000;
  assert.deepEqual(lines.map((l) => [l.label, l.x, l.y]), [['a', [t0, t0 + 10], [1, 3]], ['b', [t0 + 5], [0]]]);
  assert.notEqual(lines[0]!.colour, lines[1]!.colour);
  assert.deepEqual(nodeLines([node('a', [{ at: '2026-01-01T00:00:00Z', queueDepth: 1, outboxBacklog: 0 }])], (s) => s.quarantineBytes), [], 'a value no sample has: no line');
});

test('disk use against its budget, retention only while it is on', () => {
  const MiB = 1024 * 1024;
  assert.deepEqual(diskUse({ reportedAt: '', quarantineBytes: 256 * MiB, quarantineMaxBytes: 1024 * MiB, retainedBytes: 0 }).map((u) => [u.store, u.percent, u.text]), [
    ['quarantine', 25, '256.0 MiB of 1.0 GiB (25%)'],
  ]);
  assert.deepEqual(diskUse({ reportedAt: '', quarantineBytes: 5, quarantineMaxBytes: 0, retainedBytes: 2048, retainedMaxBytes: 1024 * MiB }).map((u) => [u.store, u.percent === null ? null : u.percent > 0 && u.percent < 1, u.text]), [
    ['quarantine', null, '5 B (no budget)'],
    ['retention', true, '2.0 KiB of 1.0 GiB (<1%)'],
  ]);
});
