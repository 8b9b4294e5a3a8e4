import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GTUBE } from '@moat/rules';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { startSpamd, SPAMD_SKIP } from '../helpers/spamd.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

const envelope = { clientIp: '192.0.2.10', helo: 'client.test', mailFrom: 'sender@origin.test', rcptTo: ['user@example.test'] };
const plain = message({ from: 'sender@origin.test', to: 'user@example.test', subject: 'Lunch on Friday', body: 'Shall we meet at noon?' });

/**
 * "What would happen to this message?" (issue 20) over real sockets: a master and a scanner
 * joined to it; POST /api/v1/messages/test goes over the link as `message.test` and the scanner
 * answers the explanation of a dry run. Nothing reaches the log, the queue, the downstream or
 * the quarantine; a draft changes the verdict only in the test.
 */
test('message test: the verdict and its reasons from a scanner, as a dry run', { timeout: 120_000 }, async (t) => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port);
  t.after(async () => {
    await scanner.close();
    await master.close();
    await downstream.close();
  });
  const api = await apiClient(master.url);
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items[0]?.online, 'the scanner online');
  const rulesBefore = (await api.get('/api/v1/rules')).json.version as number;

  await t.test('GTUBE: reject, reason gtube, with the 550 the client would get', async () => {
    const res = await api.post('/api/v1/messages/test', { envelope, message: message({ subject: 'test', body: `hello ${GTUBE}` }) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.node, 'scanner-1');
    assert.equal(res.json.rules, rulesBefore);
    assert.equal(res.json.verdict.action, 'reject');
    assert.ok(res.json.verdict.reasons.some((r: { rule: string }) => r.rule === 'gtube'));
    assert.match(res.json.verdict.reply, /^550 5\.7\.1 /);
    assert.equal(res.json.refusedAt, null);
    assert.deepEqual(res.json.envelope.map((s: { stage: string; ok: boolean }) => [s.stage, s.ok]), [['connect', true], ['mail', true], ['rcpt', true]]);
    assert.match(res.json.modelVersion, /^\d{4}-\d{2}-\d{2}\.\d+$/);
  });

  await t.test('a plain message delivers; a content rule quarantines with its reason', async () => {
    const ok = await api.post('/api/v1/messages/test', { envelope, message: plain });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.verdict.action, 'deliver');
    assert.deepEqual(ok.json.verdict.reasons, []);
    assert.equal(ok.json.message.subject, 'Lunch on Friday');
    const held = await api.post('/api/v1/messages/test', { envelope, messageBase64: Buffer.from(message({ subject: 'QUARANTINE-ME now' })).toString('base64') });
    assert.equal(held.json.verdict.action, 'quarantine');
    assert.deepEqual(held.json.verdict.reasons.map((r: { kind: string; rule: string }) => [r.kind, r.rule]), [['content', 'quarantine-me']]);
  });

  await t.test('the envelope checks: a blocked sender and a recipient outside the accepted domains are refused where SMTP would', async () => {
    const res = await api.post('/api/v1/messages/test', { envelope: { ...envelope, mailFrom: 'spammer@blocked.example' }, message: plain });
    assert.equal(res.json.refusedAt, 'mail');
    const mail = res.json.envelope.find((s: { stage: string }) => s.stage === 'mail');
    assert.match(mail.reply, /^550 5\.7\.1 .*sender block list/);
    assert.equal(mail.reason.rule, 'senderBlock');
    const relay = await api.post('/api/v1/messages/test', { envelope: { ...envelope, rcptTo: ['someone@elsewhere.test'] }, message: plain });
    assert.equal(relay.json.refusedAt, 'rcpt');
    assert.match(relay.json.envelope.at(-1).reply, /Relaying denied/);
  });

  await t.test('a draft rule changes the verdict in the test only: the live rules keep their version and verdict', async () => {
    const draft = { ...BASE_RULES, content: [...BASE_RULES.content, { id: 'hold-lunch', target: 'subject', contains: 'Lunch', action: 'quarantine' }] };
    const res = await api.post('/api/v1/messages/test', { envelope, message: plain, rules: draft });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.rules, 'draft');
    assert.equal(res.json.verdict.action, 'quarantine');
    assert.ok(res.json.verdict.reasons.some((r: { rule: string }) => r.rule === 'hold-lunch'));
    assert.equal((await api.get('/api/v1/rules')).json.version, rulesBefore, 'nothing was saved');
    const again = await api.post('/api/v1/messages/test', { envelope, message: plain });
    assert.equal(again.json.verdict.action, 'deliver', 'the scanner still runs the live rules');
  });

  await t.test('bad input: 400 naming the field, 413 past the rules\' maxMessageBytes, 404 for an unknown node, 403 for an auditor', async () => {
    const none = await api.post('/api/v1/messages/test', { envelope });
    assert.equal(none.status, 400);
    assert.equal(none.json.details[0].field, 'body.message');
    const noRcpt = await api.post('/api/v1/messages/test', { envelope: { clientIp: '192.0.2.1', mailFrom: '' }, message: plain });
    assert.equal(noRcpt.status, 400);
    assert.equal(noRcpt.json.details[0].field, 'body.envelope.rcptTo');
    const badDraft = await api.post('/api/v1/messages/test', { envelope, message: plain, rules: { ...BASE_RULES, scoring: { tag: 5, quarantine: 2, reject: 20 } } });
    assert.equal(badDraft.status, 400);
    assert.equal(badDraft.json.details[0].field, 'body.rules.scoring.quarantine');
    const small = { ...BASE_RULES, limits: { maxMessageBytes: 1024, maxRecipients: 5 } };
    const big = await api.post('/api/v1/messages/test', { envelope, message: message({ body: 'x'.repeat(2000) }), rules: small });
    assert.equal(big.status, 413);
    assert.equal(big.json.details[0].field, 'body.message');
    // A message and a draft that together pass the link's frame cap: 413 naming the draft, and the link stays up.
    const bulky = { ...BASE_RULES, limits: { maxMessageBytes: 2 * 1024 * 1024, maxRecipients: 5 }, lists: { ...BASE_RULES.lists, senderBlock: Array.from({ length: 50_000 }, (_, i) => `blocked-sender-number-${i}@spam.example`) } };
    const huge = await api.post('/api/v1/messages/test', { envelope, message: message({ body: 'y'.repeat(1_800_000) }), rules: bulky });
    assert.equal(huge.status, 413, huge.text);
    assert.equal(huge.json.details[0].field, 'body.rules');
    assert.equal((await api.post('/api/v1/messages/test', { envelope, message: plain })).json.verdict.action, 'deliver', 'the link is still up');
    const unknown = await api.post('/api/v1/messages/test', { envelope, message: plain, node: 'nosuch' });
    assert.equal(unknown.status, 404);
    assert.equal((await api.post('/api/v1/users', { username: 'watcher', password: 'watcher-password-1', role: 'auditor' })).status, 201);
    const watcher = await apiClient(master.url, 'watcher', 'watcher-password-1');
    assert.equal((await watcher.post('/api/v1/messages/test', { envelope, message: plain })).status, 403);
  });

  await t.test('a logged message, tested from its retained copy with its logged envelope', async () => {
    const sent = await sendMail(scanner.smtpPort, { from: 'friend@origin.test', to: ['user@example.test'] }, message({ from: 'friend@origin.test', subject: 'Real mail', body: 'hello' }));
    assert.equal(sent.code, 250);
    await downstream.waitFor(1);
    let item: { nodeId: string; id: string } | undefined;
    await waitUntil(async () => (item = (await api.get('/api/v1/messages')).json.items[0]), 'the message logged on the master');
    const res = await api.post('/api/v1/messages/test', { fromLog: { nodeId: item!.nodeId, id: item!.id }, rules: { ...BASE_RULES, content: [{ id: 'real', target: 'subject', contains: 'Real', action: 'tag' }] } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.verdict.action, 'tag');
    assert.equal(res.json.message.subject, 'Real mail');
    assert.equal(res.json.envelope.find((s: { stage: string }) => s.stage === 'mail').subject, 'friend@origin.test');
    const audited = (await api.get('/api/v1/audit?action=message.test')).json.entries;
    assert.equal(audited.length, 1, 'testing a logged message is audited (a pasted one is not)');
    assert.equal(audited[0].target, `scanner-1/${item!.id}`);
    assert.equal(audited[0].details.action, 'tag');
    const missing = await api.post('/api/v1/messages/test', { fromLog: { nodeId: item!.nodeId, id: 'A'.repeat(20) } });
    assert.equal(missing.status, 404);
  });

  await t.test('nothing of the tests was stored, logged, queued, relayed or left in the spool', async () => {
    // One real message after every test: once it is logged, every event before it has arrived too.
    const sent = await sendMail(scanner.smtpPort, { from: 'last@origin.test', to: ['user@example.test'] }, message({ subject: 'Last' }));
    assert.equal(sent.code, 250);
    await downstream.waitFor(2);
    await waitUntil(async () => (await api.get('/api/v1/messages')).json.items.length === 2, 'the last message logged');
    const subjects = (await api.get('/api/v1/messages')).json.items.map((m: { subject: string }) => m.subject).sort();
    assert.deepEqual(subjects, ['Last', 'Real mail'], 'only the two real messages are in the log');
    assert.equal(downstream.received.length, 2);
    assert.equal((await api.get('/api/v1/quarantine')).json.items.length, 0);
    assert.deepEqual(readdirSync(join(scanner.dataDirPath, 'spool')), []);
  });
});

