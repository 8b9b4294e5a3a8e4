import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planOutcome } from './outcome.ts';

const policy = { baseMs: 1000, maxMs: 8000, maxAgeMs: 60_000 };
const entry = { createdAt: 0, attempts: 0 };

test('all accepted: delivered, nothing else', () => {
  const o = planOutcome({ accepted: ['a@x'], refused: [] }, entry, policy, 10, () => 0.5);
  assert.deepEqual([o.delivered, o.deferred, o.bounced], [['a@x'], [], []]);
});

test('5xx bounces with the enhanced code from the reply, 4xx and connection errors defer', () => {
  const o = planOutcome(
    { accepted: [], refused: [
      { address: 'a@x', code: 550, text: '550 5.1.1 no such user' },
      { address: 'b@x', code: 451, text: '451 4.3.0 try later' },
      { address: 'c@x', text: 'connect ECONNREFUSED' },
    ] },
    entry, policy, 10, () => 0.5,
  );
  assert.deepEqual(o.bounced, [{ address: 'a@x', status: '5.1.1', diagnostic: '550 5.1.1 no such user' }]);
  assert.deepEqual(o.deferred, ['b@x', 'c@x']);
  assert.equal(o.nextAttemptAt, 10 + 1000);
});

test('backoff doubles up to the maximum, jitter stays within ±20%', () => {
  const at = (attempts: number, r: number) => planOutcome({ accepted: [], refused: [{ address: 'a@x', text: 'x' }] }, { createdAt: 0, attempts }, policy, 0, () => r).nextAttemptAt;
  assert.equal(at(1, 0.5), 2000);
  assert.equal(at(2, 0.5), 4000);
  assert.equal(at(10, 0.5), 8000);
  assert.equal(at(0, 0), 800);
  assert.equal(at(0, 1), 1200);
});

test('past the maximum queue age a temporary failure bounces as expired', () => {
  const o = planOutcome({ accepted: [], refused: [{ address: 'a@x', code: 421, text: 'busy' }] }, entry, policy, 60_000);
  assert.equal(o.deferred.length, 0);
  assert.equal(o.bounced[0]?.status, '4.4.7');
});
