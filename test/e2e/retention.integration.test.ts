import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner, apiClient, type ApiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { GTUBE } from '@moat/rules';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

const DAY = 86_400_000;
const queueIdOf = (response: string) => /queued as (\w+)/.exec(response)![1]!;

async function nodeIdOf(api: ApiClient, name: string): Promise<string> {
  let id: string | undefined;
  await waitUntil(async () => (id = (await api.get('/api/v1/nodes')).json.items.find((n: { name: string; online: boolean }) => n.name === name && n.online)?.id), `${name} online`);
  return id!;
}

/** The log entry once the master has it (and, with `retained`, once its copy's state is that). */
async function logEntry(api: ApiClient, nodeId: string, id: string, retained?: 'kept' | 'expired' | null): Promise<any> {
  let entry: any;
  await waitUntil(async () => {
    const r = await api.get(`/api/v1/messages/${nodeId}/${id}`);
    if (r.status !== 200) return false;
    entry = r.json;
    return retained === undefined || (retained === null ? entry.retained === null : entry.retained?.status === retained);
  }, `log entry ${id}${retained === undefined ? '' : ` with retained ${retained}`}`);
  return entry;
}

async function putRules(api: ApiClient, retention: Record<string, unknown>): Promise<number> {
  const r = await api.put('/api/v1/rules', { ...BASE_RULES, retention });
  assert.equal(r.status, 200, r.text);
  return r.json.version as number;
}

async function waitForRejected(api: ApiClient): Promise<string> {
  let id: string | undefined;
  await waitUntil(async () => (id = (await api.get('/api/v1/messages?action=reject')).json.items[0]?.id), 'the rejected message in the log');
  return id!;
}

const retainedFiles = (dataDir: string) => readdirSync(join(dataDir, 'retained'));
const retainedBytesOnDisk = (dataDir: string) => retainedFiles(dataDir).reduce((n, f) => n + statSync(join(dataDir, 'retained', f)).size, 0);

