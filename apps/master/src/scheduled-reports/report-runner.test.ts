import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Engine } from '../db/database.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { markQuarantine } from '../data/quarantine-repository.ts';
import { trafficFromLog } from '../data/reports-from-log.ts';
import { addNode, event, ingestInto, logged, quarantined, T0 } from '../data/test-fixtures.ts';
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
async function setup(engine: Engine, t: TestContext) {
  const database = await openTestDatabase(engine, t);
  const kdb = database.db;
  const sent: { nodeId: string; mailFrom: string; rcptTo: readonly string[]; raw: string }[] = [];
  const relay = { online: new Set([A, B]) };
  const fake: ReportRelay = {
    relayNodeIds: async () => [...relay.online].sort(),
    async injectMessage(nodeId, m) {
      sent.push({ nodeId, mailFrom: m.mailFrom, rcptTo: m.rcptTo, raw: decode(m.raw.toString()) });
      return { queueId: `R${String(sent.length).padStart(19, '0')}` };
    },
  };
  const clock = { t: T0 };
  const repo = createScheduleRepository(kdb);
  const runner = () => new ReportRunner({ db: kdb, repo, relay: fake, log: pino({ level: 'silent' }), now: () => clock.t, hostname: 'master.test' });
  const ingest = ingestInto(database);
  let seq = 0;
  await addNode(kdb, A, 'scanner-a');
  await addNode(kdb, B, 'scanner-b');
  return { db: kdb, sent, relay, clock, repo, runner, ingest: (node: string, type: string, payload: unknown) => ingest.ingestBatch(node, [event(++seq, type, payload)]) };
}

