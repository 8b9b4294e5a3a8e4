import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateBalancerConfig } from './config.ts';
import { changeForMode, upstreamsForMode } from './mode.ts';
import { pick, createPool, setHealthy } from './pool.ts';

const ups = [
  { name: 'own', host: '127.0.0.1', port: 1, weight: 1 },
  { name: 'b', host: '127.0.0.1', port: 2, weight: 5 },
  { name: 'c', host: '127.0.0.1', port: 3, weight: 5 },
];

test('mode defaults to active-active and leaves the upstreams alone', () => {
  const c = validateBalancerConfig({ upstreams: ups });
  assert.equal(c.mode, 'active-active');
  assert.deepEqual(upstreamsForMode(c).map((u) => u.backup), [false, false, false]);
  assert.deepEqual(changeForMode(c, 'b', { backup: false }), { backup: false });
});

test('active-passive needs localUpstream naming an upstream', () => {
  assert.throws(() => validateBalancerConfig({ mode: 'active-passive', upstreams: ups }), /localUpstream: required when mode is active-passive/);
  assert.throws(() => validateBalancerConfig({ mode: 'active-passive', localUpstream: 'zz', upstreams: ups }), /localUpstream: no upstream named zz/);
});

test('active-passive: only the local upstream takes traffic; the others only when it is unusable', () => {
  const c = validateBalancerConfig({ mode: 'active-passive', localUpstream: 'own', upstreams: ups });
  assert.deepEqual(upstreamsForMode(c).map((u) => [u.name, u.backup]), [['own', false], ['b', true], ['c', true]]);
  let pool = createPool(upstreamsForMode(c));
  const seen: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = pick(pool, new Set(), 0);
    pool = r.pool;
    seen.push(r.peer!.name);
  }
  assert.deepEqual(new Set(seen), new Set(['own']), 'despite its weight 1 against 5 and 5');
  // The local one refused this client (the proxy then retries with it in `tried`) …
  assert.ok(['b', 'c'].includes(pick(pool, new Set(['own']), 1).peer!.name), 'a standby takes the retry');
  // … or its active check says down.
  pool = setHealthy(pool, 'own', false);
  assert.ok(['b', 'c'].includes(pick(pool, new Set(), 1).peer!.name), 'a standby takes over while own is down');
});

test('active-passive: a settings change cannot pull a standby out of the backup group', () => {
  const c = validateBalancerConfig({ mode: 'active-passive', localUpstream: 'own', upstreams: ups });
  assert.deepEqual(changeForMode(c, 'b', { backup: false, weight: 3 }), { backup: true, weight: 3 });
  assert.deepEqual(changeForMode(c, 'own', { backup: true }), { backup: true }, 'the local one follows the settings');
});

test('config: election needs peers or multicast; track names upstreams and needs active checks', () => {
  const election = { nodeId: 'n', bind: { host: '127.0.0.1', port: 1 }, key: 'k'.repeat(16) };
  assert.throws(() => validateBalancerConfig({ upstreams: ups, election }), /election.peers: give peers, multicast, or both/);
  const mc = validateBalancerConfig({ upstreams: ups, election: { ...election, multicast: { port: 5798 } } });
  assert.equal(mc.election?.multicast?.group, '224.0.0.18');
  assert.equal(mc.election?.multicast?.ttl, 1);
  assert.throws(() => validateBalancerConfig({ upstreams: ups, election: { ...election, multicast: { port: 5798, group: '10.0.0.1' } } }), /election.multicast.group/);
  const peers = [{ host: '127.0.0.2', port: 1 }];
  assert.throws(() => validateBalancerConfig({ upstreams: ups, election: { ...election, peers, track: [{ upstream: 'zz' }] } }), /election.track.0.upstream: no upstream named zz/);
  assert.throws(() => validateBalancerConfig({ upstreams: ups, election: { ...election, peers, track: [{ upstream: 'own' }] } }), /healthCheck.type: tracking an upstream needs active checks/);
  const ok = validateBalancerConfig({ upstreams: ups, healthCheck: { type: 'tcp' }, election: { ...election, peers, track: [{ upstream: 'own' }] } });
  assert.equal(ok.election?.track[0]?.weight, 0);
  assert.equal(ok.election?.hooks.timeoutMs, 10_000);
});

test('active-passive on real sockets: the holder sends every session to its own scanner; when it dies the standbys take them', async () => {
  const { startBalancer } = await import('./balancer.ts');
  const { fakeUpstream, memoryLog, smtpSession } = await import('./test-helpers.ts');
  const [own, b, c] = await Promise.all([fakeUpstream('own', 'smtp', { proxy: false }), fakeUpstream('b', 'smtp', { proxy: false }), fakeUpstream('c', 'smtp', { proxy: false })]);
  const h = await startBalancer(validateBalancerConfig({
    listen: { host: '127.0.0.100', port: 0 }, proxyProtocol: 'off', mode: 'active-passive', localUpstream: 'own',
    upstreams: [own, b, c].map((u) => ({ name: u.name, host: '127.0.0.1', port: u.port, weight: u.name === 'own' ? 1 : 5 })),
  }), { log: memoryLog() });
  try {
    const vip = h.status().listen!;
    for (let i = 0; i < 12; i++) assert.match((await smtpSession(vip.port, vip.host)).greeting, /^220 own /);
    assert.deepEqual([own.greeted, b.greeted, c.greeted], [12, 0, 0]);
    assert.equal(h.status().mode, 'active-passive');
    await own.kill();
    for (let i = 0; i < 6; i++) assert.match((await smtpSession(vip.port, vip.host)).greeting, /^220 [bc] /, 'a standby answers, the client sees no error');
    assert.equal(b.greeted + c.greeted, 6);
  } finally {
    await h.close();
    await Promise.all([b.kill(), c.kill()]);
  }
});