test('message test: a scanner that speaks protocol 6 is refused with 502 MOAT_ERR_NODE_TOO_OLD', { timeout: 60_000 }, async (t) => {
  const downstream = await startDownstream();
  // A master speaking 7 (one version apart is all a link allows): protocol 8 came after message tests.
  const master = await startTestMaster({ protocolVersion: 7 });
  const old = await startClusterScanner('scanner-old', master.wsUrl, downstream.port, { protocolVersion: 6 });
  t.after(async () => {
    await old.close();
    await master.close();
    await downstream.close();
  });
  const api = await apiClient(master.url);
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items[0]?.online, 'the old scanner online');
  const res = await api.post('/api/v1/messages/test', { envelope, message: plain });
  assert.equal(res.status, 502);
  assert.equal(res.json.code, 'MOAT_ERR_NODE_TOO_OLD');
  assert.match(res.json.error, /scanner-old speaks protocol 6: upgrade it/);
});

test('message test: a real spamd\'s signals carry their weight and the detection model version', { skip: SPAMD_SKIP, timeout: 180_000 }, async (t) => {
  const spamd = await startSpamd({ dir: tempDir('spamd-message-test').path });
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port, { analyzers: { spamassassin: { socket: spamd.socket, timeoutSeconds: 20 } } });
  t.after(async () => {
    await scanner.close();
    await master.close();
    await downstream.close();
    await spamd.stop();
  });
  const api = await apiClient(master.url);
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items[0]?.online, 'the scanner online');
  const res = await api.post('/api/v1/messages/test', { envelope, message: message({ subject: 'test', body: `hello ${GTUBE}` }) });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.analyzers, ['spamassassin']);
  const sa = res.json.verdict.reasons.find((r: { kind: string; rule: string }) => r.kind === 'analyzer' && r.rule === 'spamassassin');
  assert.ok(sa, JSON.stringify(res.json.verdict.reasons));
  assert.ok(sa.score > 0);
  assert.ok(sa.match.includes(`model ${res.json.modelVersion}`), sa.match);
  assert.match(sa.match, /GTUBE/);
  // The test's scan stays out of the engine's health figures: none counted over two heartbeats after it, then one real message is one scan.
  const samples = async () => (await api.get('/api/v1/nodes')).json.items[0]?.engines?.items.find((e: { engine: string }) => e.engine === 'spamassassin')?.samples;
  const seen = new Set<string>();
  await waitUntil(async () => (seen.add((await api.get('/api/v1/nodes')).json.items[0].lastSeen), seen.size >= 3), 'two heartbeats after the test', 10_000, 100);
  assert.ok(!(await samples()), 'no scan counted for the test');
  assert.equal((await sendMail(scanner.smtpPort, { from: 'real@origin.test', to: ['user@example.test'] }, message({ subject: 'Real' }))).code, 250);
  await waitUntil(async () => (await api.get('/api/v1/messages')).json.items.length === 1, 'the real message logged');
  await waitUntil(async () => (await samples()) === 1, 'the real message\'s scan counted', 10_000, 100);
  assert.deepEqual((await api.get('/api/v1/messages')).json.items.map((m: { subject: string }) => m.subject), ['Real']);
});
