import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeStack, verdictStack } from './chart-series.ts';

const row = (start: string, deliver: number, tag: number, quarantine: number, reject: number, nodeId?: string) =>
  ({ start, deliver, tag, quarantine, reject, total: deliver + tag + quarantine + reject, ...(nodeId ? { nodeId } : {}) });

test('verdicts stack bottom up: each top is its count plus those below; totals per verdict', () => {
  const s = verdictStack([row('2026-01-01T00:00:00Z', 3, 1, 2, 0), row('2026-01-02T00:00:00Z', 0, 0, 0, 4)]);
  assert.deepEqual(s.x, [Date.parse('2026-01-01T00:00:00Z') / 1000, Date.parse('2026-01-02T00:00:00Z') / 1000]);
  assert.deepEqual(s.series.map((x) => [x.label, x.counts, x.top, x.total]), [
    ['accepted', [3, 0], [3, 0], 3],
    ['tagged', [1, 0], [4, 0], 1],
    ['quarantined', [2, 0], [6, 0], 2],
    ['rejected', [0, 4], [6, 4], 4],
  ]);
});

test('a node split has one series per node, named, with every bucket (zeros where a node had none)', () => {
  const s = nodeStack([row('2026-01-01T00:00:00Z', 1, 0, 0, 0, 'a'), row('2026-01-01T00:00:00Z', 0, 2, 0, 0, 'b'), row('2026-01-02T00:00:00Z', 0, 0, 5, 0, 'b')], (id) => `scanner-${id}`);
  assert.equal(s.x.length, 2);
  assert.deepEqual(s.series.map((x) => [x.label, x.counts, x.top]), [['scanner-a', [1, 0], [1, 0]], ['scanner-b', [2, 5], [3, 5]]]);
  assert.notEqual(s.series[0]!.colour, s.series[1]!.colour);
});
