import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDirs, openDatabase } from '@moat/storage';
import { compileRules, validateRules } from '@moat/rules';
import { SCANNER_MIGRATIONS } from '../store/migrations.ts';
import { createMessageStore, type MessageRecord, type QueueEntry } from '../store/message-store.ts';
import { createRetentionStore } from './retention-store.ts';
import { shouldRetain } from './retention-policy.ts';
import { redeliveryHeaders, unacceptedRecipient } from './redelivery.ts';
import { RetentionJob } from './retention-job.ts';
import { pino } from 'pino';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 5);

/** A scanner database and folders in a fresh temp dir; the files are real, the copies hard links like in the scanner. */
async function setup(t: { after(fn: () => void): void }) {
  const root = mkdtempSync(join(tmpdir(), 'moat-retention-'));
  const dirs = { queue: join(root, 'queue'), retained: join(root, 'retained') };
  await ensureDirs(dirs.queue, dirs.retained);
  const db = openDatabase(join(root, 'scanner.sqlite'), SCANNER_MIGRATIONS);
  t.after(() => {
    db.close();
    rmSync(root, { recursive: true, force: true });
  });
  const retention = createRetentionStore(db, dirs);
  const messages = createMessageStore(db, { retention });
  let n = 0;
  /** Accept one message of `size` bytes at `at`, its copy kept under `maxBytes`. */
  async function accept(size: number, at: number, maxBytes = 1_000_000) {
    const id = `M${String(++n).padStart(19, '0')}`;
    const file = `${id}.eml`;
    writeFileSync(join(dirs.retained, file), 'x'.repeat(size));
    const m: MessageRecord = {
      id, receivedAt: at, clientIp: '192.0.2.1', helo: 'mx.test', mailFrom: 'a@origin.test', rcptTo: ['b@example.test'], subject: 's', messageId: '<m@t>',
      size, action: 'deliver', score: 0, reasons: [], rulesVersion: 1, status: 'queued',
    };
    const q: QueueEntry = { id, messageId: id, file, mailFrom: m.mailFrom, rcptTo: m.rcptTo, prependHeaders: [], subjectPrefix: '', createdAt: at, nextAttemptAt: at, attempts: 0, lastError: null, kind: 'message' };
    const removed = await messages.recordQueued(m, q, { file, size, prependHeaders: ['X-Moat-Verdict: deliver'], subjectPrefix: '[T]', maxBytes });
    if (removed) await retention.unlinkAll(removed);
    return { id, removed };
  }
  const events = (type: string) => (db.prepare('SELECT payload FROM outbox WHERE type = ? ORDER BY seq').pluck().all(type) as string[]).map((p) => JSON.parse(p));
  return { db, dirs, retention, accept, events };
}

test('the budget is held in the accepting transaction: oldest copies go first, never the one just kept', async (t) => {
  const { retention, accept, events, dirs } = await setup(t);
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) ids.push((await accept(100, T0 + i, 350)).id);
  assert.deepEqual(retention.usage(), { bytes: 300, copies: 3 });
  assert.deepEqual(readdirSync(dirs.retained).sort(), ids.slice(5).map((id) => `${id}.eml`));
  const expired = events('retained.expired');
  assert.deepEqual(expired.flatMap((e) => e.ids), ids.slice(0, 5));
  assert.ok(expired.every((e) => e.reason === 'budget'));
  // The log entry says which messages have a copy.
  assert.equal(events('message.logged')[0].retainedBytes, 100);
  // A copy bigger than the budget would evict everything: still the new one stays (the policy never asks for it).
  assert.equal(shouldRetain(validateRules({ version: 1, acceptedDomains: ['example.test'], retention: { maxBytes: 350 } }).retention, 'deliver', 351), false);
});

test('expiry: past the days first, then the oldest over a lowered budget; one event per batch with its reason', async (t) => {
  const { retention, accept, events, dirs } = await setup(t);
  const old = await accept(100, T0);
  const mid = await accept(100, T0 + 3 * DAY);
  const young = await accept(100, T0 + 6 * DAY);
  assert.deepEqual(await retention.expire({ days: 7, maxBytes: 1000 }, T0 + 7 * DAY - 1), [], 'nothing is past seven days yet');
  const r1 = await retention.expire({ days: 7, maxBytes: 1000 }, T0 + 7 * DAY + 1);
  assert.deepEqual(r1.map((r) => [r.reason, r.copies.map((c) => c.id)]), [['age', [old.id]]]);
  const r2 = await retention.expire({ days: 7, maxBytes: 150 }, T0 + 7 * DAY + 1);
  assert.deepEqual(r2.map((r) => [r.reason, r.copies.map((c) => c.id)]), [['budget', [mid.id]]]);
  assert.deepEqual(readdirSync(dirs.retained), [`${young.id}.eml`]);
  assert.deepEqual(retention.usage(), { bytes: 100, copies: 1 });
  assert.deepEqual(events('retained.expired').map((e) => e.reason), ['age', 'budget']);
  assert.equal(retention.get(old.id), undefined);
});