test('a delivered message is kept on its scanner: found on the master, viewed, downloaded, re-delivered to its recipients and to another one (audited)', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const s = await startClusterScanner('keeper', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    const nodeId = await nodeIdOf(api, 'keeper');

    const sent = await sendMail(s.smtpPort, { from: 'billing@supplier.test', to: ['customer@example.test'] }, message({ subject: 'Invoice 42', body: 'Please pay invoice 42.' }));
    assert.ok(sent.ok, sent.response);
    const id = queueIdOf(sent.response);
    await downstream.waitFor(1);

    // The master's log links the entry to its copy.
    const entry = await logEntry(api, nodeId, id, 'kept');
    assert.equal(entry.retained.size, statSync(join(s.dataDirPath, 'retained', `${id}.eml`)).size);

    // View / download: the copy as it arrived, byte for byte (Moat's headers are added on delivery only).
    const raw = await api.get(`/api/v1/messages/${nodeId}/${id}/raw`);
    assert.equal(raw.status, 200, raw.text);
    assert.equal(raw.headers.get('content-type'), 'message/rfc822');
    assert.match(raw.headers.get('content-disposition') ?? '', new RegExp(`${id}\\.eml`));
    assert.equal(raw.text, readFileSync(join(s.dataDirPath, 'retained', `${id}.eml`), 'utf8'));
    assert.match(raw.text, /Subject: Invoice 42/);
    assert.doesNotMatch(raw.text, /X-Moat-Node/);
    assert.match(downstream.received[0]!.raw.toString(), /X-Moat-Node: keeper/);

    // Re-delivery to the original recipients: it arrives again, with the first delivery's headers and a trace.
    const again = await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`);
    assert.equal(again.status, 200, again.text);
    assert.match(again.json.queueId, /^[0-9A-Za-z]{20}$/);
    assert.notEqual(again.json.queueId, id);
    assert.deepEqual(again.json.rcptTo, ['customer@example.test']);
    await downstream.waitFor(2);
    const second = downstream.received[1]!;
    assert.deepEqual(second.to, ['customer@example.test']);
    assert.equal(second.from, 'billing@supplier.test');
    const text = second.raw.toString();
    assert.match(text, /Please pay invoice 42\./);
    assert.match(text, new RegExp(`X-Moat-Redelivered: .*retained copy of ${id} on keeper`));
    assert.match(text, new RegExp(`with local id ${again.json.queueId}`));
    assert.match(text, /X-Moat-Node: keeper/);
    // The queue file of the re-delivery is gone, the copy stays for the next time.
    await waitUntil(() => readdirSync(join(s.dataDirPath, 'queue')).length === 0, 'an empty queue');
    assert.deepEqual(retainedFiles(s.dataDirPath), [`${id}.eml`]);

    // To another recipient (in an accepted domain).
    const other = await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`, { rcptTo: ['accounts@example.test'] });
    assert.equal(other.status, 200, other.text);
    await downstream.waitFor(3);
    assert.deepEqual(downstream.received[2]!.to, ['accounts@example.test']);
    await waitUntil(async () => (await logEntry(api, nodeId, id)).delivery.delivered.includes('accounts@example.test'), 'the re-delivery on the log entry');

    // Bad recipients change nothing and name the field.
    const outside = await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`, { rcptTo: ['accounts@example.test', 'thief@elsewhere.example'] });
    assert.equal(outside.status, 400, outside.text);
    assert.deepEqual(outside.json.details, [{ field: 'body.rcptTo.1', message: 'is not in an accepted domain' }]);
    const junk = await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`, { rcptTo: ['not an address'] });
    assert.equal(junk.status, 400);
    assert.equal(junk.json.details[0].field, 'body.rcptTo.0');
    assert.equal((await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`, { rcptTo: [] })).status, 400);
    assert.equal((await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`, { to: ['a@example.test'] })).status, 400);
    assert.equal(downstream.received.length, 3);

    // Audited: who re-delivered what to whom, and who looked at it.
    const audit = (await api.get('/api/v1/audit?limit=50')).json.entries as { action: string; target: string; details: { rcptTo?: string[]; queueId?: string } }[];
    const redeliveries = audit.filter((e) => e.action === 'message.redeliver');
    assert.equal(redeliveries.length, 2);
    assert.ok(redeliveries.every((e) => e.target === `keeper/${id}`));
    assert.ok(redeliveries.some((e) => e.details.rcptTo?.[0] === 'accounts@example.test'));
    assert.ok(audit.some((e) => e.action === 'message.view' && e.target === `keeper/${id}`));

    // Without a session: 401, nothing sent.
    assert.equal((await fetch(`${master.url}/api/v1/messages/${nodeId}/${id}/raw`)).status, 401);
    assert.equal((await fetch(`${master.url}/api/v1/messages/${nodeId}/${id}/redeliver`, { method: 'POST' })).status, 401);
    // An auditor reads the log but neither reads the mail itself nor sends it.
    assert.equal((await api.post('/api/v1/users', { username: 'reader', password: 'reader-password-1234', role: 'auditor' })).status, 201);
    const reader = await apiClient(master.url, 'reader', 'reader-password-1234');
    assert.equal((await reader.get(`/api/v1/messages/${nodeId}/${id}`)).status, 200);
    assert.equal((await reader.get(`/api/v1/messages/${nodeId}/${id}/raw`)).status, 403);
    assert.equal((await reader.post(`/api/v1/messages/${nodeId}/${id}/redeliver`)).status, 403);

    // Tagged and quarantined messages are kept too; a tagged one is re-delivered as it was delivered (prefix and all).
    const tagged = queueIdOf((await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'TAG-ME offer' }))).response);
    const held = queueIdOf((await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME' }))).response);
    await logEntry(api, nodeId, tagged, 'kept');
    await logEntry(api, nodeId, held, 'kept');
    await downstream.waitFor(4);
    assert.equal((await api.post(`/api/v1/messages/${nodeId}/${tagged}/redeliver`)).status, 200);
    await downstream.waitFor(5);
    assert.match(downstream.received[4]!.raw.toString(), /Subject: \[SPAM\] TAG-ME offer/);
    assert.match(downstream.received[4]!.raw.toString(), /X-Moat-Verdict: tag/);

    // A rejected message was refused: nothing kept, and the API says so.
    const beforeRefusal = retainedFiles(s.dataDirPath).length;
    const refused = await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'spam', body: GTUBE }));
    assert.equal(refused.code, 550);
    const refusedId = await waitForRejected(api);
    assert.equal((await logEntry(api, nodeId, refusedId)).retained, null);
    const noCopy = await api.get(`/api/v1/messages/${nodeId}/${refusedId}/raw`);
    assert.equal(noCopy.status, 404);
    assert.equal(noCopy.json.code, 'MOAT_ERR_NOT_RETAINED');
    assert.equal(retainedFiles(s.dataDirPath).length, beforeRefusal);
    // Junk ids never reach the scanner; unknown ones are 404.
    for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'AAAAAAAAAAAAAAAAAAA.', '%00']) {
      assert.equal((await api.get(`/api/v1/messages/${nodeId}/${bad}/raw`)).status, 400, bad);
      assert.equal((await api.post(`/api/v1/messages/${nodeId}/${bad}/redeliver`)).status, 400, bad);
    }
    assert.equal((await api.get(`/api/v1/messages/${nodeId}/AAAAAAAAAAAAAAAAAAAA/raw`)).status, 404);
  } finally {
    await s.close();
    await master.close();
    await downstream.close();
  }
});

