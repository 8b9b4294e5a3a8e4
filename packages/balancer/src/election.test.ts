import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareAddress, fireTimers, ipv6ToBigInt, nextDeadline, receive, shutdown, startup, type Election, type ElectionParams } from './election.ts';
import { masterDownMs, skewMs } from './timers.ts';

// One test per RFC 5798 §6.4 transition, on a fake clock (plain numbers).
const base: ElectionParams = { priority: 100, preempt: true, preemptDelayMs: 0, advertIntervalMs: 1000, self: '127.0.0.2' };
const p = (o: Partial<ElectionParams> = {}): ElectionParams => ({ ...base, ...o });
const T0 = 10_000;

function backup(params = base, at = T0): Election {
  return startup(params, at).election;
}
function master(params = base, at = T0): Election {
  const e = backup(params, at);
  return fireTimers(e, params, e.masterDownAt ?? 0).election;
}

test('6.4.1: the owner (255) becomes master at once and advertises', () => {
  const s = startup(p({ priority: 255 }), T0);
  assert.equal(s.election.state, 'master');
  assert.deepEqual(s.actions[0], { type: 'send', priority: 255 });
  assert.equal(nextDeadline(s.election), T0 + 1000);
});

test('6.4.1: a non-owner starts as backup with Master_Down_Timer = Master_Down_Interval', () => {
  const s = startup(base, T0);
  assert.equal(s.election.state, 'backup');
  assert.equal(s.election.masterDownAt, T0 + masterDownMs(100, 1000));
  assert.deepEqual(s.actions, [{ type: 'transition', from: 'init', to: 'backup', reason: 'startup' }]);
});

test('6.4.2 (370–410): Master_Down_Timer fires → advertise and become master', () => {
  const e = backup();
  assert.equal(fireTimers(e, base, (e.masterDownAt ?? 0) - 1).election.state, 'backup', 'not before the deadline');
  const s = fireTimers(e, base, e.masterDownAt ?? 0);
  assert.equal(s.election.state, 'master');
  assert.deepEqual(s.actions[0], { type: 'send', priority: 100 });
});

test('6.4.2 (425–430): a priority-0 advert sets Master_Down_Timer to Skew_Time', () => {
  const s = receive(backup(), base, { priority: 0, intervalMs: 1000, from: '127.0.0.1' }, T0 + 50);
  assert.equal(s.election.masterDownAt, T0 + 50 + skewMs(100, 1000));
  const t = fireTimers(s.election, base, s.election.masterDownAt ?? 0);
  assert.equal(t.election.state, 'master');
  assert.deepEqual(t.actions[1], { type: 'transition', from: 'backup', to: 'master', reason: 'master resigned' });
});

test('6.4.2 (445–460): an advert of higher or equal priority resets the timer with its interval', () => {
  for (const prio of [100, 200]) {
    const s = receive(backup(), base, { priority: prio, intervalMs: 500, from: '127.0.0.1' }, T0 + 1000);
    assert.equal(s.election.masterAdverIntervalMs, 500);
    assert.equal(s.election.masterDownAt, T0 + 1000 + masterDownMs(100, 500));
    assert.equal(s.election.master, '127.0.0.1');
  }
});

test('6.4.2 (465–470): preempt on, lower priority advert → discarded, the timer runs out', () => {
  const e = backup();
  const s = receive(e, base, { priority: 50, intervalMs: 1000, from: '127.0.0.3' }, T0 + 1000);
  assert.equal(s.election.masterDownAt, e.masterDownAt);
  assert.equal(s.actions[0]?.type, 'discard');
});

test('6.4.2 (445): preempt off, a lower priority advert is accepted', () => {
  const params = p({ preempt: false });
  const s = receive(backup(params), params, { priority: 50, intervalMs: 1000, from: '127.0.0.3' }, T0 + 1000);
  assert.equal(s.election.masterDownAt, T0 + 1000 + masterDownMs(100, 1000));
});

test('preemptDelay: lower priority adverts are accepted while the delay runs, not after', () => {
  const params = p({ preemptDelayMs: 5000 });
  const adv = { priority: 50, intervalMs: 1000, from: '127.0.0.3' };
  assert.equal(receive(backup(params), params, adv, T0 + 4000).actions.length, 0);
  assert.equal(receive(backup(params), params, adv, T0 + 5000).actions[0]?.type, 'discard');
});

test('6.4.3 (685–690): Adver_Timer fires → advert and reset', () => {
  const e = master();
  const s = fireTimers(e, base, e.adverAt ?? 0);
  assert.deepEqual(s.actions, [{ type: 'send', priority: 100 }]);
  assert.equal(s.election.adverAt, (e.adverAt ?? 0) + 1000);
});

test('6.4.3 (705–715): master gets a priority-0 advert → advertises at once', () => {
  const s = receive(master(), base, { priority: 0, intervalMs: 1000, from: '127.0.0.1' }, T0 + 4000);
  assert.deepEqual(s.actions, [{ type: 'send', priority: 100 }]);
  assert.equal(s.election.state, 'master');
});

test('6.4.3 (725–765): master gets a higher priority advert → backup', () => {
  const s = receive(master(), base, { priority: 200, intervalMs: 1000, from: '127.0.0.1' }, T0 + 4000);
  assert.equal(s.election.state, 'backup');
  assert.equal(s.election.masterDownAt, T0 + 4000 + masterDownMs(100, 1000));
  assert.equal(s.actions.at(-1)?.type, 'transition');
});

