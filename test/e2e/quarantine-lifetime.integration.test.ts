import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validateRules } from '@moat/rules';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster, type ApiClient } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * Quarantine lifetime (issue 19, item 3) with an injected clock: held mail past its kind's days
 * is purged on the scanner that holds it (file and row) and shows `expired` on the master; a
 * smaller disk budget purges the oldest held mail first.
 */

const DAY = 86_400_000;
let downstream: Downstream;
let master: Awaited<ReturnType<typeof startTestMaster>>;
let scanner: Awaited<ReturnType<typeof startClusterScanner>>;
let api: ApiClient;

before(async () => {
  // The organisation's server: gone@ has left, refused after the gateway's 250 (a downstream 5xx).
  downstream = await startDownstream({ rcpt: (a) => (a === 'gone@example.test' ? { code: 550, text: '5.1.1 gone@example.test: no such user' } : undefined) });
  const content = [...BASE_RULES.content, { id: 'reject-me', target: 'subject', contains: 'REJECT-ME', action: 'reject' }];
  master = await startTestMaster({ seed: validateRules({ ...BASE_RULES, content, quarantine: { days: { policy: 2, spam: 30, virus: 30 } } }) });
  scanner = await startClusterScanner('holder', master.wsUrl, downstream.port);
  await waitUntil(() => scanner.link?.isConnected, 'scanner linked');
  api = await apiClient(master.url);
});

after(async () => {
  await scanner?.close();
  await master?.close();
  await downstream?.close();
});

async function hold(subject: string, to = 'user@example.test'): Promise<string> {
  const r = await sendMail(scanner.smtpPort, { from: 'sender@origin.test', to: [to] }, message({ subject: `QUARANTINE-ME ${subject}` }));
  assert.equal(r.code, 250, r.response);
  const id = /queued as (\w+)/.exec(r.response)![1]!;
  await waitUntil(async () => (await api.get(`/api/v1/quarantine?status=all&subject=${encodeURIComponent(subject)}`)).json?.items?.length === 1, `${subject} indexed on the master`);
  return id;
}

/** DSNs the scanner made: queued (a DSN is queued in the same transaction as the failure it reports) or received downstream. */
const dsns = () => ({
  queued: (scanner.db.prepare("SELECT count(*) AS n FROM queue WHERE kind = 'dsn'").get() as { n: number }).n,
  received: downstream.received.filter((m) => m.from === '').length,
});
const status = (id: string) => (scanner.db.prepare('SELECT status FROM messages WHERE id = ?').get(id) as { status: string } | undefined)?.status;

const row = (id: string) => scanner.db.prepare('SELECT file, status FROM quarantine WHERE id = ?').get(id) as { file: string; status: string };
const onMaster = async (subject: string) => (await api.get(`/api/v1/quarantine?status=all&subject=${encodeURIComponent(subject)}`)).json.items[0];

test('held mail past its kind\'s days is purged on its scanner and shows expired on the master', async () => {
  const id = await hold('lifetime-one');
  const file = join(scanner.dataDirPath, 'quarantine', row(id).file);
  assert.ok(existsSync(file));
  // Policy mail (a content rule held it) lives 2 days here: a day later it is still held.
  assert.deepEqual(await scanner.quarantineExpiry.run(Date.now() + DAY), []);
  assert.equal(row(id).status, 'held');
  const purged = await scanner.quarantineExpiry.run(Date.now() + 2 * DAY + 60_000);
  assert.deepEqual(purged.map((p) => [p.id, p.kind, p.reason]), [[id, 'policy', 'age']]);
  assert.equal(row(id).status, 'expired');
  assert.equal(existsSync(file), false, 'the file is gone');
  assert.equal((scanner.db.prepare('SELECT status FROM messages WHERE id = ?').get(id) as { status: string }).status, 'expired');
  await waitUntil(async () => (await onMaster('lifetime-one'))?.status === 'expired', 'expired on the master');
  assert.equal((await api.get('/api/v1/quarantine?status=expired')).json.items.length, 1);
  // The master's metrics: nothing held on the node any more, one purged.
  const metrics = (await api.get('/metrics')).text;
  assert.match(metrics, /^moat_quarantine_expired_messages\{node="holder"\} 1$/m);
  assert.doesNotMatch(metrics, /^moat_quarantine_held_messages\{node="holder"\} [1-9]/m);
  assert.equal((await api.get('/api/v1/quarantine')).json.items.some((q: { id: string }) => q.id === id), false, 'no longer in the held list');
});

