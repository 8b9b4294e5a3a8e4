import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { MAX_INJECT_BYTES, type ToMaster, type ToScanner } from '@moat/protocol';
import { openDatabase } from '@moat/storage';
import { SCANNER_MIGRATIONS } from '../store/migrations.ts';
import { createQuarantineStore } from '../store/quarantine-store.ts';
import { createMessageStore } from '../store/message-store.ts';
import { createQueueStore } from '../relay/queue-store.ts';
import { createRequestHandlers } from './request-handlers.ts';
import { createRetentionStore } from '../retention/retention-store.ts';
import { compileRules, demoRules } from '@moat/rules';

function setup(sync: () => Promise<void> = () => Promise.resolve()) {
  const dir = mkdtempSync(join(tmpdir(), 'moat-handlers-'));
  const dirs = { queue: join(dir, 'queue'), quarantine: join(dir, 'quarantine'), retained: join(dir, 'retained') };
  mkdirSync(dirs.queue);
  mkdirSync(dirs.quarantine);
  mkdirSync(dirs.retained);
  const db = openDatabase(join(dir, 'scanner.sqlite'), SCANNER_MIGRATIONS, { synchronous: 'normal' });
  const queue = createQueueStore(db);
  let woken = 0;
  // What the relay worker answers to a bounce, by queue id (its own behaviour is tested end to end: console-admin).
  const bounces = new Map<string, 'bounced' | 'busy'>();
  const handlers = createRequestHandlers({
    db, queue, quarantine: createQuarantineStore(db, dirs), queueDir: dirs.queue, wakeRelay: () => woken++, bounceQueued: async (id) => bounces.get(id) ?? 'not-found', hostname: 'scanner.test', nodeName: 'scanner-a',
    now: () => 1_700_000_000_000, log: pino({ level: 'silent' }),
    retention: createRetentionStore(db, dirs), rules: () => compileRules(demoRules()), sync,
  });
  const ask = async (frame: Extract<ToScanner, { id: string }>): Promise<ToMaster[]> => {
    const sent: ToMaster[] = [];
    await handlers.handle(frame, (f) => sent.push(f));
    return sent;
  };
  return { db, dirs, queue, ask, bounces, woken: () => woken, close: () => { db.close(); rmSync(dir, { recursive: true, force: true }); } };
}

const inject = (data: Buffer, extra: Partial<{ mailFrom: string; rcptTo: string[] }> = {}) =>
  ({ type: 'queue.inject' as const, id: 'r1', mailFrom: 'quarantine@example.test', rcptTo: ['bob@example.test'], data: data.toString('base64'), ...extra });