test('6.4.3 (730): equal priority, the higher sender address wins', () => {
  const higher = receive(master(), base, { priority: 100, intervalMs: 1000, from: '127.0.0.3' }, T0 + 4000);
  assert.equal(higher.election.state, 'backup');
  const lower = receive(master(), base, { priority: 100, intervalMs: 1000, from: '127.0.0.1' }, T0 + 4000);
  assert.equal(lower.election.state, 'master');
});

test('6.4.3 (775): master gets a lower priority advert → stays master, advertises at once', () => {
  const s = receive(master(), base, { priority: 50, intervalMs: 1000, from: '127.0.0.3' }, T0 + 4000);
  assert.equal(s.election.state, 'master');
  assert.ok(s.actions.some((a) => a.type === 'send'));
});

test('6.4.3 (660–670): a master shuts down with a priority-0 advert', () => {
  const s = shutdown(master(), base, T0 + 5000);
  assert.equal(s.election.state, 'init');
  assert.deepEqual(s.actions[0], { type: 'send', priority: 0 });
  assert.equal(nextDeadline(s.election), null);
});

test('6.4.2 (350–355): a backup shuts down silently', () => {
  const s = shutdown(backup(), base, T0 + 5);
  assert.equal(s.election.state, 'init');
  assert.ok(!s.actions.some((a) => a.type === 'send'));
});

test('a 3-node race: the highest priority backup times out first and wins', () => {
  const nodes = [200, 100, 50].map((priority, i) => p({ priority, self: `127.0.0.${i + 1}` }));
  const deadlines = nodes.map((n) => backup(n).masterDownAt ?? Infinity);
  assert.ok(deadlines[0]! < deadlines[1]! && deadlines[1]! < deadlines[2]!);
});

test('compareAddress orders IPv4 numerically', () => {
  assert.ok(compareAddress('127.0.0.10', '127.0.0.9') > 0);
  assert.ok(compareAddress('::ffff:10.0.0.1', '9.255.255.255') > 0);
  assert.equal(compareAddress('127.0.0.1', '127.0.0.1'), 0);
});

test('compareAddress orders IPv6 numerically, whatever the spelling', () => {
  assert.ok(compareAddress('fd00::10', 'fd00::9') > 0);
  assert.ok(compareAddress('fd00::1:0', 'fd00::ffff') > 0, 'numeric, not text');
  assert.equal(compareAddress('0:0:0:0:0:0:0:1', '::1'), 0);
  assert.ok(compareAddress('::ffff:10.0.0.2', '::ffff:a00:1') > 0, 'a dotted tail is parsed');
  assert.equal(ipv6ToBigInt('fd00::2'), (0xfd00n << 112n) | 2n);
  for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%lo', 'g::1']) assert.equal(ipv6ToBigInt(bad), null, bad);
});

test('startup delay: a node stays backup until the delay is over, even when its master-down timer ran out', () => {
  const params = p({ startupDelayMs: 8000 });
  const s = startup(params, T0);
  assert.equal(s.election.state, 'backup');
  assert.equal(s.election.holdUntil, T0 + 8000);
  assert.equal(nextDeadline(s.election), T0 + 8000, 'the later of master-down (3.6 s) and the delay');
  assert.equal(fireTimers(s.election, params, T0 + masterDownMs(100, 1000)).election.state, 'backup');
  assert.equal(fireTimers(s.election, params, T0 + 8000).election.state, 'master');
});

test('startup delay: a holder heard during the delay is followed, so the restarting node never takes over', () => {
  const params = p({ startupDelayMs: 8000, preempt: false });
  let e = startup(params, T0).election;
  for (let t = T0 + 1000; t <= T0 + 20_000; t += 1000) {
    assert.equal(fireTimers(e, params, t).election.state, 'backup', `at +${t - T0} ms`);
    e = receive(e, params, { priority: 50, intervalMs: 1000, from: '127.0.0.9' }, t).election;
  }
  assert.equal(e.master, '127.0.0.9');
});

test('startup delay: a resigning master (priority 0) is taken over only after the delay', () => {
  const params = p({ startupDelayMs: 8000 });
  const e = receive(startup(params, T0).election, params, { priority: 0, intervalMs: 1000, from: '127.0.0.9' }, T0 + 100).election;
  assert.equal(nextDeadline(e), T0 + 8000);
  assert.equal(fireTimers(e, params, T0 + 8000).actions.at(-1)?.type, 'transition');
});

test('startup delay: the owner (255) also waits, then becomes master and preempts a lower holder', () => {
  const params = p({ priority: 255, startupDelayMs: 3000 });
  const s = startup(params, T0);
  assert.equal(s.election.state, 'backup');
  assert.ok(!s.actions.some((a) => a.type === 'send'), 'no advert while holding');
  const heard = receive(s.election, params, { priority: 100, intervalMs: 1000, from: '127.0.0.9' }, T0 + 500);
  assert.equal(heard.actions[0]?.type, 'discard', 'preempt: the weaker holder is discarded');
  const t = fireTimers(heard.election, params, T0 + 3000);
  assert.equal(t.election.state, 'master');
  assert.deepEqual(t.actions[1], { type: 'transition', from: 'backup', to: 'master', reason: 'owner' });
  assert.equal(startup(p({ priority: 255 }), T0).election.state, 'master', 'without a delay: master at once');
});
