import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

interface Sample { at: string; queueDepth: number; outboxBacklog: number; quarantineBytes?: number }
interface Rate { deliver: number; tag: number; quarantine: number; reject: number; total: number; seconds: number }
interface Trends {
  at: string;
  windowSeconds: number;
  stepSeconds: number;
  cluster: { throughput: Rate | null };
  nodes: { name: string; online: boolean; throughput: Rate | null; disk: { quarantineBytes: number; quarantineMaxBytes: number } | null; samples: Sample[] }[];
}

/**
 * GET /api/v1/nodes/trends (issue 20, the dashboard's "throughput now, queue and outbox depth
 * trends, disk use per node"): from a real scanner's heartbeats. A downstream that defers keeps
 * mail in the relay queue, so the queue's trend rises and, once it accepts, falls to zero.
 */
test('node trends: throughput by verdict, the relay queue rising and draining, disk use, behind a login', { timeout: 60_000 }, async (t) => {
  const downstream = await startDownstream({ data: () => ({ code: 451, text: '4.3.0 try again later' }) });
  const master = await startTestMaster();
  const scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port);
  let scannerUp = true;
  t.after(async () => {
    if (scannerUp) await scanner.close();
    await master.close();
    await downstream.close();
  });
  const api = await apiClient(master.url);
  const trends = async (query = '') => {
    const r = await api.get(`/api/v1/nodes/trends${query}`);
    assert.equal(r.status, 200, r.text);
    return r.json as Trends;
  };

  await t.test('without a session or token: 401', async () => {
    const r = await fetch(`${master.url}/api/v1/nodes/trends`);
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { code: string }).code, 'MOAT_ERR_UNAUTHENTICATED');
  });

  await t.test('a bad query is a 400 naming the field', async () => {
    for (const [query, field] of [['?minutes=0', 'query.minutes'], ['?minutes=61', 'query.minutes'], ['?windowSeconds=abc', 'query.windowSeconds'], ['?windowSeconds=5', 'query.windowSeconds']] as const) {
      const r = await api.get(`/api/v1/nodes/trends${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(r.json.code, 'MOAT_ERR_VALIDATION');
      assert.equal(r.json.details?.[0]?.field, field, `${query}: ${r.text}`);
    }
  });

  // The master has heard the scanner before any mail: the throughput's increase starts from there.
  await waitUntil(async () => ((await trends()).nodes[0]?.samples.length ?? 0) >= 1, 'a first heartbeat');
  for (let i = 0; i < 3; i++) assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `deferred ${i}` }))).code, 250);
  assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME held' }))).code, 250);

  await t.test('throughput now: messages a second by verdict, per node and for the cluster', async () => {
    let got: Trends | undefined;
    await waitUntil(async () => {
      got = await trends();
      const r = got.nodes[0]?.throughput;
      return r !== null && r !== undefined && Math.round(r.deliver * r.seconds) === 3 && Math.round(r.quarantine * r.seconds) === 1;
    }, 'the four messages counted in the throughput');
    const node = got!.nodes[0]!;
    assert.equal(node.name, 'scanner-1');
    assert.equal(got!.windowSeconds, 60);
    assert.equal(got!.stepSeconds, 1, 'two heartbeats of the test master (0.5 s)');
    assert.equal(node.throughput!.tag, 0);
    assert.ok(Math.abs(node.throughput!.total - (node.throughput!.deliver + node.throughput!.quarantine)) < 1e-9);
    assert.deepEqual(got!.cluster.throughput, node.throughput, 'one node: the cluster is that node');
  });

  await t.test('the relay queue\'s trend: deferred mail raises it, accepted mail brings it back to 0', async () => {
    // A sample that stays (not the newest, which the next heartbeat replaces) shows the three waiting.
    await waitUntil(async () => (await trends()).nodes[0]!.samples.slice(0, -1).some((s) => s.queueDepth === 3), 'the queue at 3 in the trend');
    downstream.behaviour.data = undefined;
    await downstream.waitFor(3);
    let samples: Sample[] = [];
    await waitUntil(async () => (samples = (await trends()).nodes[0]!.samples).at(-1)!.queueDepth === 0, 'the queue drained in the trend');
    assert.ok(samples.some((s) => s.queueDepth === 3), 'the history keeps the rise');
    const times = samples.map((s) => Date.parse(s.at));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');
    assert.ok(samples.every((s) => s.outboxBacklog >= 0));
    // minutes=1 answers a suffix of the same history.
    const recent = (await trends('?minutes=1')).nodes[0]!.samples;
    assert.ok(recent.length >= 1 && recent.length <= samples.length + 2);
  });

  await t.test('disk use: the held message\'s bytes in the quarantine, against its budget', async () => {
    await waitUntil(async () => ((await trends()).nodes[0]!.disk?.quarantineBytes ?? 0) > 0, 'the held message on disk');
    const node = (await trends()).nodes[0]!;
    assert.ok(node.disk!.quarantineMaxBytes >= node.disk!.quarantineBytes);
    assert.ok(node.samples.at(-1)!.quarantineBytes! > 0, 'in the samples too');
  });

  await t.test('a node that went offline has no throughput now; its history stays', async () => {
    assert.notEqual((await trends()).nodes[0]!.throughput, null);
    scannerUp = false;
    await scanner.close();
    let node: Trends['nodes'][number] | undefined;
    await waitUntil(async () => (node = (await trends()).nodes[0])!.online === false, 'the node offline');
    assert.equal(node!.throughput, null);
    assert.equal((await trends()).cluster.throughput, null, 'no node has a figure now');
    assert.ok(node!.samples.some((s) => s.queueDepth === 3), 'the last hour is kept');
  });
});
