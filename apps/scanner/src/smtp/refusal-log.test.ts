import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MessageLoggedSchema, validator, type MessageLogged } from '@moat/protocol';
import { RefusalLog, type RefusedTransaction } from './refusal-log.ts';

const silent = pino({ level: 'silent' });

/** A logger whose lines land, parsed, in `lines` (pino writes to it synchronously). */
function memoryLogger() {
  const lines: Array<Record<string, unknown> & { level: number; event?: string; msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

function setup(settings: { perIpBurst?: number; windowMs?: number; maxTrackedIps?: number } = {}, write?: (e: MessageLogged) => Promise<void>, log: pino.Logger = silent) {
  let clock = Date.UTC(2026, 0, 1);
  const written: MessageLogged[] = [];
  const refusals = new RefusalLog({
    settings: { perIpBurst: 3, windowMs: 60_000, maxTrackedIps: 100, ...settings },
    write: write ?? (async (e) => void written.push(e)),
    now: () => clock,
    log,
  });
  return { refusals, written, advance: (ms: number) => (clock += ms) };
}

const refusal = (ip: string, over: Partial<RefusedTransaction> = {}): RefusedTransaction => ({
  ip,
  helo: 'client.test',
  stage: 'mail',
  mailFrom: 'spammer@blocked.example',
  rcptTo: [],
  reasons: [{ kind: 'sender-list', rule: 'senderBlock', match: '*@blocked.example', action: 'reject' }],
  reply: '550 5.7.1 Sender blocked',
  rulesVersion: 4,
  ...over,
});

test('a refused transaction becomes a message-log entry: action reject, status refused, its reply, stage and reasons, a new queue id', async () => {
  const { refusals, written } = setup();
  await refusals.refused(refusal('192.0.2.1'));
  await refusals.refused(refusal('192.0.2.1'));
  assert.equal(written.length, 2, 'written before the promise resolves');
  const e = written[0]!;
  assert.match(e.id, /^[0-9A-Z]{20}$/);
  assert.notEqual(e.id, written[1]!.id);
  assert.equal(e.action, 'reject');
  assert.equal(e.status, 'refused');
  assert.equal(e.clientIp, '192.0.2.1');
  assert.equal(e.mailFrom, 'spammer@blocked.example');
  assert.equal(e.rulesVersion, 4);
  assert.deepEqual(e.reasons, [{ kind: 'sender-list', rule: 'senderBlock', match: '*@blocked.example', action: 'reject' }]);
  assert.deepEqual(e.refusal, { stage: 'mail', reply: '550 5.7.1 Sender blocked', count: 1, firstAt: e.receivedAt, lastAt: e.receivedAt });
  assert.ok(validator(MessageLoggedSchema)(e), 'the master accepts it');
});

test('a flood from one address: the first perIpBurst refusals one by one, the rest one aggregate entry whose count makes up the total', async () => {
  const { refusals, written } = setup({ perIpBurst: 10 });
  for (let i = 0; i < 1000; i++) await refusals.refused(refusal('198.51.100.7', { stage: 'connect', mailFrom: '', reply: '554 5.7.1 Client address blocked' }));
  assert.equal(written.length, 10, 'the aggregate waits for the end of its window');
  await refusals.close();
  assert.equal(written.length, 11);
  const agg = written[10]!;
  assert.equal(agg.refusal?.count, 990);
  assert.equal(written.reduce((n, e) => n + (e.refusal?.count ?? 0), 0), 1000);
  assert.equal(agg.reasons[0]?.kind, 'refusal');
  assert.match(agg.reasons[0]!.match, /^990 refused transactions from 198\.51\.100\.7 /);
  assert.equal(agg.reasons.length, 2, 'the summary and the one distinct reason');
});

test('other addresses are not held back by a flooding one', async () => {
  const { refusals, written } = setup({ perIpBurst: 2 });
  for (let i = 0; i < 50; i++) await refusals.refused(refusal('198.51.100.7'));
  await refusals.refused(refusal('203.0.113.9'));
  assert.equal(written.length, 3);
  assert.equal(written[2]!.clientIp, '203.0.113.9');
  await refusals.close();
});

test('the window ends: its aggregate is written and the address gets a fresh burst', async () => {
  const { refusals, written, advance } = setup({ perIpBurst: 1, windowMs: 1000 });
  await refusals.refused(refusal('192.0.2.1', { mailFrom: 'a@x.test' }));
  await refusals.refused(refusal('192.0.2.1', { mailFrom: 'b@x.test' }));
  await refusals.refused(refusal('192.0.2.1', { mailFrom: 'c@x.test' }));
  assert.equal(written.length, 1);
  advance(1000);
  await refusals.refused(refusal('192.0.2.1', { mailFrom: 'd@x.test' }));
  assert.equal(written.length, 3, 'the old aggregate, then the new window\'s first refusal');
  assert.equal(written[1]!.refusal?.count, 2);
  assert.equal(written[1]!.mailFrom, 'c@x.test', 'the aggregate shows the last refusal it stands for');
  assert.equal(written[2]!.refusal?.count, 1);
  await refusals.close();
  assert.equal(written.length, 3, 'nothing left to write');
});

test('the aggregate is written by its timer when no further refusal comes', async () => {
  let wrote!: () => void;
  const done = new Promise<void>((r) => (wrote = r));
  const written: MessageLogged[] = [];
  const refusals = new RefusalLog({
    settings: { perIpBurst: 0, windowMs: 20, maxTrackedIps: 10 },
    write: async (e) => {
      written.push(e);
      wrote();
    },
    now: Date.now,
    log: silent,
  });
  await refusals.refused(refusal('192.0.2.1'));
  await refusals.refused(refusal('192.0.2.1'));
  await done;
  assert.equal(written.length, 1);
  assert.equal(written[0]!.refusal?.count, 2);
  await refusals.close();
  assert.equal(written.length, 1);
});

test('past maxTrackedIps, new addresses share one aggregate (memory stays bounded)', async () => {
  const { refusals, written } = setup({ perIpBurst: 5, maxTrackedIps: 2 });
  for (let i = 0; i < 10; i++) await refusals.refused(refusal(`2001:db8::${i}`));
  assert.equal(written.length, 2, 'two tracked addresses, one entry each');
  await refusals.close();
  assert.equal(written.length, 3);
  assert.equal(written[2]!.refusal?.count, 8);
  assert.equal(written[2]!.clientIp, '');
  assert.match(written[2]!.reasons[0]!.match, /maxTrackedIps/);
});

test('a failed write is logged, never thrown at the SMTP session; close still completes', async () => {
  const { log, lines } = memoryLogger();
  const attempted: string[] = [];
  const { refusals } = setup({ perIpBurst: 1 }, async (e) => {
    attempted.push(e.id);
    throw new Error('disk full');
  }, log);
  // The first is written on its own (its promise is what the SMTP session awaits), the second joins
  // an aggregate that close() writes: both writes fail.
  await refusals.refused(refusal('192.0.2.1'));
  await refusals.refused(refusal('192.0.2.1'));
  await refusals.close();
  assert.equal(attempted.length, 2, 'the entry and the aggregate were both tried');
  const errors = lines.filter((l) => l.event === 'SMTP_REFUSAL_LOG_ERROR');
  assert.deepEqual(errors.map((l) => ({ level: l.level, queueId: l['queueId'], err: (l['err'] as { message?: string } | undefined)?.message, msg: l.msg })),
    attempted.map((id) => ({ level: 50, queueId: id, err: 'disk full', msg: 'a refusal could not be logged' })),
    'one error line per failed write, naming its entry and the cause');
});

test('entries fit the wire schema limits (long fields are clipped)', async () => {
  const { refusals, written } = setup();
  await refusals.refused(refusal('192.0.2.1', { stage: 'rcpt', rcptTo: Array.from({ length: 2000 }, (_, i) => `${'x'.repeat(600)}${i}@example.test`), reply: `550 ${'y'.repeat(1000)}` }));
  const e = written[0]!;
  assert.equal(e.rcptTo.length, 1000);
  assert.ok(e.rcptTo.every((r) => r.length <= 512));
  assert.equal(e.refusal?.reply.length, 600);
  assert.ok(validator(MessageLoggedSchema)(e), 'the master accepts it');
});
