import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { postgresBinDir, startPostgres } from '@moat/engines';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

// PostgreSQL (Debian postgresql) is needed; CI installs it and sets MOAT_REQUIRE_ENGINES=1, where its absence fails.
const skip = postgresBinDir() || process.env['MOAT_REQUIRE_ENGINES'] === '1' ? false : 'PostgreSQL is not installed (Debian package postgresql)';

test('a master on PostgreSQL (database.url): rules reach the scanner, mail is logged and quarantined, a release works, and all of it is there after a restart; no SQLite file is made', { skip, timeout: 180_000 }, async () => {
  const pg = await startPostgres();
  const downstream = await startDownstream();
  let master = await startTestMaster({ database: { url: pg.url } });
  const dataDir = master.dataDir;
  let scanner = await startClusterScanner('pg-scanner-1', master.wsUrl, downstream.port);
  try {
    assert.equal(master.database.engine, 'postgres');
    assert.throws(() => master.db, /PostgreSQL/);
    await waitUntil(() => scanner.link?.isConnected, 'the scanner linked to the master');
    let api = await apiClient(master.url);

    // A rules change is stored in PostgreSQL and pushed to the scanner.
    const current = await api.get('/api/v1/rules');
    assert.equal(current.status, 200, current.text);
    const saved = await api.put(`/api/v1/rules?baseVersion=${current.json.version}&comment=on%20PostgreSQL`, current.json.document);
    assert.equal(saved.status, 200, saved.text);
    const version = saved.json.version as number;
    await waitUntil(async () => ((await api.get('/api/v1/nodes')).json.items as { name: string; rulesVersion: number }[]).some((n) => n.name === 'pg-scanner-1' && n.rulesVersion === version), `the scanner on rules version ${version}`);

    // Mail: one delivered, one quarantined; both in the log, the second in the quarantine index.
    assert.equal((await sendMail(scanner.smtpPort, { from: 'alice@origin.test', to: ['user@example.test'] }, message({ subject: 'plain on pg' }))).code, 250);
    assert.equal((await sendMail(scanner.smtpPort, { from: 'alice@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME on pg' }))).code, 250);
    await downstream.waitFor(1);
    await waitUntil(async () => (await api.get('/api/v1/messages?limit=50')).json.items.length === 2, 'both messages in the log');
    await waitUntil(async () => (await api.get('/api/v1/quarantine?limit=50')).json.items.length === 1, 'the quarantined one indexed');
    const held = (await api.get('/api/v1/quarantine?limit=50')).json.items[0] as { id: string; subject: string };
    assert.equal(held.subject, 'QUARANTINE-ME on pg');
    const subject = await api.get('/api/v1/quarantine?subject=QUARANTINE-ME');
    assert.equal(subject.json.items.length, 1, 'subject search (pg_trgm) finds it');
    const released = await api.post(`/api/v1/quarantine/${held.id}/release`);
    assert.equal(released.status, 200, released.text);
    await downstream.waitFor(2);

    // A restart of the master: everything is still there, read back from PostgreSQL.
    await scanner.close();
    await master.close();
    master = await startTestMaster({ database: { url: pg.url }, dataDir, port: master.port });
    scanner = await startClusterScanner('pg-scanner-1', master.wsUrl, downstream.port, { dataDir: scanner.dataDirPath, joinToken: null });
    api = await apiClient(master.url);
    assert.equal((await api.get('/api/v1/rules')).json.version, version);
    assert.equal((await api.get('/api/v1/messages?limit=50')).json.items.length, 2);
    assert.equal(((await api.get('/api/v1/quarantine?status=released&limit=50')).json.items[0] as { id: string } | undefined)?.id, held.id, 'the release is remembered');
    const audit = await api.get('/api/v1/audit?limit=100');
    assert.ok((audit.json.entries as { action: string }[]).some((e) => e.action === 'rules.update'), 'the audit log kept the rules change');
    await waitUntil(() => scanner.link?.isConnected, 'the scanner linked again');
    assert.equal(existsSync(join(dataDir, 'master.sqlite')), false, 'no SQLite database beside PostgreSQL');
  } finally {
    await scanner.close();
    await master.close();
    await downstream.close();
    await pg.stop();
  }
});

test('two masters on one PostgreSQL: a rules change saved on one reaches a scanner linked to the other (LISTEN/NOTIFY), what that scanner sends shows on both, and a restart of one leaves the other\'s scanner online', { skip, timeout: 180_000 }, async () => {
  const pg = await startPostgres();
  const downstream = await startDownstream();
  let a = await startTestMaster({ database: { url: pg.url }, name: 'master-a' });
  const b = await startTestMaster({ database: { url: pg.url }, name: 'master-b' });
  const scanner = await startClusterScanner('pg-scanner-2', b.wsUrl, downstream.port);
  try {
    await waitUntil(() => scanner.link?.isConnected, 'the scanner linked to master B');
    const apiA = await apiClient(a.url);
    const apiB = await apiClient(b.url);
    const current = await apiA.get('/api/v1/rules');
    const saved = await apiA.put(`/api/v1/rules?baseVersion=${current.json.version}&comment=saved%20on%20A`, current.json.document);
    assert.equal(saved.status, 200, saved.text);
    const version = saved.json.version as number;
    // Master A has no scanner: only its notice makes master B push the new version.
    await waitUntil(async () => ((await apiB.get('/api/v1/nodes')).json.items as { name: string; rulesVersion: number }[]).some((n) => n.name === 'pg-scanner-2' && n.rulesVersion === version), `the scanner on master B applying version ${version}, saved on master A`);

    assert.equal((await sendMail(scanner.smtpPort, { from: 'alice@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME via B' }))).code, 250);
    await waitUntil(async () => ((await apiA.get('/api/v1/quarantine?limit=50')).json.items as { subject: string }[]).some((q) => q.subject === 'QUARANTINE-ME via B'), 'master A lists what master B ingested');

    // Master A restarts: it marks offline only the nodes linked to it, not master B's scanner.
    await a.close();
    a = await startTestMaster({ database: { url: pg.url }, name: 'master-a', port: a.port });
    const nodes = (await (await apiClient(a.url)).get('/api/v1/nodes')).json.items as { name: string; online: boolean }[];
    assert.equal(nodes.find((n) => n.name === 'pg-scanner-2')?.online, true, 'master B\'s scanner is still online after master A restarted');
  } finally {
    await scanner.close();
    await b.close();
    await a.close();
    await downstream.close();
    await pg.stop();
  }
});

