import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { decideGreylist, type GreylistDecision, type Greylisting } from '@moat/rules';
import { Greylister, type AskMaster } from './greylister.ts';

const settings: Greylisting = { enabled: true, delaySeconds: 60, expirySeconds: 600, passSeconds: 3600, ipv4Prefix: 24, ipv6Prefix: 64, lookupTimeoutMs: 50 };
const triplet = { network: '192.0.2.0/24', sender: 'a@origin.test', recipient: 'u@example.test' };
const log = pino({ level: 'silent' });

function clock() {
  let t = 1_700_000_000_000;
  return { now: () => t, advance: (s: number) => (t += s * 1000) };
}

/** The master's side, kept in a map with the same state machine: what two scanners share. */
function sharedMaster(now: () => number) {
  const entries = new Map<string, GreylistDecision['entry']>();
  let calls = 0;
  const ask: AskMaster = async (t, times) => {
    calls++;
    const key = `${t.network} ${t.sender} ${t.recipient}`;
    const d = decideGreylist(times, entries.get(key), now());
    entries.set(key, d.entry);
    return d;
  };
  return { ask, calls: () => calls };
}

test('shared state: deferred on one scanner, passes on the other after the delay; a known-good triplet then passes from the cache', async () => {
  const c = clock();
  const master = sharedMaster(c.now);
  const a = new Greylister({ ask: master.ask, now: c.now, log });
  const b = new Greylister({ ask: master.ask, now: c.now, log });
  assert.deepEqual(await a.check(settings, triplet), { pass: false, retryInSeconds: 60, source: 'master' });
  c.advance(30);
  assert.deepEqual(await a.check(settings, triplet), { pass: false, retryInSeconds: 30, source: 'master' });
  c.advance(30);
  assert.deepEqual(await b.check(settings, triplet), { pass: true, retryInSeconds: 0, source: 'master' });
  const calls = master.calls();
  assert.deepEqual(await b.check(settings, triplet), { pass: true, retryInSeconds: 0, source: 'cache' });
  assert.equal(master.calls(), calls, 'a known-good triplet does not ask the master');
});

test('master down: the local table decides (same scanner passes after the delay, another scanner defers once more)', async () => {
  const c = clock();
  const down: AskMaster = () => Promise.reject(new Error('the cluster link is down'));
  const a = new Greylister({ ask: down, now: c.now, log });
  const b = new Greylister({ ask: down, now: c.now, log });
  assert.deepEqual(await a.check(settings, triplet), { pass: false, retryInSeconds: 60, source: 'local' });
  c.advance(60);
  assert.deepEqual(await b.check(settings, triplet), { pass: false, retryInSeconds: 60, source: 'local' });
  assert.deepEqual(await a.check(settings, triplet), { pass: true, retryInSeconds: 0, source: 'local' });
});

test('master slow: after lookupTimeoutMs the local table decides; what the master said before is kept', async () => {
  const c = clock();
  let answer = true;
  const master = sharedMaster(c.now);
  // Answers while `answer` is set, then never (a master that hangs; the caller's time-out fires).
  const ask: AskMaster = (t, times, timeoutMs) =>
    answer ? master.ask(t, times, timeoutMs) : new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs));
  const a = new Greylister({ ask, now: c.now, log });
  assert.equal((await a.check(settings, triplet)).source, 'master');
  answer = false;
  c.advance(61);
  assert.deepEqual(await a.check(settings, triplet), { pass: true, retryInSeconds: 0, source: 'local' }, 'the first-seen time the master gave counts locally');
});

test('stand-alone scanner (no master): local state only; the table is bounded', async () => {
  const c = clock();
  const g = new Greylister({ now: c.now, log, maxEntries: 3 });
  for (let i = 0; i < 5; i++) await g.check(settings, { ...triplet, recipient: `u${i}@example.test` });
  assert.equal(g.size, 3);
  c.advance(60);
  assert.equal((await g.check(settings, { ...triplet, recipient: 'u0@example.test' })).pass, false, 'the oldest was evicted and starts over');
  assert.equal((await g.check(settings, { ...triplet, recipient: 'u4@example.test' })).pass, true);
});
