import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { validateBalancerConfig } from './config.ts';
import { startElection, type ElectionNode } from './election-node.ts';
import { freePort, memoryLog, waitFor } from './test-helpers.ts';

/**
 * Multicast adverts on loopback: the group is joined on 127.0.0.1 and sent with TTL 1, so
 * nothing leaves the machine. Each node still sends from its own 127.0.0.N (the tie-break
 * address). No unicast peers at all in the first test.
 */
const KEY = 'multicast-key-0123456789';
const GROUP = '239.255.42.18';
const HOSTS = ['127.0.0.41', '127.0.0.42', '127.0.0.43'];
const running = new Set<ElectionNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop({ abrupt: true })));
});

async function start(i: number, priority: number, groupPort: number, udpPorts: number[], unicast = false): Promise<ElectionNode> {
  const cfg = validateBalancerConfig({
    upstreams: [{ name: 'x', host: '127.0.0.1', port: 1 }],
    election: {
      nodeId: `m${i}`, vrid: 5, priority, advertIntervalMs: 100, key: KEY,
      bind: { host: HOSTS[i], port: udpPorts[i] },
      peers: unicast ? HOSTS.map((host, j) => ({ host, port: udpPorts[j]! })).filter((_, j) => j !== i) : [],
      multicast: { group: GROUP, port: groupPort, interface: '127.0.0.1', ttl: 1 },
    },
  }).election!;
  const n = await startElection(cfg, {}, memoryLog());
  running.add(n);
  return n;
}

const holders = (ns: ElectionNode[]) => ns.filter((n) => n.status().state === 'master').map((n) => n.status().priority);

for (const unicast of [false, true]) {
  test(`multicast${unicast ? ' + unicast' : ' only'}: 200/100/50 elect 200; kill it → 100; restart → 200 preempts back`, async () => {
    // As in production: one port for everything (each node's own address, and the group).
    const groupPort = await freePort('127.0.0.1', true);
    const udp = HOSTS.map(() => groupPort);
    const nodes = [await start(0, 200, groupPort, udp, unicast), await start(1, 100, groupPort, udp, unicast), await start(2, 50, groupPort, udp, unicast)];
    assert.ok(await waitFor(() => holders(nodes).join() === '200'), `one holder: ${holders(nodes)}`);
    const b = nodes[1]!;
    assert.ok(await waitFor(() => b.status().counters.received >= 3), 'adverts arrive through the group');
    assert.equal(b.status().master, HOSTS[0], 'the sender address is the node\'s own 127.0.0.N');
    // Only the holder sends: its copies loop back through the group to itself and must be
    // dropped by node id (a backup, sending nothing, has nothing of its own to drop).
    const a = nodes[0]!;
    assert.ok(await waitFor(() => (a.status().counters.dropped.own ?? 0) >= 3), `the holder drops its own looped-back adverts: ${JSON.stringify(a.status().counters)}`);
    assert.ok(a.status().counters.dropped.own! <= a.status().counters.sent, 'no more own copies than it sent');

    await nodes[0]!.stop({ abrupt: true });
    running.delete(nodes[0]!);
    assert.ok(await waitFor(() => holders(nodes.slice(1)).join() === '100'), 'the 100 node takes over');
    const again = await start(0, 200, groupPort, udp, unicast);
    assert.ok(await waitFor(() => holders([again, ...nodes.slice(1)]).join() === '200'), 'preempted back');
    for (const n of [again, ...nodes.slice(1)]) {
      await n.stop({ abrupt: true });
      running.delete(n);
    }
  });
}

test('multicast: a forged advert sent to the group is dropped and counted', async () => {
  const dgram = await import('node:dgram');
  const groupPort = await freePort('127.0.0.1', true);
  const udp = await Promise.all(HOSTS.map((h) => freePort(h, true)));
  const a = await start(0, 100, groupPort, udp);
  const { encodeAdvert, configHash } = await import('./advert.ts');
  const forged = encodeAdvert({ vrid: 5, priority: 254, intervalCs: 10, preempt: true, configHash: configHash(5, 100), stamp: Date.now() * 1000, nodeId: 'evil' }, 'wrong-key-0123456789');
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.49', () => r()));
  s.setMulticastInterface('127.0.0.1');
  s.setMulticastTTL(1);
  await new Promise<void>((r) => s.send(forged, groupPort, GROUP, () => r()));
  s.close();
  assert.ok(await waitFor(() => (a.status().counters.dropped.hmac ?? 0) === 1));
  assert.ok(await waitFor(() => a.status().state === 'master'), 'the forged 254 changed nothing');
  await a.stop();
  running.delete(a);
});