/** The text part, quoted-printable undone. */
function decode(raw: string): string {
  return raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

for (const engine of ENGINES) {
  test(`${engine}: a daily report at its time: figures of the day before from the roll-ups and the quarantine index; once per period, even after a restart`, { skip: engineSkip(engine) }, async (t) => {
    const s = await setup(engine, t);
    // T0 is a Monday, 00:00 UTC. The day reported is Monday; Tuesday's mail is not in it.
    for (let n = 1; n <= 6; n++) await s.ingest(n % 2 ? A : B, 'message.logged', logged(n, { mailFrom: 'news@shop.example', rcptTo: ['bob@example.com'] }));
    await s.ingest(A, 'message.logged', logged(7, { action: 'reject', status: 'rejected', mailFrom: 'spam@bad.example' }));
    await s.ingest(A, 'message.logged', logged(8, { action: 'quarantine', status: 'quarantined', rcptTo: ['bob@example.com', 'carol@example.com'] }));
    await s.ingest(A, 'quarantine.added', quarantined(8, { rcptTo: ['bob@example.com', 'carol@example.com'] }));
    await s.ingest(B, 'message.logged', logged(9, { action: 'quarantine', status: 'quarantined', rcptTo: ['dave@other.example'] }));
    await s.ingest(B, 'quarantine.added', quarantined(9, { rcptTo: ['dave@other.example'] }));
    await markQuarantine(s.db, B, quarantined(9).id, 'released', T0 + 3_600_000);
    await s.ingest(A, 'message.logged', logged(10, { receivedAt: T0 + DAY + 60_000 }));

    const made = await s.repo.create(validateReportSchedule({ name: 'Daily traffic', sendAt: '06:00', recipients: ['ops@example.com', 'boss@example.com'], topLimit: 3 }), 'admin', T0 + 7 * 3_600_000);
    const runner = s.runner();
    s.clock.t = T0 + DAY + 5 * 3_600_000;
    assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'not yet 06:00');
    assert.equal(await runner.nextDueAt(made), T0 + DAY + 6 * 3_600_000);
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

    const round = await s.repo.recentRounds(made.id, 10);
    assert.equal(round.length, 1);
    assert.equal(round[0]!.status, 'sent');
    assert.deepEqual(round[0]!.period, { start: T0, end: T0 + DAY });
    assert.equal(round[0]!.queueId, 'R0000000000000000001');
    assert.equal(round[0]!.sentAt, s.clock.t);

    assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'the same period is not sent twice');
    s.clock.t += 3_600_000;
    assert.deepEqual(await s.runner().tick(), { sent: 0, failed: 0 }, 'nor by a restarted master');
    assert.equal(s.sent.length, 1);
    assert.equal(await runner.nextDueAt(made), T0 + 2 * DAY + 6 * 3_600_000);
    s.clock.t = T0 + 2 * DAY + 6 * 3_600_000;
    assert.deepEqual(await runner.tick(), { sent: 1, failed: 0 }, 'the next day\'s');
    assert.match(s.sent[1]!.raw, /^Subject: Daily traffic, 2025-01-07: 1 messages/m);
  });

  test(`${engine}: no scanner online: the round fails, is retried after a back-off, and is sent once`, { skip: engineSkip(engine) }, async (t) => {
    const s = await setup(engine, t);
    const made = await s.repo.create(validateReportSchedule({ name: 'Weekly', period: 'weekly', weekday: 'monday', sendAt: '00:00', recipients: ['ops@example.com'], sender: 'reports@example.com' }), 'admin', T0 - DAY);
    s.relay.online = new Set();
    s.clock.t = T0;
    const runner = s.runner();
    assert.deepEqual(await runner.tick(), { sent: 0, failed: 1 });
    const failed = (await s.repo.recentRounds(made.id, 1))[0]!;
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /no scanner is online/);
    assert.deepEqual(failed.period, { start: T0 - 7 * DAY, end: T0 });
    s.relay.online = new Set([B]);
    s.clock.t = T0 + 59_000;
    assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'waits for the back-off');
    assert.equal(await runner.nextDueAt(made), T0 + 60_000);
    s.clock.t = T0 + 60_000;
    assert.deepEqual(await runner.tick(), { sent: 1, failed: 0 });
    assert.equal(s.sent[0]!.mailFrom, 'reports@example.com');
    assert.match(s.sent[0]!.raw, /2024-12-30 to 2025-01-05/);
    const done = (await s.repo.recentRounds(made.id, 1))[0]!;
    assert.deepEqual([done.status, done.attempts, done.nodeId, done.error], ['sent', 2, B, null]);
    assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 });
  });

  test(`${engine}: a round due before the schedule was made, a disabled schedule: nothing sent; send now works either way and is not a round`, { skip: engineSkip(engine) }, async (t) => {
    const s = await setup(engine, t);
    const made = await s.repo.create(validateReportSchedule({ name: 'Off', enabled: false, recipients: ['ops@example.com'], traffic: false, topLists: [], quarantine: true, domains: ['example.com'] }), 'admin', T0 + DAY + 8 * 3_600_000);
    s.clock.t = T0 + DAY + 8 * 3_600_000;
    const runner = s.runner();
    assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 });
    assert.equal(await runner.nextDueAt(made), null);
    await s.repo.update(made.id, validateReportSchedule({ ...made.schedule, enabled: true }), 'admin', s.clock.t);
    assert.deepEqual(await runner.tick(), { sent: 0, failed: 0 }, 'today 07:00 came before the schedule');
    await s.ingest(A, 'quarantine.added', quarantined(1, { rcptTo: ['bob@example.com'] }));
    await s.ingest(A, 'quarantine.added', quarantined(2, { rcptTo: ['eve@other.example'] }));
    const now = await runner.sendNow((await s.repo.get(made.id))!);
    assert.deepEqual(now.period, { start: T0, end: T0 + DAY });
    assert.match(s.sent[0]!.raw, /^example\.com +1 +1 +0 +0\r?$/m);
    assert.doesNotMatch(s.sent[0]!.raw, /other\.example/, 'only the schedule\'s domains');
    assert.doesNotMatch(s.sent[0]!.raw, /Traffic per node/);
    assert.deepEqual(await s.repo.recentRounds(made.id, 10), []);
    s.relay.online = new Set();
    await assert.rejects(runner.sendNow((await s.repo.get(made.id))!), { statusCode: 503, code: 'MOAT_ERR_NODE_OFFLINE' });
    assert.equal(await s.repo.delete(made.id), true);
    assert.equal(await s.repo.get(made.id), undefined);
  });
}

