import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyCheck, initialHealth, type HealthState } from './health.ts';

function run(results: Array<string | null>, rise = 2, fall = 3, start: HealthState = initialHealth): boolean[] {
  let s = start;
  return results.map((r) => (s = applyCheck(s, r, rise, fall).state).up);
}

test('health: down after `fall` consecutive failures, not before', () => {
  assert.deepEqual(run(['L4CON', 'L4CON', 'L4CON']), [true, true, false]);
  assert.deepEqual(run(['L4CON', 'L4CON', null, 'L4CON', 'L4CON']), [true, true, true, true, true], 'a success resets the count');
});

test('health: up again after `rise` consecutive successes', () => {
  const down: HealthState = { up: false, riseCount: 0, fallCount: 3, lastReason: 'L4CON' };
  assert.deepEqual(run([null, null], 2, 3, down), [false, true]);
  assert.deepEqual(run([null, 'L7RSP', null, null], 2, 3, down), [false, false, false, true]);
});

test('health: `changed` is set only on a flip', () => {
  const a = applyCheck(initialHealth, 'L7STS', 1, 1);
  assert.equal(a.changed, true);
  assert.equal(applyCheck(a.state, 'L7STS', 1, 1).changed, false);
  assert.equal(a.state.lastReason, 'L7STS');
});
