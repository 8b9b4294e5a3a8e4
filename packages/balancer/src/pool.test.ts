import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UpstreamConfig } from './config.ts';
import { createPool, fail, pick, release, setHealthy, succeed, updateUpstream, type Pool } from './pool.ts';

function up(name: string, extra: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return { name, host: '127.0.0.1', port: 1, weight: 1, backup: false, down: false, maxFails: 1, failTimeoutMs: 10_000, maxConns: 0, ...extra };
}

/** n picks, each released at once; returns the names in order. */
function sequence(pool: Pool, n: number, now = 0): { names: string[]; pool: Pool } {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = pick(pool, new Set(), now);
    if (!r.peer) { names.push('-'); pool = r.pool; continue; }
    names.push(r.peer.name);
    pool = release(succeed(r.pool, r.peer.name), r.peer.name);
  }
  return { names, pool };
}

const sequences: Array<[weights: number[], expected: string]> = [
  [[5, 1, 1], 'aabacaa'], // nginx commit 21ad7d0
  [[1, 1, 1], 'abcabc'],
  [[3, 1, 1], 'abacaabaca'],
  [[2, 1], 'abaaba'],
  [[1], 'aaa'],
];
for (const [weights, expected] of sequences) {
  test(`swrr: weights ${weights.join(',')} → ${expected}`, () => {
    const pool = createPool(weights.map((w, i) => up(String.fromCharCode(97 + i), { weight: w })));
    assert.equal(sequence(pool, expected.length).names.join(''), expected);
  });
}

test('swrr: long-run proportions match the weights exactly', () => {
  const pool = createPool([up('a', { weight: 7 }), up('b', { weight: 2 }), up('c', { weight: 1 })]);
  const counts: Record<string, number> = {};
  for (const n of sequence(pool, 10_000).names) counts[n] = (counts[n] ?? 0) + 1;
  assert.deepEqual(counts, { a: 7000, b: 2000, c: 1000 });
});

test('pool: down and unhealthy peers get nothing', () => {
  let pool = createPool([up('a', { weight: 3 }), up('b', { down: true }), up('c')]);
  pool = setHealthy(pool, 'c', false);
  assert.deepEqual(new Set(sequence(pool, 20).names), new Set(['a']));
  pool = updateUpstream(pool, 'a', { down: true });
  assert.deepEqual(new Set(sequence(pool, 3).names), new Set(['-']));
});

test('pool: backups only when no primary is usable', () => {
  let pool = createPool([up('a'), up('b'), up('z', { backup: true })]);
  assert.ok(!sequence(pool, 50).names.includes('z'));
  pool = updateUpstream(pool, 'a', { down: true });
  assert.ok(!sequence(pool, 50).names.includes('z'), 'one primary left: still no backup');
  pool = setHealthy(pool, 'b', false);
  assert.deepEqual(new Set(sequence(pool, 5).names), new Set(['z']));
  pool = setHealthy(pool, 'b', true);
  assert.deepEqual(new Set(sequence(pool, 5).names), new Set(['b']));
});

test('pool: tried peers are skipped, then backups, then nothing', () => {
  const pool = createPool([up('a'), up('b'), up('z', { backup: true })]);
  assert.equal(pick(pool, new Set(['a']), 0).peer?.name, 'b');
  assert.equal(pick(pool, new Set(['a', 'b']), 0).peer?.name, 'z');
  assert.equal(pick(pool, new Set(['a', 'b', 'z']), 0).peer, null);
});

// Passive health windows, nginx semantics: maxFails failures within failTimeout block the peer
// for failTimeout; after it, one trial connection; a success resets, a failure blocks again.
test('passive: fail and recover windows', () => {
  let pool = createPool([up('a', { maxFails: 2, failTimeoutMs: 1000 }), up('b')]);
  const t0 = 5000;
  pool = fail(pool, 'a', t0);
  assert.ok(sequence(pool, 4, t0 + 1).names.includes('a'), 'one failure of two: still used');
  pool = fail(pool, 'a', t0 + 10);
  assert.ok(!sequence(pool, 4, t0 + 500).names.includes('a'), 'blocked inside the window');
  assert.ok(!sequence(pool, 4, t0 + 1010).names.includes('a'), 'blocked at the window edge');
  const trial = pick(pool, new Set(['b']), t0 + 1011);
  assert.equal(trial.peer?.name, 'a', 'after fail_timeout: a trial connection');
  pool = succeed(release(trial.pool, 'a'), 'a');
  assert.equal(pool.find((p) => p.name === 'a')?.fails, 0, 'success after the window resets the count');
});

test('passive: a failed trial blocks again for a whole window', () => {
  let pool = createPool([up('a', { failTimeoutMs: 1000 }), up('b')]);
  pool = fail(pool, 'a', 0);
  const trial = pick(pool, new Set(['b']), 1001);
  assert.equal(trial.peer?.name, 'a');
  pool = fail(release(trial.pool, 'a'), 'a', 1002);
  assert.equal(pick(pool, new Set(['b']), 1500).peer, null);
  assert.equal(pick(pool, new Set(['b']), 2003).peer?.name, 'a');
});

test('passive: a failure lowers the effective weight, which climbs back by one per pick', () => {
  let pool = createPool([up('a', { weight: 4, maxFails: 2, failTimeoutMs: 1 }), up('b', { weight: 4 })]);
  pool = fail(pool, 'a', 0);
  assert.equal(pool.find((p) => p.name === 'a')?.effectiveWeight, 2);
  const r = pick(pool, new Set(), 10);
  assert.equal(r.pool.find((p) => p.name === 'a')?.effectiveWeight, 3);
});

test('passive: a lone peer is never blocked by its failures (nginx single-peer rule)', () => {
  let pool = createPool([up('a')]);
  pool = fail(pool, 'a', 0);
  assert.equal(pick(pool, new Set(), 1).peer?.name, 'a');
});

test('pool: maxConns caps concurrent connections', () => {
  let pool = createPool([up('a', { maxConns: 2, weight: 10 }), up('b')]);
  const names: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = pick(pool, new Set(), 0);
    pool = r.pool;
    names.push(r.peer?.name ?? '-');
  }
  assert.equal(names.filter((n) => n === 'a').length, 2);
  pool = release(pool, 'a');
  assert.equal(pick(pool, new Set(), 0).peer?.name, 'a');
});

test('pool: updateUpstream moves a peer into and out of the backup group', () => {
  let pool = createPool([up('a'), up('b'), up('c')]);
  pool = updateUpstream(pool, 'c', { backup: true });
  assert.ok(!sequence(pool, 30).names.includes('c'), 'a backup while primaries are usable');
  pool = updateUpstream(pool, 'a', { down: true });
  pool = updateUpstream(pool, 'b', { down: true });
  assert.deepEqual(new Set(sequence(pool, 5).names), new Set(['c']));
  pool = updateUpstream(pool, 'c', { backup: false, weight: 3 });
  pool = updateUpstream(pool, 'a', { down: false });
  const names = sequence(pool, 400).names;
  // A raised weight takes effect through effectiveWeight, which climbs by one per pick (nginx).
  const c = names.filter((n) => n === 'c').length;
  assert.ok(c >= 295 && c <= 300, `c got ${c} of 400`);
  assert.deepEqual(updateUpstream(pool, 'nobody', { down: true }), pool, 'an unknown name changes nothing');
});
