import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveryStatus } from '@moat/protocol';
import { foldDelivery, dsnStatus, type DeliveryState } from './delivery-state.ts';

const start: DeliveryState = { status: 'queued', attempts: 0, lastAttemptAt: null, delivered: [], deferred: [], bounced: [], detail: '' };
const ev = (attempt: number, delivered: string[], deferred: string[], bounced: string[]): DeliveryStatus => ({
  id: 'a'.repeat(20), kind: 'message', delivered, deferred, bounced, detail: `attempt ${attempt}`, attempt, at: attempt * 1000,
});

test('foldDelivery derives the status from every attempt, in any order', () => {
  const a1 = ev(1, ['a@x.test'], ['B@x.test'], []);
  const a2 = ev(2, [], [], ['b@x.test']);
  for (const order of [[a1, a2], [a2, a1]]) {
    const s = order.reduce(foldDelivery, start);
    assert.equal(s.status, 'partially-bounced');
    assert.equal(s.attempts, 2);
    assert.equal(s.detail, 'attempt 2');
    assert.equal(s.lastAttemptAt, 2000);
    assert.deepEqual(s.deferred, []);
    assert.deepEqual(s.bounced, ['b@x.test']);
  }
});

test('foldDelivery: table of outcomes', () => {
  const cases: [DeliveryStatus[], string][] = [
    [[ev(1, ['a@x.test'], [], [])], 'delivered'],
    [[ev(1, [], ['a@x.test'], [])], 'deferred'],
    [[ev(1, [], ['a@x.test'], []), ev(2, ['a@x.test'], [], [])], 'delivered'],
    [[ev(1, [], [], ['a@x.test'])], 'bounced'],
    [[ev(2, ['a@x.test'], [], []), ev(1, [], ['a@x.test'], [])], 'delivered'],
  ];
  for (const [events, status] of cases) assert.equal(events.reduce(foldDelivery, start).status, status);
});

test('dsnStatus', () => {
  assert.equal(dsnStatus({ ...ev(1, ['s@y.test'], [], []), kind: 'dsn' }), 'delivered');
  assert.equal(dsnStatus({ ...ev(1, [], ['s@y.test'], []), kind: 'dsn' }), 'deferred');
  assert.equal(dsnStatus({ ...ev(1, [], [], ['s@y.test']), kind: 'dsn' }), 'bounced');
});
