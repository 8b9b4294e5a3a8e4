import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, test } from 'node:test';
import { encodeAdvert, configHash } from './advert.ts';
import { validateBalancerConfig, type ElectionConfig } from './config.ts';
import { startElection, type ElectionNode } from './election-node.ts';
import { memoryLog, waitFor } from './test-helpers.ts';
import { masterDownMs } from './timers.ts';

/**
 * Three election instances in one process, each on its own 127.0.0.N with UDP unicast, plus
 * an "attacker" socket on 127.0.0.4 that is a configured peer (so its packets reach the
 * HMAC and replay checks instead of the source filter).
 */
const KEY = 'test-key-0123456789abcdef';
const INTERVAL = 100;
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

async function freeUdpPorts(): Promise<number[]> {
  const socks = await Promise.all(HOSTS.map((h) => new Promise<dgram.Socket>((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, h, () => resolve(s));
  })));
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

interface Cluster {
  ports: number[];
  cfg(i: number, priority: number, preempt?: boolean): ElectionConfig;
}

async function cluster(): Promise<Cluster> {
  const ports = await freeUdpPorts();
  return {
    ports,
    cfg: (i, priority, preempt = true) => validateBalancerConfig({
      upstreams: [{ name: 'x', host: '127.0.0.1', port: 1 }],
      election: {
        nodeId: `n${i}`, vrid: 9, priority, preempt, advertIntervalMs: INTERVAL, key: KEY,
        bind: { host: HOSTS[i], port: ports[i] },
        peers: HOSTS.map((host, j) => ({ host, port: ports[j]! })).filter((_, j) => j !== i),
      },
    }).election!,
  };
}

const running = new Set<ElectionNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop({ abrupt: true })));
});

async function node(c: Cluster, i: number, priority: number, preempt = true) {
  const hooks = { master: 0, backup: 0 };
  const n = await startElection(c.cfg(i, priority, preempt), { onMaster: () => void hooks.master++, onBackup: () => void hooks.backup++ }, memoryLog());
  running.add(n);
  return Object.assign(n, { hooks });
}

const masters = (ns: ElectionNode[]) => ns.filter((n) => n.status().state === 'master').map((n) => n.status().priority);

async function oneHolder(ns: ElectionNode[], priority: number): Promise<boolean> {
  return waitFor(() => {
    const m = masters(ns);
    return m.length === 1 && m[0] === priority;
  });
}

async function stop(n: ElectionNode, abrupt: boolean) {
  await n.stop({ abrupt });
  running.delete(n);
}

test('election: 200/100/50 → one holder; kill it → 100 takes over; restart 200 → preempts back', async (t) => {
  const c = await cluster();
  const a = await node(c, 0, 200);
  const b = await node(c, 1, 100);
  const d = await node(c, 2, 50);
  assert.ok(await oneHolder([a, b, d], 200));
  assert.ok(await waitFor(() => b.status().master === '127.0.0.1' && d.status().master === '127.0.0.1'), 'backups follow the holder');
  assert.equal(a.hooks.master, 1);

  const killedAt = Date.now();
  await stop(a, true);
  assert.ok(await oneHolder([b, d], 100));
  t.diagnostic(`takeover after ${Date.now() - killedAt} ms (master-down interval of prio 100: ${masterDownMs(100, INTERVAL)} ms + one advert)`);
  assert.equal(b.status().lastTransition?.reason, 'master-down timer');
  assert.equal(d.status().state, 'backup');
  assert.ok(await waitFor(() => b.hooks.master === 1));

  const a2 = await node(c, 0, 200, true);
  assert.ok(await oneHolder([a2, b, d], 200));
  assert.ok(await waitFor(() => b.hooks.backup === 1), 'the old holder ran its backup hook');
  await stop(a2, true);
  await stop(b, true);
  await stop(d, true);
});

test('election: with preempt false a restarted 200 stays backup behind the 100', async () => {
  const c = await cluster();
  const a = await node(c, 0, 200, false);
  const b = await node(c, 1, 100, false);
  assert.ok(await oneHolder([a, b], 200));
  await stop(a, true);
  assert.ok(await oneHolder([b], 100));
  const a2 = await node(c, 0, 200, false);
  // Wait on the protocol, not the clock: 12 adverts from the holder span 4× the 200's master-down interval.
  assert.ok(await waitFor(() => a2.status().counters.received >= 12));
  assert.deepEqual(masters([a2, b]), [100]);
  assert.equal(a2.status().state, 'backup');
  assert.equal(a2.status().master, '127.0.0.2');
  await stop(a2, true);
  await stop(b, true);
});