test('the disk budget holds under a burst, expiry by age removes old copies and the master shows them gone; retention off keeps nothing', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const s = await startClusterScanner('budget', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    const nodeId = await nodeIdOf(api, 'budget');
    const body = 'x'.repeat(2000);
    const sample = Buffer.byteLength(message({ subject: 'burst-00', body }));
    const budget = sample * 5 + 100; // room for five copies (Message-IDs vary by a byte or two)
    const version = await putRules(api, { maxBytes: budget });
    await waitUntil(() => s.rules.current().version === version, 'the new budget on the scanner');

    // A burst of 20, four at a time.
    const ids: string[] = [];
    for (let i = 0; i < 20; i += 4) {
      const batch = await Promise.all([0, 1, 2, 3].map((j) => sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: `burst-${String(i + j).padStart(2, '0')}`, body }))));
      for (const r of batch) {
        assert.ok(r.ok, r.response);
        ids.push(queueIdOf(r.response));
      }
      const usage = s.retention.store.usage();
      assert.ok(usage.bytes <= budget, `index within budget after ${i + 4}: ${usage.bytes} > ${budget}`);
    }
    await downstream.waitFor(20);
    const usage = s.retention.store.usage();
    assert.ok(usage.bytes <= budget && usage.copies >= 4 && usage.copies <= 5, JSON.stringify(usage));
    // Evicted files are unlinked right after their commit.
    await waitUntil(() => retainedFiles(s.dataDirPath).length === usage.copies, 'evicted files unlinked');
    assert.ok(retainedBytesOnDisk(s.dataDirPath) <= budget);
    const keptIds = new Set(retainedFiles(s.dataDirPath).map((f) => f.replace('.eml', '')));

    // The master knows which copies went (the oldest ones) and why.
    for (const id of ids) {
      const entry = await logEntry(api, nodeId, id, keptIds.has(id) ? 'kept' : 'expired');
      if (!keptIds.has(id)) assert.equal(entry.retained.reason, 'budget');
    }
    const gone = ids.find((id) => !keptIds.has(id))!;
    const goneRaw = await api.get(`/api/v1/messages/${nodeId}/${gone}/raw`);
    assert.equal(goneRaw.status, 410);
    assert.equal(goneRaw.json.code, 'MOAT_ERR_GONE');
    assert.match(goneRaw.json.error, /disk budget/);
    assert.equal((await api.post(`/api/v1/messages/${nodeId}/${gone}/redeliver`)).status, 410);

    // Expiry by age: a round run at an instant eight days on removes every copy (no sleeping for days).
    const removed = await s.retention.job.run(Date.now() + 8 * DAY);
    assert.equal(removed.flatMap((r) => r.copies).length, usage.copies);
    assert.ok(removed.every((r) => r.reason === 'age'));
    assert.deepEqual(retainedFiles(s.dataDirPath), []);
    assert.deepEqual(s.retention.store.usage(), { bytes: 0, copies: 0 });
    for (const id of keptIds) assert.equal((await logEntry(api, nodeId, id, 'expired')).retained.reason, 'age');
    const aged = await api.get(`/api/v1/messages/${nodeId}/${[...keptIds][0]}/raw`);
    assert.equal(aged.status, 410);
    assert.match(aged.json.error, /retention period/);
    // A round now keeps what is younger than its days.
    const fresh = queueIdOf((await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'fresh', body }))).response);
    assert.deepEqual(await s.retention.job.run(Date.now() + 6 * DAY), []);
    await logEntry(api, nodeId, fresh, 'kept');

    // Retention off (rules pushed from the master): nothing is kept, the log entry says so.
    const off = await putRules(api, { enabled: false });
    await waitUntil(() => s.rules.current().version === off, 'retention off on the scanner');
    const unkept = queueIdOf((await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'not kept' }))).response);
    const entry = await logEntry(api, nodeId, unkept);
    assert.equal(entry.retained, null);
    assert.deepEqual(retainedFiles(s.dataDirPath), [`${fresh}.eml`], 'only the copy kept before');
    const notKept = await api.get(`/api/v1/messages/${nodeId}/${unkept}/raw`);
    assert.equal(notKept.status, 404);
    assert.equal(notKept.json.code, 'MOAT_ERR_NOT_RETAINED');
  } finally {
    await s.close();
    await master.close();
    await downstream.close();
  }
});

