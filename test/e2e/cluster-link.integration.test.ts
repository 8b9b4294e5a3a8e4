import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

test('two scanners join, get rules, report events exactly once; quarantine is fetched, released and deleted through the master', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const s1 = await startClusterScanner('scanner-a', master.wsUrl, downstream.port);
  const s2 = await startClusterScanner('scanner-b', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.filter((n: { online: boolean }) => n.online).length === 2, 'both nodes online');
    const nodes = (await api.get('/api/v1/nodes')).json.items as { name: string; rulesVersion: number; rulesCurrent: boolean }[];
    assert.deepEqual(nodes.map((n) => n.name).sort(), ['scanner-a', 'scanner-b']);
    assert.ok(nodes.every((n) => n.rulesVersion === 1 && n.rulesCurrent));

    // A rule change through the API reaches both scanners and changes their verdicts. Pushes are
    // counted from here: on PostgreSQL the master also pushes what is current when it starts
    // listening for the other masters' changes (db/change-notices.ts).
    const rulesPushes = async () => Number(/^moat_rules_pushes_total (\d+)$/m.exec((await api.get('/metrics')).text)?.[1]);
    const pushesBefore = await rulesPushes();
    const put = await api.put('/api/v1/rules', { ...BASE_RULES, lists: { ...BASE_RULES.lists, senderBlock: ['*@blocked.example', '*@newly.example'] } });
    assert.equal(put.status, 200, put.text);
    await waitUntil(() => s1.rules.current().version === 2 && s2.rules.current().version === 2, 'both scanners on version 2');
    for (const s of [s1, s2]) {
      const r = await sendMail(s.smtpPort, { from: 'x@newly.example', to: ['user@example.test'] }, message());
      assert.equal(r.code, 550, 'the new rule refuses the sender');
    }
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.every((n: { rulesVersion: number }) => n.rulesVersion === 2), 'versions acknowledged');

    // Mail through both scanners: every log entry reaches the master exactly once.
    for (let i = 0; i < 10; i++) {
      const s = i % 2 === 0 ? s1 : s2;
      assert.equal((await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `cluster-${i}` }))).ok, true);
    }
    const held = await sendMail(s2.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME please', body: 'secret body' }));
    const heldId = /queued as (\w+)/.exec(held.response)![1]!;
    await waitUntil(async () => (await api.get('/api/v1/messages?limit=100')).json.items.length >= 13, 'the log on the master');
    const entries = (await api.get('/api/v1/messages?limit=100')).json.items as { id: string; status: string }[];
    assert.equal(new Set(entries.map((m) => m.id)).size, entries.length, 'no duplicates');
    const logged = entries.filter((m) => m.status !== 'refused');
    assert.equal(logged.length, 11, '10 delivered + 1 quarantined');
    assert.equal(entries.length - logged.length, 2, 'and the two transactions refused at MAIL FROM, one per scanner');

    // The quarantined message: listed, fetched byte-identical from its scanner, released.
    await waitUntil(async () => (await api.get('/api/v1/quarantine')).json.items.some((q: { id: string }) => q.id === heldId), 'the quarantine index');
    const raw = await fetch(`${master.url}/api/v1/quarantine/${heldId}/raw`, { headers: { cookie: api.cookie } });
    assert.equal(raw.status, 200);
    // An .eml is never sniffed into a page of the master's origin, nor kept in a cache (issue 18).
    assert.equal(raw.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(raw.headers.get('cache-control'), 'no-store');
    const fetched = Buffer.from(await raw.arrayBuffer());
    const onDisk = (s2.db.prepare('SELECT file FROM quarantine WHERE id = ?').get(heldId) as { file: string }).file;
    const { readFileSync } = await import('node:fs');
    const local = readFileSync(`${s2.dataDirPath}/quarantine/${onDisk}`);
    assert.equal(createHash('sha256').update(fetched).digest('hex'), createHash('sha256').update(local).digest('hex'));

    const before = downstream.received.length;
    const released = await api.post(`/api/v1/quarantine/${heldId}/release`);
    assert.equal(released.status, 200, released.text);
    await downstream.waitFor(before + 1);
    assert.match(downstream.received.at(-1)!.raw.toString(), /QUARANTINE-ME please/);
    assert.equal((await api.post(`/api/v1/quarantine/${heldId}/release`)).status, 409, 'released twice is a conflict');

    // The cluster is visible to Prometheus.
    const metrics = await api.get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /moat_node_online\{node="scanner-b"\} 1/);
    assert.match(metrics.text, /moat_events_ingested_total\{node="scanner-a",result="stored"\} \d+/);
    assert.equal(await rulesPushes() - pushesBefore, 1, 'one rules push for the one change');

    // Another one: deleted.
    const second = await sendMail(s1.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME again' }));
    const secondId = /queued as (\w+)/.exec(second.response)![1]!;
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${secondId}`)).status === 200, 'second in the index');
    assert.equal((await api.del(`/api/v1/quarantine/${secondId}`)).status, 200);
    assert.equal((s1.db.prepare('SELECT status FROM quarantine WHERE id = ?').get(secondId) as { status: string }).status, 'deleted');

    // Path traversal and junk ids never reach a scanner.
    for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'AAAAAAAAAAAAAAAAAAA.', '%00']) {
      assert.equal((await api.get(`/api/v1/quarantine/${bad}/raw`)).status, 400, bad);
    }

    // A scanner goes away: its node is offline and a fetch of its message answers 503 naming it.
    const third = await sendMail(s1.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME three' }));
    const thirdId = /queued as (\w+)/.exec(third.response)![1]!;
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${thirdId}`)).status === 200, 'third in the index');
    await s1.close();
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.find((n: { name: string }) => n.name === 'scanner-a').online === false, 'scanner-a offline');
    const offline = await api.get(`/api/v1/quarantine/${thirdId}/raw`);
    assert.equal(offline.status, 503);
    assert.match(JSON.stringify(offline.json), /scanner-a/);
  } finally {
    await s1.close();
    await s2.close();
    await master.close();
    await downstream.close();
  }
});

