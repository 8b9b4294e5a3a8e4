import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openDatabase } from '@moat/storage';
import { DATA_MIGRATION } from '../db/migration-002-data.ts';
import { CLUSTER_MIGRATION } from '../db/migration-003-cluster.ts';
import { RETENTION_MIGRATION } from '../db/migration-004-retention.ts';
import { REFUSALS_MIGRATION } from '../db/migration-008-refusals.ts';
import { EVENT_EPOCHS_MIGRATION } from '../db/migration-012-event-epochs.ts';
import { TOP_BY_NODE_MIGRATION } from '../db/migration-015-top-by-node.ts';
import { REPORT_SCHEDULES_MIGRATION } from '../db/migration-018-report-schedules.ts';
import { sqliteDatabase } from '../db/database.ts';
import { createIngest } from '../data/ingest.ts';
import { markQuarantine } from '../data/quarantine-repository.ts';
import { trafficFromLog } from '../data/reports-from-log.ts';
import { addNode, event, logged, quarantined, T0 } from '../data/test-fixtures.ts';
import { ReportRunner, type ReportRelay } from './report-runner.ts';
import { createScheduleRepository } from './schedule-repository.ts';
import { validateReportSchedule } from './schedule-schema.ts';

const DAY = 86_400_000;
const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

/**
 * The runner's bookkeeping and figures against a real database fed through the ingest, as
 * the cluster link feeds it. The relay stands in for the link (the end-to-end test runs the
 * real one and a real SMTP sink): it records what it was given and can have no node online.
 */
function setup() {
  const db = openDatabase(':memory:', [DATA_MIGRATION, CLUSTER_MIGRATION, RETENTION_MIGRATION, REFUSALS_MIGRATION, EVENT_EPOCHS_MIGRATION, TOP_BY_NODE_MIGRATION, REPORT_SCHEDULES_MIGRATION]);
  // The schedules' repository is still on better-sqlite3 (docs/database.md): SQLite only; the
  // figures' queries run on both engines in data/reports.test.ts.
  const kdb = sqliteDatabase(db).db;
  const sent: { nodeId: string; mailFrom: string; rcptTo: readonly string[]; raw: string }[] = [];
  const relay = { online: new Set([A, B]) };
  const fake: ReportRelay = {
    onlineNodeIds: () => relay.online,
    async injectMessage(nodeId, m) {
      sent.push({ nodeId, mailFrom: m.mailFrom, rcptTo: m.rcptTo, raw: decode(m.raw.toString()) });
      return { queueId: `R${String(sent.length).padStart(19, '0')}` };
    },
  };
  const clock = { t: T0 };
  const repo = createScheduleRepository(db);
  const runner = () => new ReportRunner({ db: kdb, repo, relay: fake, log: pino({ level: 'silent' }), now: () => clock.t, hostname: 'master.test' });
  const ingest = createIngest(kdb, 'sqlite');
  let seq = 0;
  const ready = Promise.all([addNode(kdb, A, 'scanner-a'), addNode(kdb, B, 'scanner-b')]);
  return { db: kdb, ready, sent, relay, clock, repo, runner, ingest: (node: string, type: string, payload: unknown) => ingest.ingestBatch(node, [event(++seq, type, payload)]) };
}

