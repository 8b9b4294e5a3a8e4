import { test } from 'node:test';
import assert from 'node:assert/strict';
import { growthOf } from './growth.ts';

test('growth: flat, linear and one spike', () => {
  const flat = growthOf(Array.from({ length: 20 }, (_, i) => ({ t: i * 5, value: 100 })));
  assert.deepEqual([flat.growth, flat.slopePerMinute, flat.min, flat.max], [0, 0, 100, 100]);

  // +1 per 5 s = +12 per minute; quarters of 5 samples: means 2 and 17.
  const linear = growthOf(Array.from({ length: 20 }, (_, i) => ({ t: i * 5, value: i })));
  assert.equal(linear.firstQuarter, 2);
  assert.equal(linear.lastQuarter, 17);
  assert.equal(linear.growth, 15);
  assert.ok(Math.abs(linear.slopePerMinute - 12) < 1e-9);

  // One high sample in the middle moves neither quarter.
  const spike = growthOf(Array.from({ length: 20 }, (_, i) => ({ t: i * 5, value: i === 10 ? 500 : 100 })));
  assert.equal(spike.growth, 0);
  assert.equal(spike.max, 500);

  assert.deepEqual(spike.quarterMedians, [100, 100, 100, 100]);

  assert.deepEqual(linear.quarterMedians, [2, 7, 12, 17]);
  assert.ok(Math.abs(linear.secondHalfSlopePerMinute - 12) < 1e-9);

  // A heap that settles: climbs for the first half, then a plateau. The whole run's slope says
  // "growing", the second half's says flat.
  const settling = growthOf(Array.from({ length: 20 }, (_, i) => ({ t: i * 5, value: Math.min(i, 10) })));
  assert.ok(settling.slopePerMinute > 5);
  assert.equal(settling.secondHalfSlopePerMinute, 0);
  assert.deepEqual(settling.quarterMedians, [2, 7, 10, 10]);

  assert.throws(() => growthOf([{ t: 0, value: 1 }]), /at least 4 samples/);
});
