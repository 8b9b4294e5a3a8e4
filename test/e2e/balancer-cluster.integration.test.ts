import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { freePort } from '../helpers/ports.ts';
import { waitUntil } from '../helpers/wait.ts';

const VIRTUAL_HOST = '127.0.0.100';
const BALANCER_SOURCE = '127.0.0.3';
const CLIENT = '127.0.0.5';

const nodeOf = (raw: Buffer): string => /^X-Moat-Node: (\S+)/m.exec(raw.toString('latin1'))?.[1] ?? '?';

/**
 * Two scanners joined to a master, each with an embedded balancer electing the holder of one
 * virtual address: the master's per-node settings drain a node, and each node's balancer
 * status reaches `GET /api/v1/nodes` through the heartbeat.
 */
test('cluster settings from the master drain a node at the balancer; balancer status on GET /api/v1/nodes', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const [pa, pb, vport, ua, ub] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const upstreams = [
    { name: 'scanner-a', host: '127.0.0.1', port: pa },
    { name: 'scanner-b', host: '127.0.0.1', port: pb },
  ];
  const balancer = (nodeId: string, priority: number, bind: { host: string; port: number }, peer: { host: string; port: number }) => ({
    listen: { host: VIRTUAL_HOST, port: vport },
    sourceAddress: BALANCER_SOURCE,
    upstreams,
    healthCheck: { type: 'smtp', intervalMs: 200, rise: 1, fall: 1 },
    election: { nodeId, priority, advertIntervalMs: 100, bind, peers: [peer], key: 'balancer-test-key-0123456789' },
  });
  const a = await startClusterScanner('scanner-a', master.wsUrl, downstream.port, {
    port: pa, trustedProxies: [BALANCER_SOURCE], balancer: balancer('scanner-a', 200, { host: '127.0.0.1', port: ua }, { host: '127.0.0.2', port: ub }),
  });
  const b = await startClusterScanner('scanner-b', master.wsUrl, downstream.port, {
    port: pb, trustedProxies: [BALANCER_SOURCE], balancer: balancer('scanner-b', 100, { host: '127.0.0.2', port: ub }, { host: '127.0.0.1', port: ua }),
  });
  try {
    const api = await apiClient(master.url);
    await waitUntil(() => a.balancer!.status().holder && b.balancer!.status().election?.state === 'backup', 'scanner-a holds the virtual address');

    // Status API on the master: each node's latest heartbeat report.
    type NodeView = { name: string; balancer?: { holder: boolean; listen: string | null; election: { state: string; priority: number } | null; upstreams: { name: string; down: boolean; usable: boolean; weight: number; activeConns: number }[]; reportedAt: string } };
    const nodes = async () => new Map(((await api.get('/api/v1/nodes')).json.items as NodeView[]).map((n) => [n.name, n]));
    await waitUntil(async () => {
      const n = await nodes();
      return n.get('scanner-a')?.balancer?.holder === true && n.get('scanner-b')?.balancer?.election?.state === 'backup';
    }, 'balancer status on the master');
    const view = await nodes();
    const ra = view.get('scanner-a')!.balancer!;
    assert.equal(ra.listen, `${VIRTUAL_HOST}:${vport}`);
    assert.deepEqual(ra.election && { state: ra.election.state, priority: ra.election.priority }, { state: 'master', priority: 200 });
    assert.deepEqual(ra.upstreams.map((u) => [u.name, u.usable, u.down, u.weight]), [['scanner-a', true, false, 1], ['scanner-b', true, false, 1]]);
    assert.ok(!Number.isNaN(Date.parse(ra.reportedAt)));
    const rb = view.get('scanner-b')!.balancer!;
    assert.equal(rb.holder, false);
    assert.equal(rb.listen, null);
    assert.equal(rb.election?.priority, 100);

    // The same state as Prometheus metrics on the master.
    const metrics = (await api.get('/metrics')).text;
    assert.match(metrics, /^moat_balancer_holder\{node="scanner-a"\} 1$/m);
    assert.match(metrics, /^moat_balancer_holder\{node="scanner-b"\} 0$/m);
    assert.match(metrics, /^moat_balancer_election_state\{node="scanner-b",state="backup"\} 1$/m);
    assert.match(metrics, /^moat_balancer_upstream_healthy\{node="scanner-a",upstream="scanner-b"\} 1$/m);

    const sendBatch = async (n: number, tag: string): Promise<Map<string, number>> => {
      const before = downstream.received.length;
      for (let i = 0; i < n; i++) {
        const r = await sendMail(vport, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `${tag}-${i}` }), VIRTUAL_HOST, { localAddress: CLIENT });
        assert.equal(r.code, 250, r.response);
      }
      await downstream.waitFor(before + n);
      const counts = new Map<string, number>();
      for (const m of downstream.received.slice(before)) counts.set(nodeOf(m.raw), (counts.get(nodeOf(m.raw)) ?? 0) + 1);
      return counts;
    };

    // Equal weights: both carry mail, and each sees the real client address.
    const even = await sendBatch(10, 'even');
    assert.deepEqual(even, new Map([['scanner-a', 5], ['scanner-b', 5]]));
    assert.ok(downstream.received.every((m) => m.raw.toString('latin1').includes(`[${CLIENT}]`)), 'Received header names the real client');

    // Drain scanner-b from the master: no new connections go there; scanner-a carries them all.
    const drain = await api.put('/api/v1/rules', { ...BASE_RULES, nodes: { 'scanner-b': { maintenance: true } } });
    assert.equal(drain.status, 200, drain.text);
    await waitUntil(() => a.balancer!.status().upstreams.find((u) => u.name === 'scanner-b')?.down === true, 'scanner-b drained at the holder');
    assert.ok(b.balancer!.status().upstreams.find((u) => u.name === 'scanner-b')?.down, 'and at the standby, ready for a takeover');
    assert.deepEqual(await sendBatch(12, 'drained'), new Map([['scanner-a', 12]]));
    await waitUntil(async () => (await nodes()).get('scanner-a')?.balancer?.upstreams.find((u) => u.name === 'scanner-b')?.down === true, 'the drain shows on the master');

    // Weights: 3 to 1.
    const weigh = await api.put('/api/v1/rules', { ...BASE_RULES, nodes: { 'scanner-a': { weight: 1 }, 'scanner-b': { weight: 3 } } });
    assert.equal(weigh.status, 200, weigh.text);
    await waitUntil(() => a.balancer!.status().upstreams.find((u) => u.name === 'scanner-b')?.weight === 3 && !a.balancer!.status().upstreams.find((u) => u.name === 'scanner-b')?.down, 'new weights at the holder');
    const weighted = await sendBatch(40, 'weighted');
    // The raised weight ramps up through nginx's effective weight, so allow one pick of slack.
    assert.ok(Math.abs((weighted.get('scanner-b') ?? 0) - 30) <= 2, `3:1 split, got ${JSON.stringify([...weighted])}`);
  } finally {
    await b.close();
    await a.close();
    await master.close();
    await downstream.close();
  }
});