/** The text part, quoted-printable undone. */
function decode(raw: string): string {
  return raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

test('a daily report at its time: figures of the day before from the roll-ups and the quarantine index; once per period, even after a restart', async () => {
  const s = setup();
  await s.ready;
  // T0 is a Monday, 00:00 UTC. The day reported is Monday; Tuesday's mail is not in it.
  for (let n = 1; n <= 6; n++) s.ingest(n % 2 ? A : B, 'message.logged', logged(n, { mailFrom: 'news@shop.example', rcptTo: ['bob@example.com'] }));
  await s.ingest(A, 'message.logged', logged(7, { action: 'reject', status: 'rejected', mailFrom: 'spam@bad.example' }));
  await s.ingest(A, 'message.logged', logged(8, { action: 'quarantine', status: 'quarantined', rcptTo: ['bob@example.com', 'carol@example.com'] }));
  await s.ingest(A, 'quarantine.added', quarantined(8, { rcptTo: ['bob@example.com', 'carol@example.com'] }));
  await s.ingest(B, 'message.logged', logged(9, { action: 'quarantine', status: 'quarantined', rcptTo: ['dave@other.example'] }));
  await s.ingest(B, 'quarantine.added', quarantined(9, { rcptTo: ['dave@other.example'] }));
  await markQuarantine(s.db, B, quarantined(9).id, 'released', T0 + 3_600_000);
  await s.ingest(A, 'message.logged', logged(10, { receivedAt: T0 + DAY + 60_000 }));

  const made = s.repo.create(validateReportSchedule({ name: 'Daily traffic', sendAt: '06:00', recipients: ['ops@example.com', 'boss@example.com'], topLimit: 3 }), 'admin', T0 + 7 * 3_600_000);
  const runner = s.runner();
  s.clock.t = T0 + DAY + 5 * 3_600_000;
  assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'not yet 06:00');
  assert.equal(runner.nextDueAt(made), T0 + DAY + 6 * 3_600_000);
  s.clock.t = T0 + DAY + 6 * 3_600_000 + 30_000;
  assert.deepEqual(await runner.tick(), { sent: 1, failed: 0 });
  const mail = s.sent[0]!;
  assert.deepEqual(mail.rcptTo, ['ops@example.com', 'boss@example.com']);
  assert.equal(mail.mailFrom, 'postmaster@example.com');
  assert.match(mail.raw, /^Subject: Daily traffic, 2025-01-06: 9 messages, 2 quarantined, 1 rejected/m);
  assert.match(mail.raw, /^Message-ID:\s+<report\.[0-9a-f]{16}\.[0-9a-z]+\.[0-9a-z]+@master\.test>/m);
  assert.match(mail.raw, /^Auto-Submitted: auto-generated/m);
  assert.match(mail.raw, /^All messages +9\r?$/m);
  assert.match(mail.raw, /^scanner-a +5 +3 +0 +1 +1 /m, 'per node: 1, 3, 5, 7 (rejected), 8 (quarantined)');
  assert.match(mail.raw, /^scanner-b +4 +3 +0 +1 +0 /m);
  assert.match(mail.raw, /^1 +news@shop\.example +6\r?$/m);
  assert.match(mail.raw, /^example\.com +1 +1 +0 +0\r?$/m, 'one message to two of its users counts once');
  assert.match(mail.raw, /^other\.example +1 +0 +1 +0\r?$/m, 'released since');
  assert.match(mail.raw, /Content-Type: text\/html/);
  // The figures are the log's own (the roll-ups agree with a scan of the log).
  const fromLog = await trafficFromLog(s.db, { from: T0, to: T0 + DAY, bucket: 'day' });
  assert.equal(fromLog[0]!.total, 9);

  const round = s.repo.recentRounds(made.id, 10);
  assert.equal(round.length, 1);
  assert.equal(round[0]!.status, 'sent');
  assert.deepEqual(round[0]!.period, { start: T0, end: T0 + DAY });
  assert.equal(round[0]!.queueId, 'R0000000000000000001');
  assert.equal(round[0]!.sentAt, s.clock.t);

  assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'the same period is not sent twice');
  s.clock.t += 3_600_000;
  assert.deepEqual(await s.runner().tick(), { sent: 0, failed: 0 }, 'nor by a restarted master');
  assert.equal(s.sent.length, 1);
  assert.equal(runner.nextDueAt(made), T0 + 2 * DAY + 6 * 3_600_000);
  s.clock.t = T0 + 2 * DAY + 6 * 3_600_000;
  assert.deepEqual(await runner.tick(), { sent: 1, failed: 0 }, 'the next day\'s');
  assert.match(s.sent[1]!.raw, /^Subject: Daily traffic, 2025-01-07: 1 messages/m);
});

