import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, joinTokenFor } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { spawnScanner, writeScannerConfig } from '../helpers/scanner-process.ts';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';
import { freePort } from '../helpers/ports.ts';

const env = { from: 'a@origin.test', to: ['user@example.test'] };

async function messageCount(url: string): Promise<number> {
  const api = await apiClient(url);
  let total = 0;
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const page: { json: { items: { nodeId: string; id: string }[]; next: string | null } } = await api.get(`/api/v1/messages?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const m of page.json.items) ids.add(`${m.nodeId}/${m.id}`);
    total += page.json.items.length;
    cursor = page.json.next;
  } while (cursor);
  assert.equal(ids.size, total, 'no message is listed twice');
  return total;
}

/**
 * Whether a scanner has nothing left to tell the master: its outbox is empty (a row goes once the
 * master has stored and acknowledged it, resent ones included) and its relay queue too (no
 * delivery outcome still to come). From then on the master's record of it cannot change, so a
 * count read then is final: no waiting for a duplicate that might still arrive.
 */
function drained(db: { prepare(sql: string): { get(): unknown } }): boolean {
  const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return n('SELECT count(*) AS n FROM outbox') === 0 && n('SELECT count(*) AS n FROM queue') === 0;
}

/** The same, for a scanner in another process: its database file, read alongside it. */
function drainedFile(dataDir: string): boolean {
  const db = new DatabaseSync(join(dataDir, 'scanner.sqlite'), { readOnly: true, timeout: 5000 });
  try {
    return drained(db);
  } finally {
    db.close();
  }
}

test('master down while 200 messages pass: scanners keep filtering with their rules, then every event arrives exactly once', async () => {
  const downstream = await startDownstream();
  const port = await freePort();
  const masterDir = tempDir('master-down').path;
  let master = await startTestMaster({ dataDir: masterDir, port });
  const s1 = await startClusterScanner('a', master.wsUrl, downstream.port);
  const s2 = await startClusterScanner('b', master.wsUrl, downstream.port);
  try {
    await master.close();
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => sendMail(((i + j) % 2 ? s1 : s2).smtpPort, env, message({ subject: (i + j) % 20 === 0 ? `QUARANTINE-ME ${i + j}` : `m${i + j}` }))));
      assert.ok(batch.every((r) => r.ok), 'accepted while the master is down');
    }
    const held = [s1, s2].map((s) => (s.db.prepare("SELECT count(*) n FROM messages WHERE action = 'quarantine'").get() as { n: number }).n);
    assert.equal(held[0]! + held[1]!, 10, 'the last rules are in force');

    master = await startTestMaster({ dataDir: masterDir, port });
    await waitUntil(() => drained(s1.db) && drained(s2.db), 'every event acknowledged by the master', 20_000);
    assert.equal(await messageCount(master.url), 200);
    const api = await apiClient(master.url);
    assert.equal((await api.get('/api/v1/quarantine?limit=100')).json.items.length, 10);
  } finally {
    await s1.close();
    await s2.close();
    await master.close();
    await downstream.close();
  }
});

test('a scanner killed with kill -9 mid-flush loses and duplicates nothing; killed, it goes offline; restarted, online again', async () => {
  const downstream = await startDownstream();
  const port = await freePort();
  const masterDir = tempDir('flush-kill').path;
  let master = await startTestMaster({ dataDir: masterDir, port });
  const dir = tempDir('flush-scanner').path;
  const configFile = writeScannerConfig(dir, {
    node: { name: 'killed' },
    dataDir: join(dir, 'data'),
    smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'killed.test' },
    relay: { host: '127.0.0.1', port: downstream.port, retryBaseSeconds: 0.2, retryMaxSeconds: 1 },
    master: { url: master.wsUrl, joinToken: await joinTokenFor(master, 'killed'), reconnectBaseSeconds: 0.1, reconnectMaxSeconds: 0.3, batchSize: 20 },
  });
  let scanner = await spawnScanner(configFile);
  try {
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.some((n: { online: boolean }) => n.online), 'node online');
    await master.close();
    const n = 300;
    for (let i = 0; i < n; i += 30) {
      const batch = await Promise.all(Array.from({ length: 30 }, (_, j) => sendMail(scanner.port, env, message({ subject: `k${i + j}` }))));
      assert.ok(batch.every((r) => r.ok));
    }
    master = await startTestMaster({ dataDir: masterDir, port });
    // Kill the scanner while its backlog is flushing in batches of 20.
    await waitUntil(async () => (await messageCount(master.url)) > 0, 'the flush to start', 20_000);
    await scanner.kill9();
    const api2 = await apiClient(master.url);
    await waitUntil(async () => (await api2.get('/api/v1/nodes')).json.items[0].online === false, 'offline after the kill', 5000);

    scanner = await spawnScanner(configFile);
    await waitUntil(async () => (await api2.get('/api/v1/nodes')).json.items[0].online === true, 'online again', 10_000);
    await waitUntil(() => drainedFile(join(dir, 'data')), 'every event acknowledged by the master', 20_000);
    assert.equal(await messageCount(master.url), n);
  } finally {
    await scanner.stop();
    await master.close();
    await downstream.close();
  }
});

test('a scanner started while the master is down uses its last persisted rules', async () => {
  const downstream = await startDownstream();
  const port = await freePort();
  const masterDir = tempDir('persisted-rules').path;
  const master = await startTestMaster({ dataDir: masterDir, port });
  const dataDir = join(tempDir('persisted-scanner').path, 'data');
  const first = await startClusterScanner('persist', master.wsUrl, downstream.port, { dataDir });
  const api = await apiClient(master.url);
  assert.equal((await api.put('/api/v1/rules', { ...BASE_RULES, lists: { senderBlock: ['*@only-in-v2.example'] } })).status, 200);
  await waitUntil(() => first.rules.current().version === 2, 'version 2 applied');
  await first.close();
  await master.close();

  const again = await startClusterScanner('persist', master.wsUrl, downstream.port, { dataDir });
  try {
    assert.equal(again.rules.current().version, 2);
    const r = await sendMail(again.smtpPort, { from: 'x@only-in-v2.example', to: ['user@example.test'] }, message());
    assert.equal(r.code, 550);
  } finally {
    await again.close();
    await downstream.close();
  }
});
