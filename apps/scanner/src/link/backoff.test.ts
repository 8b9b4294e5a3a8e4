import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconnectDelay } from './backoff.ts';

test('reconnect delay grows exponentially within jitter bounds and caps', () => {
  assert.equal(reconnectDelay(0, 500, 30_000, () => 0), 250);
  assert.equal(reconnectDelay(0, 500, 30_000, () => 1), 500);
  assert.equal(reconnectDelay(3, 500, 30_000, () => 1), 4000);
  assert.equal(reconnectDelay(20, 500, 30_000, () => 1), 30_000);
  assert.equal(reconnectDelay(1000, 500, 30_000, () => 0.5), 15_125);
});