test('expiry works through more copies than one batch', async (t) => {
  const { retention, accept, events } = await setup(t);
  await Promise.all(Array.from({ length: 520 }, (_, i) => accept(10, T0 + i)));
  const removed = await retention.expire({ days: 1, maxBytes: 1_000_000 }, T0 + 2 * DAY);
  assert.deepEqual(removed.map((r) => r.copies.length), [500, 20]);
  assert.deepEqual(retention.usage(), { bytes: 0, copies: 0 });
  assert.equal(events('retained.expired').length, 2);
});

test('re-delivery: a new queue entry (hard link) for the same log entry, with trace headers above the first delivery\'s', async (t) => {
  const { db, retention, accept, dirs } = await setup(t);
  const { id } = await accept(100, T0);
  const out = await retention.redeliver(id, undefined, (queueId) => redeliveryHeaders({ id, queueId, hostname: 'mx.test', nodeName: 'n1', at: T0 + 1 }), T0 + 1);
  assert.notEqual(out, 'not-found');
  if (out === 'not-found') return;
  assert.deepEqual(out.rcptTo, ['b@example.test']);
  const row = db.prepare('SELECT * FROM queue WHERE id = ?').get(out.queueId) as { message_id: string; prepend_headers: string; subject_prefix: string; rcpt_to: string };
  assert.equal(row.message_id, id);
  assert.equal(row.subject_prefix, '[T]');
  const headers = JSON.parse(row.prepend_headers) as string[];
  assert.match(headers[0]!, new RegExp(`^Received: by mx\\.test \\(Moat\\) with local id ${out.queueId}`));
  assert.match(headers[1]!, new RegExp(`^X-Moat-Redelivered: .* \\(retained copy of ${id} on n1\\)$`));
  assert.equal(headers[2], 'X-Moat-Verdict: deliver');
  assert.equal(readFileSync(join(dirs.queue, `${out.queueId}.eml`), 'utf8'), 'x'.repeat(100));

  const other = await retention.redeliver(id, ['c@example.test'], () => [], T0 + 2);
  assert.ok(other !== 'not-found' && other.rcptTo[0] === 'c@example.test');
  assert.equal(await retention.redeliver('M9999999999999999999', undefined, () => [], T0), 'not-found');

  // Expired between the look-up and the link: not found, nothing queued.
  rmSync(join(dirs.retained, `${id}.eml`));
  const before = readdirSync(dirs.queue).length;
  assert.equal(await retention.redeliver(id, undefined, () => [], T0 + 3), 'not-found');
  assert.equal(readdirSync(dirs.queue).length, before);
});

test('the policy: per verdict, never a rejection, off means off', () => {
  const settings = (retention: Record<string, unknown>) => validateRules({ version: 1, acceptedDomains: ['example.test'], retention }).retention;
  const on = settings({});
  assert.deepEqual(on, { enabled: true, verdicts: ['deliver', 'tag', 'quarantine'], days: 7, maxBytes: 10 * 1024 ** 3 });
  for (const action of ['deliver', 'tag', 'quarantine'] as const) assert.equal(shouldRetain(on, action, 1000), true, action);
  assert.equal(shouldRetain(on, 'reject', 1000), false);
  assert.equal(shouldRetain(settings({ enabled: false }), 'deliver', 1000), false);
  assert.equal(shouldRetain(settings({ verdicts: ['quarantine'] }), 'deliver', 1000), false);
  assert.equal(shouldRetain(settings({ verdicts: ['quarantine'] }), 'quarantine', 1000), true);
  assert.throws(() => settings({ days: 0 }), /retention\.days/);
  assert.throws(() => settings({ verdicts: ['reject'] }), /retention\.verdicts/);
  assert.throws(() => settings({ keepForever: true }), /retention\.keepForever/);
});

test('a re-delivery goes only to accepted domains', () => {
  const rules = compileRules(validateRules({ version: 1, acceptedDomains: ['example.test', '*.sub.example.test'] }));
  assert.equal(unacceptedRecipient(rules, ['a@example.test', 'b@x.sub.example.test']), undefined);
  assert.equal(unacceptedRecipient(rules, ['a@example.test', 'b@elsewhere.example']), 'b@elsewhere.example');
  assert.equal(unacceptedRecipient(rules, ['@example.test']), '@example.test');
});

test('the expiry job: concurrent rounds run one after the other, and every removed copy is logged with its queue id', async (t) => {
  const { retention, accept } = await setup(t);
  const a = await accept(100, T0);
  const b = await accept(100, T0 + DAY);
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const settings = validateRules({ version: 1, acceptedDomains: ['example.test'], retention: { days: 1 } }).retention;
  const job = new RetentionJob({ store: retention, settings: () => settings, log, now: () => T0 + 3 * DAY });
  const [first, second] = await Promise.all([job.run(), job.run()]);
  assert.deepEqual(first.flatMap((r) => r.copies.map((c) => c.id)), [a.id, b.id]);
  assert.deepEqual(second, [], 'the second round found nothing left');
  assert.deepEqual(lines.filter((l) => l.event === 'RETAINED_REMOVED').map((l) => [l.queueId, l.reason]), [[a.id, 'age'], [b.id, 'age']]);
  const summary = lines.find((l) => l.event === 'RETENTION_EXPIRY');
  assert.equal(summary?.removed, 2);
  assert.equal(summary?.keptCopies, 0);
  await job.stop();
});
