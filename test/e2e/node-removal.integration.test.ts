import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * Decommissioning a scanner: an admin removes it once it is stopped; it leaves the node list,
 * its old credential is refused, its log entries keep its name, and it can join again only
 * with the join secret after its credential is wiped.
 */
test('a stopped node is removed by an admin; its credential no longer opens the link; it may join again', { timeout: 60_000 }, async (t) => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  t.after(async () => {
    await master.close();
    await downstream.close();
  });
  const api = await apiClient(master.url);
  let scanner = await startClusterScanner('scanner-old', master.wsUrl, downstream.port);
  const dataDir = scanner.dataDirPath;
  const sent = await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'before the removal' }));
  assert.equal(sent.code, 250);
  await waitUntil(async () => (await api.get('/api/v1/messages?subject=before')).json.items.length === 1, 'the message is logged');
  const node = (await api.get('/api/v1/nodes')).json.items.find((n: { name: string }) => n.name === 'scanner-old');
  assert.ok(node, 'the node is listed');

  await t.test('while connected it cannot be removed (409), and nothing changes', async () => {
    const res = await api.del(`/api/v1/nodes/${node.id}`);
    assert.equal(res.status, 409);
    assert.equal(res.json.code, 'MOAT_ERR_NODE_ONLINE');
    assert.match(res.json.error, /scanner-old is connected: stop it first/);
    assert.equal((await api.get('/api/v1/nodes')).json.items.length, 1);
  });

  await t.test('an operator may not remove a node; a bad id is a 400 naming the field; an unknown one a 404', async () => {
    assert.equal((await api.post('/api/v1/users', { username: 'oscar', password: 'operator password 1', role: 'operator' })).status, 201);
    const operator = await apiClient(master.url, 'oscar', 'operator password 1');
    assert.equal((await operator.del(`/api/v1/nodes/${node.id}`)).status, 403);
    const bad = await api.del('/api/v1/nodes/not-an-id');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.json.details), /nodeId/);
    assert.equal((await api.del('/api/v1/nodes/0123456789abcdef')).status, 404);
  });

  await t.test('stopped, it is removed: gone from the list, audited, its log entries keep its name', async () => {
    await scanner.close();
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items[0]?.online === false, 'the master sees it offline');
    const res = await api.del(`/api/v1/nodes/${node.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual((await api.get('/api/v1/nodes')).json.items, []);
    assert.equal((await api.del(`/api/v1/nodes/${node.id}`)).status, 404, 'removing twice: not found');
    const audit = (await api.get('/api/v1/audit?action=node.remove')).json.entries;
    assert.equal(audit.length, 1);
    assert.match(JSON.stringify(audit[0]), /scanner-old/);
    const logged = (await api.get('/api/v1/messages?subject=before')).json.items[0];
    assert.equal(logged.nodeName, 'scanner-old');
  });

  await t.test('restarted with its old credential it is refused; with the credential wiped it joins again', async () => {
    scanner = await startClusterScanner('scanner-old', master.wsUrl, downstream.port, { dataDir });
    await waitUntil(async () => /moat_link_refusals_total\{code="MOAT_ERR_NODE_AUTH"\} [1-9]/.test((await api.get('/metrics')).text), 'the old credential is refused');
    assert.deepEqual((await api.get('/api/v1/nodes')).json.items, [], 'it stays out');
    await scanner.close();
    const credentialFiles = readdirSync(dataDir).filter((f) => /credential/.test(f));
    assert.ok(credentialFiles.length > 0, `a credential file in ${readdirSync(dataDir).join(', ')}`);
    for (const f of credentialFiles) rmSync(join(dataDir, f));
    scanner = await startClusterScanner('scanner-old', master.wsUrl, downstream.port, { dataDir });
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.some((n: { name: string; online: boolean }) => n.name === 'scanner-old' && n.online), 'it joins again');
    assert.equal((await api.get('/api/v1/nodes')).json.items[0].id, node.id, 'under its old id, so its history stays together');
    await scanner.close();
  });
});