for (const engine of ENGINES) {
  test(`${engine}: a round is claimed in one statement as it was seen: of two masters that saw it due, one sends it; a sent round is never claimed again`, { skip: engineSkip(engine) }, async (t) => {
    const s = await setup(engine, t);
    const made = await s.repo.create(validateReportSchedule({ name: 'Daily', recipients: ['ops@example.com'] }), 'admin', T0 - DAY);
    const period = { start: T0 - DAY, end: T0 };
    // Both saw no round yet; on PostgreSQL the claims run on separate pooled connections at once.
    const claims = await Promise.all([1, 2, 3, 4].map(() => createScheduleRepository(s.db).claim(made.id, period, ['ops@example.com'], T0, 0)));
    assert.deepEqual(claims.filter(Boolean).length, 1, 'one master takes a new round');
    await s.repo.failed(made.id, period, null, 'no scanner');
    // Both saw the failed round with one attempt: one retries it.
    const again = await Promise.all([1, 2].map(() => s.repo.claim(made.id, period, ['ops@example.com'], T0 + 60_000, 1)));
    assert.deepEqual(again.filter(Boolean).length, 1);
    assert.equal(await s.repo.claim(made.id, period, ['ops@example.com'], T0 + 60_000, 1), false, 'seen with an attempt that is not the latest: taken already');
    const round = (await s.repo.round(made.id, period))!;
    assert.deepEqual([round.status, round.attempts, round.error], ['sending', 2, null]);
    await s.repo.sent(made.id, period, T0 + 61_000, A, 'R0000000000000000001');
    assert.equal(await s.repo.claim(made.id, period, ['ops@example.com'], T0 + 120_000, 2), false, 'sent: never again');
    // Two runners (two masters) ticking at once over the next period: one report.
    s.clock.t = T0 + DAY + 7 * 3_600_000;
    const [one, two] = await Promise.all([s.runner().tick(), s.runner().tick()]);
    assert.equal(one.sent + two.sent, 1);
    assert.equal(s.sent.length, 1);
  });

  test(`${engine}: only the newest rounds of a schedule are kept; deleting a schedule deletes its rounds`, { skip: engineSkip(engine) }, async (t) => {
    const s = await setup(engine, t);
    const made = await s.repo.create(validateReportSchedule({ name: 'Daily', recipients: ['ops@example.com'] }), 'admin', T0);
    const other = await s.repo.create(validateReportSchedule({ name: 'Other', recipients: ['ops@example.com'] }), 'admin', T0);
    await s.repo.claim(other.id, { start: T0, end: T0 + DAY }, ['ops@example.com'], T0, 0);
    for (let d = 0; d < 103; d++) {
      const p = { start: T0 + d * DAY, end: T0 + (d + 1) * DAY };
      assert.equal(await s.repo.claim(made.id, p, ['ops@example.com'], p.end, 0), true);
      await s.repo.sent(made.id, p, p.end, A, `R${String(d).padStart(19, '0')}`);
    }
    const kept = await s.repo.recentRounds(made.id, 1000);
    assert.equal(kept.length, 100);
    assert.equal(kept.at(-1)!.period.start, T0 + 3 * DAY, 'the oldest three went');
    assert.equal((await s.repo.recentRounds(other.id, 10)).length, 1, 'another schedule\'s rounds stay');
    assert.equal(await s.repo.delete(made.id), true);
    assert.deepEqual(await s.repo.recentRounds(made.id, 10), []);
    assert.equal(await s.repo.delete(made.id), false);
  });
}

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
