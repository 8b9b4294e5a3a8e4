import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, registerTestMaster, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { startPartitionProxy } from '../helpers/partition-proxy.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * Issue 18: a silent link (a partition: no FIN, no RST) is noticed only through heartbeats,
 * and no test covered it. The scanner's link goes through a proxy that stops forwarding
 * without closing anything. Both ends must notice on their own (nothing tells either): the
 * master marks the node offline after `cluster.offlineAfterMissed` missed heartbeats (its
 * liveness check), the scanner drops the link after three heartbeat intervals of silence
 * and dials again; once the path heals, the node is back. Test master: heartbeats every
 * 0.5 s, offline after 3 missed, so each end notices within about 2 s (docs/cluster.md).
 */
test('a silent partition of the cluster link is noticed by both ends through missed heartbeats; the node is back once it heals', { timeout: 120_000 }, async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const proxy = await startPartitionProxy(master.port);
  const viaProxy = `ws://127.0.0.1:${proxy.port}/cluster`;
  registerTestMaster(viaProxy, master); // the scanner's join token comes from the master behind the proxy
  const scanner = await startClusterScanner('silent-1', viaProxy, downstream.port);
  const api = await apiClient(master.url);
  const online = async () => (await api.get('/api/v1/nodes')).json.items.find((n: { name: string }) => n.name === 'silent-1')?.online as boolean | undefined;
  try {
    await waitUntil(async () => (await online()) === true && scanner.link?.isConnected, 'the scanner online through the proxy');
    const before = (await api.get('/metrics')).text;

    proxy.partition();
    // The master: no close ever arrives; only its missed-heartbeat check can take the node offline.
    await waitUntil(async () => (await online()) === false, 'the master marking the node offline (missed heartbeats)');
    // The scanner: nothing arrives either; it must give up the link itself.
    await waitUntil(() => scanner.link?.isConnected === false, 'the scanner dropping the silent link');
    assert.match(before, /moat_node_online\{node="silent-1"\} 1/);
    assert.match((await api.get('/metrics')).text, /moat_node_online\{node="silent-1"\} 0/);

    proxy.heal();
    await waitUntil(async () => (await online()) === true && scanner.link?.isConnected, 'the node back online after the partition heals', 30_000);
  } finally {
    await scanner.close();
    await proxy.close();
    await master.close();
    await downstream.close();
  }
});
