import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, test } from 'node:test';
import { validateBalancerConfig } from './config.ts';
import { startElection, type ElectionNode, type TransitionInfo } from './election-node.ts';
import { freePort, memoryLog, waitFor } from './test-helpers.ts';

/**
 * Unicast adverts over IPv6: every node on ::1 (loopback has only that one IPv6 address, so
 * the nodes differ by port), peers written in two spellings of the same address. The restarted
 * 200 node has a start-up delay: it must hear the current holder before it takes over.
 */
const KEY = 'ipv6-key-0123456789abcdef';
const INTERVAL = 100;

/** Why ::1 cannot be bound here (no IPv6 on loopback), or undefined when it can. */
async function noIpv6Loopback(): Promise<string | undefined> {
  const s = dgram.createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '::1', () => resolve());
    });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    s.close();
  }
}

/**
 * A machine without IPv6 on loopback skips this test; CI sets MOAT_REQUIRE_IPV6=1 (.ci/run),
 * where that fails instead, so the IPv6 path cannot go untested unnoticed.
 */
const REQUIRE_IPV6 = process.env['MOAT_REQUIRE_IPV6'] === '1';

const running = new Set<ElectionNode>();
after(async () => {
  await Promise.all([...running].map((n) => n.stop({ abrupt: true })));
});

test('IPv6 unicast: 200/100 elect 200; kill it → 100; restart with a start-up delay → listens first, then preempts', async (t) => {
  const missing = await noIpv6Loopback();
  if (missing !== undefined) {
    assert.ok(!REQUIRE_IPV6, `MOAT_REQUIRE_IPV6=1 but ::1 cannot be bound: ${missing}`);
    return t.skip(`no IPv6 on loopback (${missing})`);
  }
  const ports = [await freePort('::1', true), await freePort('::1', true)];
  const spell = ['::1', '0:0:0:0:0:0:0:1'];
  const start = async (i: number, priority: number, startupDelayMs = 0, transitions: Array<TransitionInfo & { received: number }> = []) => {
    const cfg = validateBalancerConfig({
      upstreams: [{ name: 'x', host: '127.0.0.1', port: 1 }],
      election: {
        nodeId: `v6-${i}`, vrid: 6, priority, advertIntervalMs: INTERVAL, key: KEY, startupDelayMs,
        bind: { host: '::1', port: ports[i] },
        peers: [{ host: spell[i]!, port: ports[1 - i]! }],
      },
    }).election!;
    const n: ElectionNode = await startElection(cfg, { onTransition: (x) => void transitions.push({ ...x, received: n.status().counters.received }) }, memoryLog());
    running.add(n);
    return n;
  };
  const holders = (ns: ElectionNode[]) => ns.filter((n) => n.status().state === 'master').map((n) => n.status().priority);

  const a = await start(0, 200);
  const b = await start(1, 100);
  assert.ok(await waitFor(() => holders([a, b]).join() === '200'), `one holder: ${holders([a, b])}`);
  assert.ok(await waitFor(() => b.status().counters.received >= 3 && b.status().master === '::1'), 'adverts arrive over IPv6');
  assert.deepEqual(b.status().counters.dropped, {}, 'the peer filter matches whatever spelling the config used');

  await a.stop({ abrupt: true });
  running.delete(a);
  assert.ok(await waitFor(() => holders([b]).join() === '100'), 'the 100 node takes over');

  const transitions: Array<TransitionInfo & { received: number }> = [];
  // The delay is many master-down intervals (≈ 0.36 s) long: without it the node would preempt much sooner.
  const delay = 12 * INTERVAL;
  const a2 = await start(0, 200, delay, transitions);
  assert.ok(await waitFor(() => a2.status().counters.received >= 3), 'the restarted node hears the holder');
  assert.equal(a2.status().state, 'backup', 'still holding back');
  assert.ok(await waitFor(() => holders([a2, b]).join() === '200'), 'preempts once the delay is over');
  const toMaster = transitions.find((x) => x.to === 'master');
  assert.ok(toMaster, JSON.stringify(transitions));
  // Adverts come every 100 ms: a node that waited the 1.2 s delay heard several before taking over.
  assert.ok(toMaster.received >= 5, `adverts heard before taking over: ${toMaster.received}`);
  assert.deepEqual(transitions[0], { from: 'init', to: 'backup', reason: `startup (delay ${delay} ms)`, priority: 200, received: 0 });
  for (const n of [a2, b]) {
    await n.stop({ abrupt: true });
    running.delete(n);
  }
});