test('over the disk budget the oldest held mail is purged first', async () => {
  const older = await hold('budget-older');
  const newer = await hold('budget-newer');
  const size = (scanner.db.prepare('SELECT size FROM quarantine WHERE id = ?').get(newer) as { size: number }).size;
  const current = (await api.get('/api/v1/rules')).json;
  const put = await api.put(`/api/v1/rules?baseVersion=${current.version}`, { ...current.document, quarantine: { days: { policy: 2, spam: 30, virus: 30 }, maxBytes: size + 10 } });
  assert.equal(put.status, 200, put.text);
  // The rules change runs a round at once (the nudge): the older one goes, the newer fits.
  await waitUntil(() => row(older).status === 'expired', 'the older held message purged by budget');
  assert.equal(row(newer).status, 'held');
  await waitUntil(async () => (await onMaster('budget-older'))?.status === 'expired', 'expired on the master');
  assert.equal((await onMaster('budget-newer')).status, 'held');
  const metrics = (await api.get('/metrics')).text;
  assert.match(metrics, /^moat_quarantine_held_messages\{node="holder"\} 1$/m);
  assert.match(metrics, new RegExp(`^moat_quarantine_held_bytes\\{node="holder"\\} ${size}$`, 'm'));
  assert.match(metrics, /^moat_quarantine_expired_messages\{node="holder"\} 2$/m);
});

test('no bounce for quarantined or rejected mail: an expired message, one refused at DATA, one released and refused downstream; delivered mail that is refused after the 250 does bounce', async () => {
  const before = dsns();
  // Expired: purged by age, expired on the master (the observable end), nothing queued, nothing sent.
  const expired = await hold('no-dsn-expired', 'gone@example.test');
  assert.ok((await scanner.quarantineExpiry.run(Date.now() + 3 * DAY)).some((p) => p.id === expired), 'purged (with what the earlier tests left held)');
  await waitUntil(async () => (await onMaster('no-dsn-expired'))?.status === 'expired', 'expired on the master');
  // Refused at DATA: the sender is told in the session (550), the message log says rejected.
  const refused = await sendMail(scanner.smtpPort, { from: 'sender@origin.test', to: ['gone@example.test'] }, message({ subject: 'REJECT-ME no-dsn' }));
  assert.equal(refused.code, 550, refused.response);
  // Released, then refused by the downstream: the release fails (bounced in the log), no DSN to the spam's sender.
  const released = await hold('no-dsn-released', 'gone@example.test');
  assert.equal((await api.post(`/api/v1/quarantine/${released}/release`)).status, 200);
  await waitUntil(() => status(released) === 'bounced', 'the released message refused downstream');
  assert.deepEqual(dsns(), before, 'no DSN for the expired, the refused or the released message');
  // Delivered mail (never held) refused after the 250 is bounced to its sender, as RFC 5321 asks.
  const sent = await sendMail(scanner.smtpPort, { from: 'sender@origin.test', to: ['gone@example.test'] }, message({ subject: 'plain mail to a departed user' }));
  assert.equal(sent.code, 250, sent.response);
  await waitUntil(() => downstream.received.some((m) => m.from === '' && m.to.includes('sender@origin.test')), 'the DSN reached the sender');
  assert.equal(dsns().received, before.received + 1, 'exactly one DSN: the delivered message\'s');
});