test("a node's relay queue is visible from the master, and a message can be retried now or removed (audited)", async () => {
  let refusing = true;
  const downstream = await startDownstream({ rcpt: () => (refusing ? { code: 451, text: '4.3.0 Busy' } : undefined) });
  const master = await startTestMaster();
  const s = await startClusterScanner('queued', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push(/queued as (\w+)/.exec((await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `q${i}` }))).response)![1]!);
    const nodeId = (await api.get('/api/v1/nodes')).json.items[0].id as string;
    await waitUntil(async () => (await api.get(`/api/v1/nodes/${nodeId}/queue`)).json.entries?.every((e: { attempts: number }) => e.attempts >= 1), 'a failed attempt each');
    const queue = (await api.get(`/api/v1/nodes/${nodeId}/queue`)).json;
    assert.equal(queue.count, 2);
    assert.match(queue.entries[0].lastError, /Busy/);

    assert.equal((await api.del(`/api/v1/nodes/${nodeId}/queue/${ids[0]}`)).status, 200);
    refusing = false;
    assert.equal((await api.post(`/api/v1/nodes/${nodeId}/queue/${ids[1]}/retry`)).status, 200);
    await downstream.waitFor(1);
    assert.match(downstream.received[0]!.raw.toString(), /Subject: q1/);
    await waitUntil(async () => (await api.get(`/api/v1/nodes/${nodeId}/queue`)).json.count === 0, 'an empty queue');
    assert.equal((await api.del(`/api/v1/nodes/${nodeId}/queue/${ids[0]}`)).status, 404, 'already gone');
    const audit = (await api.get('/api/v1/audit?limit=50')).json;
    const actions = (audit.items ?? audit.entries ?? []).map((e: { action: string }) => e.action);
    assert.ok(actions.includes('queue.delete') && actions.includes('queue.retry'), JSON.stringify(actions));
  } finally {
    await s.close();
    await master.close();
    await downstream.close();
  }
});

test('a rules push counts in moat_rules_pushes_total only when it reached a scanner', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  let s: Awaited<ReturnType<typeof startClusterScanner>> | undefined;
  try {
    const api = await apiClient(master.url);
    const pushes = async () => Number(/^moat_rules_pushes_total (\d+)$/m.exec((await api.get('/metrics')).text)?.[1]);
    const before = await pushes();
    // Version 2 with no scanner linked: the push reaches nobody.
    assert.equal((await api.put('/api/v1/rules', { ...BASE_RULES, lists: { ...BASE_RULES.lists, senderBlock: ['*@v2.example'] } })).status, 200);
    s = await startClusterScanner('pushed', master.wsUrl, downstream.port);
    await waitUntil(() => s!.rules.current().version === 2, 'the scanner gets version 2 when it links');
    // Version 3 with the scanner linked: that push is the one counted.
    assert.equal((await api.put('/api/v1/rules', { ...BASE_RULES, lists: { ...BASE_RULES.lists, senderBlock: ['*@v3.example'] } })).status, 200);
    await waitUntil(() => s!.rules.current().version === 3, 'the scanner on version 3');
    await waitUntil(async () => (await pushes()) > before, 'the push counted');
    assert.equal(await pushes(), before + 1);
  } finally {
    await s?.close();
    await master.close();
    await downstream.close();
  }
});
