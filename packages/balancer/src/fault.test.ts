import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  effectivePriority, enterFault, fireTimers, leaveFault, nextDeadline, priorityChanged, receive, shutdown, startup,
  type Election, type ElectionParams,
} from './election.ts';
import { masterDownMs } from './timers.ts';

// FAULT and trackers (keepalived semantics on top of RFC 5798), on a fake clock.
const base: ElectionParams = { priority: 100, preempt: true, preemptDelayMs: 0, advertIntervalMs: 1000, self: '127.0.0.2' };
const p = (o: Partial<ElectionParams> = {}): ElectionParams => ({ ...base, ...o });
const T0 = 10_000;

const backup = (params = base): Election => startup(params, T0).election;
const master = (params = base): Election => {
  const e = backup(params);
  return fireTimers(e, params, e.masterDownAt!).election;
};

test('effectivePriority: failed negative weights lower the priority, kept within 1…254', () => {
  assert.deepEqual(effectivePriority(100, []), { priority: 100, fault: false });
  assert.deepEqual(effectivePriority(100, [{ weight: -30, ok: false }, { weight: -20, ok: true }]), { priority: 70, fault: false });
  assert.deepEqual(effectivePriority(100, [{ weight: -80, ok: false }, { weight: -80, ok: false }]), { priority: 1, fault: false });
  assert.deepEqual(effectivePriority(254, [{ weight: -10, ok: true }]), { priority: 254, fault: false });
});

test('effectivePriority: a failed weight-0 tracker means fault; an owner keeps 255 but still faults', () => {
  assert.deepEqual(effectivePriority(100, [{ weight: 0, ok: false }]), { priority: 100, fault: true });
  assert.deepEqual(effectivePriority(100, [{ weight: 0, ok: true }]), { priority: 100, fault: false });
  assert.deepEqual(effectivePriority(255, [{ weight: -50, ok: false }]), { priority: 255, fault: false });
  assert.deepEqual(effectivePriority(255, [{ weight: 0, ok: false }]), { priority: 255, fault: true });
});

test('master → fault: resigns with a priority-0 advert and drops every timer', () => {
  const s = enterFault(master(), base, T0 + 5000, 'tracked check failed: s-a');
  assert.equal(s.election.state, 'fault');
  assert.deepEqual(s.actions, [
    { type: 'send', priority: 0 },
    { type: 'transition', from: 'master', to: 'fault', reason: 'tracked check failed: s-a' },
  ]);
  assert.equal(nextDeadline(s.election), null);
  assert.equal(s.election.master, null);
});

test('backup → fault: no advert (a backup sends none), no timer', () => {
  const s = enterFault(backup(), base, T0 + 10, 'x');
  assert.equal(s.election.state, 'fault');
  assert.deepEqual(s.actions, [{ type: 'transition', from: 'backup', to: 'fault', reason: 'x' }]);
  assert.equal(nextDeadline(s.election), null);
});

test('fault again, or from init: nothing happens', () => {
  const f = enterFault(backup(), base, T0, 'x').election;
  assert.deepEqual(enterFault(f, base, T0 + 1, 'y'), { election: f, actions: [] });
  const init = shutdown(backup(), base, T0).election;
  assert.deepEqual(enterFault(init, base, T0 + 1, 'y').actions, []);
});

test('in fault, adverts are discarded and never make us master', () => {
  const f = enterFault(backup(), base, T0, 'x').election;
  const s = receive(f, base, { priority: 50, intervalMs: 1000, from: '127.0.0.9' }, T0 + 1);
  assert.equal(s.election.state, 'fault');
  assert.deepEqual(s.actions, [{ type: 'discard', reason: 'in fault' }]);
  assert.equal(fireTimers(f, base, T0 + 1_000_000).election.state, 'fault');
});

test('fault → backup when the trackers recover, with a fresh Master_Down_Interval', () => {
  const f = enterFault(master(), base, T0, 'x').election;
  const s = leaveFault(f, base, T0 + 7000, 'tracked checks recovered');
  assert.equal(s.election.state, 'backup');
  assert.equal(s.election.masterDownAt, T0 + 7000 + masterDownMs(100, 1000));
  assert.deepEqual(s.actions, [{ type: 'transition', from: 'fault', to: 'backup', reason: 'tracked checks recovered' }]);
  assert.deepEqual(leaveFault(s.election, base, T0 + 7001, 'again').actions, [], 'only from fault');
});

test('fault → master at once for the owner (255)', () => {
  const owner = p({ priority: 255 });
  const f = enterFault(startup(owner, T0).election, owner, T0 + 1, 'x').election;
  const s = leaveFault(f, owner, T0 + 2, 'ok');
  assert.equal(s.election.state, 'master');
  assert.deepEqual(s.actions[0], { type: 'send', priority: 255 });
});

test('a master whose priority drops advertises the new one at once; a better backup with preempt then takes over', () => {
  const m = master(p({ priority: 200, self: '127.0.0.1' }));
  const lowered = p({ priority: 150, self: '127.0.0.1' });
  const s = priorityChanged(m, lowered, T0 + 9000);
  assert.deepEqual(s.actions, [{ type: 'send', priority: 150 }]);
  assert.equal(s.election.adverAt, T0 + 9000 + 1000);
  // The 180 backup discards the 150 advert (preempt), so its master-down timer runs out.
  const b = backup(p({ priority: 180 }));
  const r = receive(b, p({ priority: 180 }), { priority: 150, intervalMs: 1000, from: '127.0.0.1' }, T0 + 9000);
  assert.equal(r.election.masterDownAt, b.masterDownAt, 'timer not reset');
  assert.equal(fireTimers(r.election, p({ priority: 180 }), b.masterDownAt!).election.state, 'master');
  // … and when the 180 master's advert reaches the lowered master, it steps down.
  const down = receive(s.election, lowered, { priority: 180, intervalMs: 1000, from: '127.0.0.2' }, T0 + 12_000);
  assert.equal(down.election.state, 'backup');
});

test('a backup whose priority changes sends nothing', () => {
  assert.deepEqual(priorityChanged(backup(), p({ priority: 60 }), T0 + 1).actions, []);
});

test('shutdown from fault: straight to init, no advert', () => {
  const f = enterFault(backup(), base, T0, 'x').election;
  const s = shutdown(f, base, T0 + 1);
  assert.equal(s.election.state, 'init');
  assert.deepEqual(s.actions, [{ type: 'transition', from: 'fault', to: 'init', reason: 'shutdown' }]);
});