test('no scanner online: the round fails, is retried after a back-off, and is sent once', async () => {
  const s = setup();
  await s.ready;
  const made = s.repo.create(validateReportSchedule({ name: 'Weekly', period: 'weekly', weekday: 'monday', sendAt: '00:00', recipients: ['ops@example.com'], sender: 'reports@example.com' }), 'admin', T0 - DAY);
  s.relay.online = new Set();
  s.clock.t = T0;
  const runner = s.runner();
  assert.deepEqual(await runner.tick(), { sent: 0, failed: 1 });
  const failed = s.repo.recentRounds(made.id, 1)[0]!;
  assert.equal(failed.status, 'failed');
  assert.match(failed.error ?? '', /no scanner is online/);
  assert.deepEqual(failed.period, { start: T0 - 7 * DAY, end: T0 });
  s.relay.online = new Set([B]);
  s.clock.t = T0 + 59_000;
  assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'waits for the back-off');
  assert.equal(runner.nextDueAt(made), T0 + 60_000);
  s.clock.t = T0 + 60_000;
  assert.deepEqual(await runner.tick(), { sent: 1, failed: 0 });
  assert.equal(s.sent[0]!.mailFrom, 'reports@example.com');
  assert.match(s.sent[0]!.raw, /2024-12-30 to 2025-01-05/);
  const done = s.repo.recentRounds(made.id, 1)[0]!;
  assert.deepEqual([done.status, done.attempts, done.nodeId, done.error], ['sent', 2, B, null]);
  assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 });
});

test('a round due before the schedule was made, a disabled schedule: nothing sent; send now works either way and is not a round', async () => {
  const s = setup();
  await s.ready;
  const made = s.repo.create(validateReportSchedule({ name: 'Off', enabled: false, recipients: ['ops@example.com'], traffic: false, topLists: [], quarantine: true, domains: ['example.com'] }), 'admin', T0 + DAY + 8 * 3_600_000);
  s.clock.t = T0 + DAY + 8 * 3_600_000;
  const runner = s.runner();
  assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 });
  assert.equal(runner.nextDueAt(made), null);
  s.repo.update(made.id, validateReportSchedule({ ...made.schedule, enabled: true }), 'admin', s.clock.t);
  assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'today 07:00 came before the schedule');
  await s.ingest(A, 'quarantine.added', quarantined(1, { rcptTo: ['bob@example.com'] }));
  await s.ingest(A, 'quarantine.added', quarantined(2, { rcptTo: ['eve@other.example'] }));
  const now = await runner.sendNow(s.repo.get(made.id)!);
  assert.deepEqual(now.period, { start: T0, end: T0 + DAY });
  assert.match(s.sent[0]!.raw, /^example\.com +1 +1 +0 +0\r?$/m);
  assert.doesNotMatch(s.sent[0]!.raw, /other\.example/, 'only the schedule\'s domains');
  assert.doesNotMatch(s.sent[0]!.raw, /Traffic per node/);
  assert.deepEqual(s.repo.recentRounds(made.id, 10), []);
  s.relay.online = new Set();
  await assert.rejects(runner.sendNow(s.repo.get(made.id)!), { statusCode: 503, code: 'MOAT_ERR_NODE_OFFLINE' });
  assert.equal(s.repo.delete(made.id), true);
  assert.equal(s.repo.get(made.id), undefined);
});

test('a schedule names each bad key', () => {
  const bad = (input: unknown) => {
    try {
      validateReportSchedule(input);
      return [];
    } catch (err) {
      return (err as { errors: { key: string }[] }).errors.map((e) => e.key);
    }
  };
  assert.deepEqual(bad({ name: 'x', recipients: ['ops@example.com'] }), []);
  assert.ok(bad({ name: 'x', recipients: [] }).includes('recipients'));
  assert.ok(bad({ name: 'x', recipients: ['not an address'] }).includes('recipients.0'));
  assert.ok(bad({ name: 'x', recipients: ['a@b.example'], sendAt: '25:00' }).includes('sendAt'));
  assert.ok(bad({ name: 'x', recipients: ['a@b.example'], topLists: ['nope'] }).includes('topLists.0'));
  assert.ok(bad({ name: 'x', recipients: ['a@b.example'], domains: ['Example.COM'] }).includes('domains.0'));
  assert.ok(bad({ recipients: ['a@b.example'] }).includes('name'));
  assert.deepEqual(bad({ name: 'x', recipients: ['a@b.example'], traffic: false, quarantine: false, topLists: [] }), ['topLists']);
  assert.deepEqual(bad({ name: ' ', recipients: ['a@b.example'] }), ['name']);
});