test('election: graceful stop sends priority 0 and the best backup takes over after its skew', async (t) => {
  const c = await cluster();
  const a = await node(c, 0, 200);
  const b = await node(c, 1, 100);
  const d = await node(c, 2, 50);
  assert.ok(await oneHolder([a, b, d], 200));
  const stoppedAt = Date.now();
  await stop(a, false);
  assert.ok(await oneHolder([b, d], 100));
  t.diagnostic(`takeover after ${Date.now() - stoppedAt} ms (skew of prio 100: ${(156 * INTERVAL) / 256} ms)`);
  assert.equal(b.status().lastTransition?.reason, 'master resigned');
  await stop(b, true);
  await stop(d, true);
});

test('election: forged and replayed adverts change nothing and are counted', async () => {
  const c = await cluster();
  const attacker = dgram.createSocket('udp4');
  const captured: Buffer[] = [];
  attacker.on('message', (m, rinfo) => rinfo.address === HOSTS[0] && captured.push(m));
  await new Promise<void>((r) => attacker.bind(c.ports[3], HOSTS[3], () => r()));
  try {
    const a = await node(c, 0, 200);
    const b = await node(c, 1, 100);
    assert.ok(await oneHolder([a, b], 200));
    assert.ok(await waitFor(() => captured.length >= 3), 'captured genuine adverts of the holder');
    const send = (buf: Buffer, i: number) => new Promise<void>((r) => attacker.send(buf, c.ports[i], HOSTS[i], () => r()));

    // Forged: priority 255 from "n0", signed with the wrong key.
    const forged = encodeAdvert({ vrid: 9, priority: 255, intervalCs: 10, preempt: true, configHash: configHash(9, INTERVAL), stamp: Date.now() * 1000 + 999, nodeId: 'n9' }, 'wrong-key-0123456789abcdef');
    for (const i of [0, 1]) await send(forged, i);
    assert.ok(await waitFor(() => (a.status().counters.dropped.hmac ?? 0) >= 1 && (b.status().counters.dropped.hmac ?? 0) >= 1));

    // Replay: kill the 200, let the 100 take over, then replay the 200's captured advert at it.
    await stop(a, true);
    assert.ok(await oneHolder([b], 100));
    for (const m of captured.slice(0, 3)) await send(m, 1);
    assert.ok(await waitFor(() => (b.status().counters.dropped.replay ?? 0) >= 3, 2000), JSON.stringify(b.status().counters));
    assert.equal(b.status().state, 'master');
    assert.equal(b.status().lastTransition?.to, 'master');
    await stop(b, true);
  } finally {
    await new Promise<void>((r) => attacker.close(() => r()));
  }
});

test('election: a partition makes two holders; healing leaves exactly one', async () => {
  // A (127.0.0.1) and B (127.0.0.2) only hear each other through relays on .4 and .5, which drop
  // everything while "partitioned".
  const [pa, pb, r1, r2] = await freeUdpPorts();
  const relayA = dgram.createSocket('udp4'); // A's peer: forwards A's adverts to B
  const relayB = dgram.createSocket('udp4'); // B's peer: forwards B's adverts to A
  await new Promise<void>((r) => relayA.bind(r1, HOSTS[3], () => r()));
  await new Promise<void>((r) => relayB.bind(r2, '127.0.0.5', () => r()));
  let healed = false;
  relayA.on('message', (m) => healed && relayB.send(m, pb!, HOSTS[1]));
  relayB.on('message', (m) => healed && relayA.send(m, pa!, HOSTS[0]));
  const cfg = (i: number, priority: number, bindPort: number, peer: { host: string; port: number }): ElectionConfig => ({
    nodeId: `p${i}`, vrid: 9, priority, preempt: true, preemptDelayMs: 0, startupDelayMs: 0, advertIntervalMs: INTERVAL, key: KEY,
    replayWindowMs: 30_000, bind: { host: HOSTS[i]!, port: bindPort }, peers: [peer], track: [], hooks: { timeoutMs: 10_000 },
  });
  const hooks = { onMaster() {}, onBackup() {} };
  const a = await startElection(cfg(0, 200, pa!, { host: HOSTS[3]!, port: r1! }), hooks, memoryLog());
  const b = await startElection(cfg(1, 100, pb!, { host: '127.0.0.5', port: r2! }), hooks, memoryLog());
  running.add(a).add(b);
  try {
    assert.ok(await waitFor(() => masters([a, b]).length === 2), 'split brain while partitioned');
    healed = true;
    assert.ok(await oneHolder([a, b], 200));
    const received = b.status().counters.received;
    assert.ok(await waitFor(() => b.status().counters.received >= received + 5));
    assert.deepEqual(masters([a, b]), [200], 'still exactly one holder');
  } finally {
    await stop(a, true);
    await stop(b, true);
    await Promise.all([relayA, relayB].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
});