test('two masters on one PostgreSQL: a message quarantined by master B\'s scanner is fetched (the same bytes) and released through master A, which forwards to B; a wrong peer secret, or a master that is gone, fails', { skip, timeout: 180_000 }, async () => {
  const pg = await startPostgres();
  const downstream = await startDownstream();
  let a = await startTestMaster({ database: { url: pg.url }, name: 'master-a' });
  const b = await startTestMaster({ database: { url: pg.url }, name: 'master-b' });
  const scanner = await startClusterScanner('pg-scanner-3', b.wsUrl, downstream.port);
  let bClosed = false;
  try {
    await waitUntil(() => scanner.link?.isConnected, 'the scanner linked to master B');
    let apiA = await apiClient(a.url);
    const apiB = await apiClient(b.url);
    const [one, two] = ['QUARANTINE-ME forwarded one', 'QUARANTINE-ME forwarded two'] as const;
    for (const subject of [one, two]) {
      // About 330 kB: several 64 KiB chunks of the link's stream, and more than one read on the HTTP hop.
      assert.equal((await sendMail(scanner.smtpPort, { from: 'alice@origin.test', to: ['user@example.test'] }, message({ subject, body: `${subject}: ${'body line\r\n'.repeat(30000)}` }))).code, 250);
    }
    const heldOn = async () => (await apiA.get('/api/v1/quarantine?limit=50')).json.items as { id: string; subject: string }[];
    await waitUntil(async () => (await heldOn()).length === 2, 'master A lists both messages held by master B\'s scanner');
    const items = await heldOn();
    const first = items.find((q) => q.subject === one)!;
    const second = items.find((q) => q.subject === two)!;
    const raw = async (baseUrl: string, cookie: string, id: string) => {
      const res = await fetch(`${baseUrl}/api/v1/quarantine/${id}/raw`, { headers: { cookie } });
      return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
    };

    // Fetched through master A: forwarded to master B, which holds the link; the same bytes as B serves.
    const viaA = await raw(a.url, apiA.cookie, first.id);
    assert.equal(viaA.status, 200, viaA.bytes.toString());
    const viaB = await raw(b.url, apiB.cookie, first.id);
    assert.equal(viaB.status, 200);
    assert.ok(viaA.bytes.length > 300_000 && viaA.bytes.includes(`Subject: ${one}`), 'the whole message came through master A');
    assert.ok(viaA.bytes.equals(viaB.bytes), 'the same bytes through either master');

    // Released through master A: the scanner on master B relays it downstream.
    const released = await apiA.post(`/api/v1/quarantine/${first.id}/release`);
    assert.equal(released.status, 200, released.text);
    await downstream.waitFor(1);
    assert.ok(downstream.received[0]!.raw.includes(`Subject: ${one}`), 'the released message reached the downstream server');

    // The route between masters takes only the masters' secret.
    const peerCall = (secret?: string) => fetch(`${b.url}/cluster/peer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret === undefined ? {} : { 'x-moat-peer-secret': secret }) },
      body: JSON.stringify({ nodeId: 'x', frame: { type: 'queue.list', limit: 1 } }),
    });
    assert.equal((await peerCall()).status, 401);
    assert.equal((await peerCall('not-the-secret')).status, 401);
    assert.equal((await peerCall(apiA.cookie)).status, 401, 'a console session is no peer secret');

    // Master A restarted with a wrong secret: master B refuses what it forwards, so A cannot reach B's node.
    await a.database.db.updateTable('master_secret').set({ secret: 'a-wrong-secret-for-master-a' }).execute();
    await a.close();
    a = await startTestMaster({ database: { url: pg.url }, name: 'master-a', port: a.port });
    apiA = await apiClient(a.url);
    const refused = await apiA.get(`/api/v1/quarantine/${second.id}/raw`);
    assert.equal(refused.status, 502, refused.text);
    assert.equal(refused.json.code, 'MOAT_ERR_PEER');
    assert.equal((await raw(b.url, apiB.cookie, second.id)).status, 200, 'master B itself still serves it');

    // Master B stops: its registration goes, and its node (still linked to it in the database) is offline for master A.
    await b.close();
    bClosed = true;
    const gone = await apiA.get(`/api/v1/quarantine/${second.id}/raw`);
    assert.equal(gone.status, 503, gone.text);
    assert.equal(gone.json.code, 'MOAT_ERR_NODE_OFFLINE');
  } finally {
    await scanner.close();
    if (!bClosed) await b.close();
    await a.close();
    await downstream.close();
    await pg.stop();
  }
});