test('queue.inject writes the message into the queue folder and a queue row, then answers with the queue id', async (t) => {
  const s = setup();
  t.after(s.close);
  const raw = Buffer.from('From: quarantine@example.test\r\nTo: bob@example.test\r\nSubject: digest\r\n\r\nhello\r\n');
  const [answer] = await s.ask(inject(raw));
  assert.equal(answer?.type, 'result');
  assert.equal(answer?.type === 'result' && answer.ok, true);
  const queueId = (answer as { data: { queueId: string } }).data.queueId;
  assert.match(queueId, /^[0-9A-Za-z]{20}$/);
  const entry = s.queue.get(queueId)!;
  assert.deepEqual({ kind: entry.kind, mailFrom: entry.mailFrom, rcptTo: entry.rcptTo, attempts: entry.attempts }, { kind: 'injected', mailFrom: 'quarantine@example.test', rcptTo: ['bob@example.test'], attempts: 0 });
  assert.deepEqual(readFileSync(join(s.dirs.queue, entry.file)), raw);
  assert.equal(s.woken(), 1, 'the relay worker is woken');
  // Not a message of the log: nothing for the master's outbox.
  assert.equal((s.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 0);
});

test('queue.inject refuses an empty, oversized or header-less message and changes nothing', async (t) => {
  const s = setup();
  t.after(s.close);
  for (const bad of [Buffer.from('not a message at all'), Buffer.alloc(MAX_INJECT_BYTES + 1, 'a'), Buffer.from('\r\n\r\nbody')]) {
    const [answer] = await s.ask(inject(bad));
    assert.equal(answer?.type === 'result' && answer.ok, false);
    assert.equal((answer as { code: string }).code, 'MOAT_ERR_BAD_MESSAGE');
  }
  assert.equal(s.queue.stats().n, 0);
  assert.deepEqual(readdirSync(s.dirs.queue), []);
});

test('a queue.delete of injected mail reports nothing to the master', async (t) => {
  const s = setup();
  t.after(s.close);
  const [answer] = await s.ask(inject(Buffer.from('Subject: x\r\n\r\nbody\r\n')));
  const queueId = (answer as { data: { queueId: string } }).data.queueId;
  const [deleted] = await s.ask({ type: 'queue.delete', id: 'r2', queueId });
  assert.equal(deleted?.type === 'result' && deleted.ok, true);
  assert.equal((s.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 0);
});

test('queue.bounce answers the relay worker\'s outcome: done, not found, or a conflict while the entry is being delivered', async (t) => {
  const s = setup();
  t.after(s.close);
  s.bounces.set('BOUNCEME000000000001', 'bounced').set('DELIVERING0000000001', 'busy');
  const [done] = await s.ask({ type: 'queue.bounce', id: 'r1', queueId: 'BOUNCEME000000000001' });
  assert.equal(done?.type === 'result' && done.ok, true);
  const [missing] = await s.ask({ type: 'queue.bounce', id: 'r2', queueId: 'NOSUCHENTRY000000001' });
  assert.equal((missing as { code: string }).code, 'MOAT_ERR_NOT_FOUND');
  const [busy] = await s.ask({ type: 'queue.bounce', id: 'r3', queueId: 'DELIVERING0000000001' });
  assert.equal((busy as { code: string }).code, 'MOAT_ERR_CONFLICT');
  assert.match((busy as { message: string }).message, /being delivered right now/);
});

test('quarantine.release-rcpt queues a copy for those recipients only; the message stays held for the others', async (t) => {
  const s = setup();
  t.after(s.close);
  const id = 'HELDMESSAGE000000001';
  const raw = 'Subject: QUARANTINE-ME\r\n\r\nfor both\r\n';
  writeFileSync(join(s.dirs.quarantine, `${id}.eml`), raw);
  await createMessageStore(s.db).recordQuarantined({
    id, receivedAt: 1, clientIp: '192.0.2.1', helo: 'mx', mailFrom: 'a@x.example', rcptTo: ['Bob@example.test', 'carol@example.test'], subject: 'QUARANTINE-ME',
    messageId: '<m@x>', size: raw.length, action: 'quarantine', score: 0, reasons: [], rulesVersion: 1, status: 'quarantined',
  }, `${id}.eml`);
  const [refused] = await s.ask({ type: 'quarantine.release-rcpt', id: 'r1', messageId: id, rcptTo: ['dave@example.test'] });
  assert.equal((refused as { code: string }).code, 'MOAT_ERR_NOT_RECIPIENT');
  const [answer] = await s.ask({ type: 'quarantine.release-rcpt', id: 'r2', messageId: id, rcptTo: ['bob@example.test'] });
  assert.equal(answer?.type === 'result' && answer.ok, true);
  const copy = s.queue.get((answer as { data: { queueId: string } }).data.queueId)!;
  assert.deepEqual({ messageId: copy.messageId, rcptTo: copy.rcptTo, kind: copy.kind }, { messageId: id, rcptTo: ['Bob@example.test'], kind: 'message' });
  assert.equal(readFileSync(join(s.dirs.queue, copy.file), 'utf8'), raw);
  assert.equal(readFileSync(join(s.dirs.quarantine, `${id}.eml`), 'utf8'), raw, 'still in quarantine');
  assert.equal((s.db.prepare('SELECT status FROM quarantine WHERE id = ?').get(id) as { status: string }).status, 'held');
  assert.equal(s.woken(), 1);
});

test('a change is acknowledged only once it is on disk; a failed sync answers an error instead of success', async (t) => {
  let release!: () => void;
  let syncAsked!: () => void;
  const syncStarted = new Promise<void>((r) => (syncAsked = r));
  let failNext = false;
  const s = setup(() => {
    if (failNext) return Promise.reject(new Error('EIO: i/o error'));
    syncAsked();
    return new Promise<void>((r) => (release = r));
  });
  t.after(s.close);
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const sent: ToMaster[] = [];
  const asked = (async () => sent.push(...(await s.ask(inject(raw)))))();
  // The handler asks for the sync after its commit; no timed wait (a loaded CI machine once needed more than 30 ms).
  await syncStarted;
  assert.equal(s.queue.stats().n, 1, 'committed');
  assert.equal(sent.length, 0, 'but not acknowledged before the sync');
  release();
  await asked;
  assert.equal(sent[0]?.type === 'result' && sent[0].ok, true);
  // A read-only request does not wait for a sync.
  failNext = true;
  const [listed] = await s.ask({ type: 'queue.list', id: 'r3', limit: 10 });
  assert.equal(listed?.type === 'result' && listed.ok, true);
  const [failed] = await s.ask(inject(raw));
  assert.equal(failed?.type === 'result' && failed.ok, false);
  assert.equal((failed as { code: string }).code, 'MOAT_ERR_INTERNAL');
  assert.match((failed as { message: string }).message, /could not write the change to disk/);
});
