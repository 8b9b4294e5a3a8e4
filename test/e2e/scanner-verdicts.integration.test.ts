import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedScanner } from '../helpers/scanner-harness.ts';
import { sendMail, message } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

const shared = sharedScanner();

const env = (to = 'user@example.test', from = 'alice@origin.test') => ({ from, to: [to] });

test('a clean message arrives downstream byte-identical after our headers', async () => {
  const raw = message({ subject: 'clean one', body: 'line one\r\n..leading dot\r\n\xe9t\xe9 bytes' });
  const before = shared.downstream.received.length;
  const r = await sendMail(shared.node.port, env(), Buffer.from(raw, 'latin1'));
  assert.equal(r.ok, true, r.response);
  assert.match(r.response, /^250 2\.0\.0 Ok: queued as [0-9A-Z]{20}$/);
  await shared.downstream.waitFor(before + 1);
  const got = shared.downstream.received[before]!;
  assert.deepEqual(got.to, ['user@example.test']);
  assert.equal(got.from, 'alice@origin.test');
  const text = got.raw.toString('latin1');
  assert.ok(text.endsWith(raw), 'original bytes are the tail of what downstream got');
  const added = text.slice(0, text.length - raw.length);
  assert.match(added, /^Received: from /);
  assert.match(added, /X-Moat-Verdict: deliver\r\n$/);
});

test('a blocked sender is refused at MAIL FROM with 550 5.7.1', async () => {
  const r = await sendMail(shared.node.port, env('user@example.test', 'spammer@blocked.example'), message());
  assert.equal(r.ok, false);
  assert.equal(r.code, 550);
  assert.match(r.response, /^550 5\.7\.1 /);
});

test('a recipient outside the accepted domains is relaying denied, 550 5.7.1', async () => {
  const r = await sendMail(shared.node.port, env('someone@elsewhere.test'), message());
  assert.equal(r.code, 550);
  assert.match(r.response, /^550 5\.7\.1 .*[Rr]elay/);
});

test('a matching content rule quarantines: file and index row exist, nothing goes downstream', async () => {
  const before = shared.downstream.received.length;
  const r = await sendMail(shared.node.port, env(), message({ subject: 'please QUARANTINE-ME now' }));
  assert.equal(r.ok, true, r.response);
  const id = /queued as ([0-9A-Z]{20})/.exec(r.response)?.[1];
  assert.ok(id);
  const row = shared.node.scanner.db.prepare('SELECT file, subject, reasons FROM quarantine WHERE id = ?').get(id) as { file: string; subject: string; reasons: string };
  assert.equal(row.subject, 'please QUARANTINE-ME now');
  assert.match(row.reasons, /quarantine-me/);
  assert.ok(existsSync(join(shared.node.scanner.dataDir, 'quarantine', row.file)));
  assert.match(readFileSync(join(shared.node.scanner.dataDir, 'quarantine', row.file), 'utf8'), /QUARANTINE-ME/);
  const queued = shared.node.scanner.db.prepare('SELECT count(*) AS n FROM queue WHERE message_id = ?').get(id) as { n: number };
  assert.equal(queued.n, 0);
  // A clean message sent after it goes through the same relay: once it is downstream and the
  // relay queue is empty (a row stays until the downstream's 250), everything queued before it
  // has been delivered too, so the quarantined one would be downstream now if it were going.
  const marker = await sendMail(shared.node.port, env(), message({ subject: 'after the quarantined one' }));
  assert.equal(marker.ok, true, marker.response);
  await shared.downstream.waitFor(before + 1);
  await waitUntil(() => (shared.node.scanner.db.prepare('SELECT count(*) AS n FROM queue').get() as { n: number }).n === 0, 'the relay queue empty');
  assert.deepEqual(shared.downstream.received.slice(before).map((m) => /^Subject: (.*)$/m.exec(m.raw.toString())?.[1]?.trim()), ['after the quarantined one'], 'only the clean message went downstream');
  const outbox = shared.node.scanner.db.prepare("SELECT type FROM outbox WHERE payload LIKE ?").all(`%${id}%`) as { type: string }[];
  assert.deepEqual(outbox.map((o) => o.type).sort(), ['message.logged', 'quarantine.added']);
});

test('a tag rule adds headers and a subject prefix, then delivers', async () => {
  const before = shared.downstream.received.length;
  const r = await sendMail(shared.node.port, env(), message({ subject: 'TAG-ME please' }));
  assert.equal(r.ok, true, r.response);
  await shared.downstream.waitFor(before + 1);
  const text = shared.downstream.received[before]!.raw.toString();
  assert.match(text, /X-Moat-Verdict: tag/);
  assert.match(text, /X-Moat-Reasons: content:tag-me/);
  assert.match(text, /\r\nSubject: \[SPAM\] TAG-ME please\r\n/);
});