test('a copy on an offline node: a clear error naming it; after a restart the copy is served again and stray files are swept', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  let s = await startClusterScanner('sleeper', master.wsUrl, downstream.port);
  const dataDir = s.dataDirPath;
  try {
    const api = await apiClient(master.url);
    const nodeId = await nodeIdOf(api, 'sleeper');
    const id = queueIdOf((await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'sleepy' }))).response);
    await logEntry(api, nodeId, id, 'kept');
    await s.close();
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.find((n: { name: string }) => n.name === 'sleeper').online === false, 'sleeper offline');
    for (const r of [await api.get(`/api/v1/messages/${nodeId}/${id}/raw`), await api.post(`/api/v1/messages/${nodeId}/${id}/redeliver`)]) {
      assert.equal(r.status, 503);
      assert.equal(r.json.code, 'MOAT_ERR_NODE_OFFLINE');
      assert.equal(r.json.details.node, 'sleeper');
    }

    // A file the index does not hold (a link whose transaction never committed) is swept at start.
    writeFileSync(join(dataDir, 'retained', 'ZZZZZZZZZZZZZZZZZZZZ.eml'), 'stray');
    s = await startClusterScanner('sleeper', master.wsUrl, downstream.port, { dataDir });
    assert.deepEqual(retainedFiles(dataDir), [`${id}.eml`]);
    await nodeIdOf(api, 'sleeper');
    const raw = await api.get(`/api/v1/messages/${nodeId}/${id}/raw`);
    assert.equal(raw.status, 200, raw.text);
    assert.match(raw.text, /Subject: sleepy/);

    // A copy that cannot be made (here retained/ is no longer a folder) never costs the message:
    // accepted, delivered, logged without a copy; and a copy whose file vanished is gone, not an error.
    rmSync(join(dataDir, 'retained'), { recursive: true });
    writeFileSync(join(dataDir, 'retained'), 'not a folder');
    const before = downstream.received.length;
    const sent = await sendMail(s.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'no room' }));
    assert.ok(sent.ok, sent.response);
    await downstream.waitFor(before + 1);
    assert.equal((await logEntry(api, nodeId, queueIdOf(sent.response))).retained, null);
    const vanished = await api.get(`/api/v1/messages/${nodeId}/${id}/raw`);
    assert.equal(vanished.status, 410);
    assert.equal(vanished.json.code, 'MOAT_ERR_GONE');
    assert.equal(vanished.json.details.node, 'sleeper');
  } finally {
    await s.close();
    await master.close();
    await downstream.close();
  }
});
