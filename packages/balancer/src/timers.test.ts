import assert from 'node:assert/strict';
import { test } from 'node:test';
import { masterDownMs, skewMs, toCentiseconds } from './timers.ts';

// RFC 5798 §6.1 worked numbers (BALANCER.md §1.2).
const table: Array<[priority: number, intervalMs: number, skew: number, mdi: number]> = [
  [255, 1000, 3.90625, 3003.90625],
  [200, 1000, 218.75, 3218.75],
  [100, 1000, 609.375, 3609.375],
  [50, 1000, 804.6875, 3804.6875],
  [1, 1000, 996.09375, 3996.09375],
  [200, 100, 21.875, 321.875],
  [50, 100, 80.46875, 380.46875],
];

for (const [priority, interval, skew, mdi] of table) {
  test(`timers: priority ${priority} at ${interval} ms → skew ${skew}, master-down ${mdi}`, () => {
    assert.equal(skewMs(priority, interval), skew);
    assert.equal(masterDownMs(priority, interval), mdi);
  });
}

test('timers: a higher priority always times out first', () => {
  for (let p = 2; p <= 255; p++) assert.ok(masterDownMs(p, 1000) < masterDownMs(p - 1, 1000));
});

test('timers: the interval travels in 12-bit centiseconds', () => {
  assert.equal(toCentiseconds(1000), 100);
  assert.equal(toCentiseconds(4), 1);
  assert.equal(toCentiseconds(100_000), 4095);
});
