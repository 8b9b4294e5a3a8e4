import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { sql } from 'kysely';
import type { Engine } from '../db/database.ts';
import { ENGINES, engineSkip, openMasterPair, openTestDatabase } from '../testing/databases.ts';
import { jobLease } from '../db/leases.ts';
import { addNode, event, ingestInto, quarantined, T0 } from '../data/test-fixtures.ts';
import { markQuarantine } from '../data/quarantine-repository.ts';
import { CLAIM_TIMEOUT_MS, createDigestRepository } from './digest-repository.ts';
import { DigestRunner, type DigestRelay } from './digest-runner.ts';
import { createDigestStore, validateDigestSettings } from './settings-repository.ts';
import { verifyLink } from './links.ts';

/**
 * The round's bookkeeping against a real database and quarantine index. The relay stands in
 * for the cluster link (the end-to-end test runs the real one): it records what it was given,
 * and can be switched to fail or to have no node online.
 */
async function setup(engine: Engine, t: TestContext) {
  const database = await openTestDatabase(engine, t);
  const kdb = database.db;
  await addNode(kdb, 'aaaaaaaaaaaaaaaa', 'scanner-a');
  await addNode(kdb, 'bbbbbbbbbbbbbbbb', 'scanner-b');
  const clock = { t: T0 + 3_600_000 };
  const sent: { nodeId: string; rcptTo: readonly string[]; raw: string }[] = [];
  const relay: { online: Set<string>; fail: boolean; hold?: (rcpt: string) => Promise<void> } = { online: new Set(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']), fail: false };
  const fakeRelay: DigestRelay = {
    relayNodeIds: async () => [...relay.online].sort(),
    async injectMessage(nodeId, m) {
      await relay.hold?.(m.rcptTo[0]!);
      if (relay.fail) throw Object.assign(new Error('disk full'), { code: 'MOAT_ERR_NODE' });
      sent.push({ nodeId, rcptTo: m.rcptTo, raw: m.raw.toString() });
      return { queueId: `Q${String(sent.length).padStart(19, '0')}` };
    },
  };
  const store = createDigestStore(kdb);
  // A second master on the same database: its own runner, repository and store.
  const runnerOn = () => new DigestRunner({ store: createDigestStore(kdb), repo: createDigestRepository(kdb), relay: fakeRelay, log: pino({ level: 'silent' }), now: () => clock.t, ownUrl: () => 'http://master.test', hostname: 'master' });
  const runner = runnerOn();
  const ingest = ingestInto(database);
  let seq = 0;
  const hold = (node: string, n: number, over: Parameters<typeof quarantined>[1] = {}) => ingest.ingestBatch(node, [event(++seq, 'quarantine.added', quarantined(n, over))]);
  return { kdb, clock, sent, relay, store, runner, runnerOn, hold };
}

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

for (const engine of ENGINES) {
  const skip = engineSkip(engine);

  test(`${engine}: one digest per recipient, whichever node holds the messages; each message listed once`, { skip }, async (t) => {
    const s = await setup(engine, t);
    await s.hold(A, 1, { rcptTo: ['bob@example.test'], subject: 'first' });
    await s.hold(B, 2, { rcptTo: ['Bob@Example.test'], subject: 'second' });
    await s.hold(B, 3, { rcptTo: ['carol@example.test'], subject: 'third' });
    assert.deepEqual(await s.runner.runRound(), { queued: 2, messages: 3, waiting: 0 });
    const bob = s.sent.find((m) => m.rcptTo[0] === 'bob@example.test')!;
    assert.match(bob.raw, /first/);
    assert.match(bob.raw, /second/);
    assert.doesNotMatch(bob.raw, /third/);
    assert.deepEqual(new Set(s.sent.map((m) => m.nodeId)).size, 2, 'rounds spread over the online nodes');
    assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 0 });
    // A new one later: only it is in the next digest.
    await s.hold(A, 4, { rcptTo: ['bob@example.test'], subject: 'fourth' });
    assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
    assert.doesNotMatch(s.sent.at(-1)!.raw, /first/);
  });

  test(`${engine}: released messages, excluded categories and old messages are not listed`, { skip }, async (t) => {
    const s = await setup(engine, t);
    await s.hold(A, 1, { rcptTo: ['bob@example.test'] });
    await markQuarantine(s.kdb, A, quarantined(1).id, 'released', s.clock.t);
    await s.hold(A, 2, { rcptTo: ['bob@example.test'], reasons: [{ kind: 'virus', rule: 'virus', match: 'EICAR', action: 'quarantine' }] });
    await s.hold(A, 3, { rcptTo: ['bob@example.test'], createdAt: s.clock.t - 8 * 86_400_000 });
    assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 0 });
    await s.store.save(validateDigestSettings({ categories: ['spam', 'virus'] }), 'admin', s.clock.t);
    assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
    assert.match(s.sent[0]!.raw, /virus found/);
    // When the quarantine lifetime deletes it: its arrival plus the virus days (default 30).
    const expires = new Date(quarantined(2).createdAt + 30 * 86_400_000).toISOString().slice(0, 16).replace('T', ' ');
    assert.match(s.sent[0]!.raw, new RegExp(`Expires: ${expires} UTC`));
  });

  test(`${engine}: no node online or a failed injection: nothing is marked, the next round sends it`, { skip }, async (t) => {
    const s = await setup(engine, t);
    await s.hold(A, 1, { rcptTo: ['bob@example.test'] });
    s.relay.online = new Set();
    assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 1 });
    assert.equal(await s.store.lastRunAt(), null, 'an incomplete round is not the last round');
    s.relay.online = new Set([A]);
    s.relay.fail = true;
    assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 1 });
    assert.equal((await sql<{ n: number }>`SELECT count(*) AS n FROM digest_sent`.execute(s.kdb)).rows.map((r) => Number(r.n))[0], 0, 'the failed digest\'s claim was dropped');
    s.relay.fail = false;
    assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
    assert.equal(await s.store.lastRunAt(), s.clock.t);
  });

  test(`${engine}: the schedule: nothing while disabled; a daily round once due`, { skip }, async (t) => {
    const s = await setup(engine, t);
    await s.hold(A, 1, { rcptTo: ['bob@example.test'] });
    await s.runner.tick();
    assert.equal(s.sent.length, 0, 'disabled');
    const dayStart = s.clock.t - (s.clock.t % 86_400_000);
    await s.store.save(validateDigestSettings({ enabled: true, schedule: { mode: 'daily', dailyAt: '08:00' } }), 'admin', s.clock.t);
    assert.equal(await s.runner.nextDueAt(), dayStart + 8 * 3_600_000);
    await s.runner.tick();
    assert.equal(s.sent.length, 0, 'not yet due');
    s.clock.t = dayStart + 8 * 3_600_000;
    await s.runner.tick();
    assert.equal(s.sent.length, 1);
    assert.equal(await s.runner.nextDueAt(), dayStart + 32 * 3_600_000);
  });

  test(`${engine}: links in a digest are signed for that recipient and message and expire after linkHours; the secret is made once`, { skip }, async (t) => {
    const s = await setup(engine, t);
    await s.store.save(validateDigestSettings({ linkHours: 2, baseUrl: 'https://quarantine.example.test/' }), 'admin', s.clock.t);
    await s.hold(B, 1, { rcptTo: ['bob@example.test'] });
    await s.runner.runRound();
    const decoded = s.sent[0]!.raw.replace(/=\r\n/g, '').replace(/=3D/g, '=');
    const url = /Release: +(\S+)/.exec(decoded)![1]!;
    assert.match(url, /^https:\/\/quarantine\.example\.test\/user\/link\?t=/);
    const token = new URL(url).searchParams.get('t')!;
    const secret = await s.store.secret();
    assert.equal(secret.length, 32);
    assert.deepEqual(await createDigestStore(s.kdb).secret(), secret, 'another master reads the same secret');
    const ok = verifyLink(secret, token, s.clock.t);
    assert.deepEqual(ok, { ok: true, link: { action: 'release', nodeId: B, messageId: quarantined(1).id, recipient: 'bob@example.test', expiresAt: s.clock.t + 7_200_000 } });
    assert.deepEqual(verifyLink(secret, token, s.clock.t + 7_200_000), { ok: false, reason: 'expired' });
  });

  test(`${engine}: a recipient who already handled their copy of a shared message does not get it listed`, { skip }, async (t) => {
    const s = await setup(engine, t);
    await s.hold(A, 1, { rcptTo: ['bob@example.test', 'carol@example.test'] });
    const repo = createDigestRepository(s.kdb);
    const { rid } = await s.kdb.selectFrom('quarantine').select('rid').executeTakeFirstOrThrow();
    assert.equal(await repo.recordCopy(rid, 'bob@example.test', 'delete', s.clock.t, null), true);
    assert.equal(await repo.recordCopy(rid, 'bob@example.test', 'release', s.clock.t, 'X'), false, 'the first action stands');
    assert.equal(await repo.copyAction(rid, 'bob@example.test'), 'delete');
    assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
    assert.deepEqual(s.sent[0]!.rcptTo, ['carol@example.test']);
    assert.deepEqual(await repo.heldFor('bob@example.test', 0, ['spam'], 10), []);
    assert.equal((await repo.heldFor('carol@example.test', 0, ['spam'], 10)).length, 1);
  });

  test(`${engine}: two masters' rounds at once: each recipient's messages are claimed before the hand-off, so one digest goes out`, { skip }, async (t) => {
    const s = await setup(engine, t);
    await s.hold(A, 1, { rcptTo: ['bob@example.test'] });
    await s.hold(B, 2, { rcptTo: ['bob@example.test', 'carol@example.test'] });
    // The first master's hand-off to a scanner is held until the second master's round is over.
    let handedOff!: () => void;
    const firstHandOff = new Promise<void>((resolve) => (handedOff = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    s.relay.hold = async () => {
      if (++calls > 1) return;
      handedOff();
      await released;
    };
    const first = s.runner.runRound();
    await firstHandOff;
    const second = await s.runnerOn().runRound();
    release();
    const one = await first;
    assert.equal(one.queued + second.queued, 2, 'bob and carol get one digest each');
    assert.equal(one.messages + second.messages, 3, 'each message is listed once to each of its recipients');
    assert.deepEqual(s.sent.map((m) => m.rcptTo[0]).sort(), ['bob@example.test', 'carol@example.test']);
    const rows = await s.kdb.selectFrom('digest_sent').select(['rid', 'rcpt', 'queue_id']).execute();
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => /^Q\d{19}$/.test(r.queue_id)), 'every claim became the scanner\'s queue id');
  });

  test(`${engine}: a claim is taken by one of four concurrent claims (the key decides), and again only once its master is presumed dead`, { skip }, async (t) => {
    const s = await setup(engine, t);
    for (let n = 1; n <= 40; n++) await s.hold(A, n, { rcptTo: ['bob@example.test'] });
    const repo = createDigestRepository(s.kdb);
    const items = (await repo.pending(0, ['spam'], 500, s.clock.t)).get('bob@example.test')!;
    assert.equal(items.length, 40);
    // On PostgreSQL these run on separate pooled connections at once.
    const claims = await Promise.all([1, 2, 3, 4].map(() => createDigestRepository(s.kdb).claim(items, 'bob@example.test', s.clock.t, A)));
    assert.equal(claims.reduce((n, c) => n + c.items.length, 0), 40, 'each message claimed by exactly one');
    assert.equal(claims.filter((c) => c.items.length > 0).length, 1, 'one statement takes all of a recipient\'s messages');
    assert.equal((await repo.pending(0, ['spam'], 500, s.clock.t)).size, 0, 'a live claim is not pending');
    // Its master died before the hand-off: after the claim timeout the next round lists them again.
    const later = s.clock.t + CLAIM_TIMEOUT_MS + 1;
    assert.equal((await repo.pending(0, ['spam'], 500, later)).get('bob@example.test')?.length, 40);
    const taken = await repo.claim(items, 'bob@example.test', later, B);
    assert.equal(taken.items.length, 40);
    const won = claims.find((c) => c.items.length > 0)!;
    assert.equal(await repo.markSent(won, later, A, 'Q0000000000000000001'), false, 'the dead master\'s claim is gone');
    assert.equal(await repo.markSent(taken, later, B, 'Q0000000000000000002'), true);
    assert.equal((await repo.claim(items, 'bob@example.test', later + 2 * CLAIM_TIMEOUT_MS, A)).items.length, 0, 'a listed message is never claimed again');
    assert.equal(await repo.prune(later + 1), 40);
  });

  test(`${engine}: two masters' scheduled ticks on one database: the rounds' lease lets one run the round; a holder that paused past its lease claims nothing after the other took over`, { skip }, async (t) => {
    const masters = await openMasterPair(engine, t);
    await addNode(masters[0].db, A, 'scanner-a');
    let seq = 0;
    const ingest = ingestInto(masters[0]);
    for (const [n, rcpt] of [[1, 'bob@example.test'], [2, 'carol@example.test']] as const) await ingest.ingestBatch(A, [event(++seq, 'quarantine.added', quarantined(n, { rcptTo: [rcpt] }))]);
    const clock = { t: T0 + 3_600_000 };
    const dayStart = clock.t - (clock.t % 86_400_000);
    await createDigestStore(masters[0].db).save(validateDigestSettings({ enabled: true, schedule: { mode: 'daily', dailyAt: '08:00' } }), 'admin', clock.t);
    clock.t = dayStart + 8 * 3_600_000;
    const sent: string[] = [];
    let hold: ((rcpt: string) => Promise<void>) | undefined;
    const relay: DigestRelay = {
      relayNodeIds: async () => [A],
      async injectMessage(_nodeId, m) {
        await hold?.(m.rcptTo[0]!);
        sent.push(m.rcptTo[0]!);
        return { queueId: `Q${String(sent.length).padStart(19, '0')}` };
      },
    };
    const events: { master: string; event: string }[] = [];
    const runners = masters.map((m, i) => {
      const master = `master-${'ab'[i]}`;
      const log = pino({ level: 'info' }, { write: (line: string) => void events.push({ master, event: JSON.parse(line).event }) });
      return new DigestRunner({ store: createDigestStore(m.db), repo: createDigestRepository(m.db), relay, log, now: () => clock.t, ownUrl: () => 'http://master.test', hostname: master, lease: jobLease(m.db, 'digests', { holder: master, ttlMs: 90_000, now: () => clock.t }) });
    });
    const rounds = () => events.filter((e) => e.event === 'DIGEST_ROUND');
    // Both due at once: one round, by one master.
    await Promise.all(runners.map((r) => r.tick()));
    assert.equal(rounds().length, 1);
    assert.deepEqual(sent.sort(), ['bob@example.test', 'carol@example.test']);
    const holder = runners.findIndex((_, i) => rounds()[0]!.master === `master-${'ab'[i]}`);
    const [first, other] = [runners[holder]!, runners[1 - holder]!];

    // The next day: the holder's round pauses at its first hand-off past its lease; the other takes over.
    for (const [n, rcpt] of [[3, 'bob@example.test'], [4, 'carol@example.test']] as const) await ingest.ingestBatch(A, [event(++seq, 'quarantine.added', quarantined(n, { rcptTo: [rcpt] }))]);
    clock.t += 86_400_000;
    sent.length = 0;
    let paused!: () => void;
    const pausedAt = new Promise<void>((r) => (paused = r));
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    hold = async () => {
      hold = undefined;
      paused();
      await resumed;
    };
    const stale = first.tick();
    await pausedAt;
    clock.t += 90_000;
    await other.tick();
    resume();
    await stale;
    const after = events.slice(events.findIndex((e) => e.event === 'DIGEST_ROUND') + 1);
    assert.deepEqual(after.filter((e) => e.event === 'DIGEST_ROUND').map((e) => e.master), [`master-${'ab'[1 - holder]}`], 'only the new holder finished a round');
    assert.ok(after.some((e) => e.event === 'DIGEST_LEASE_LOST' && e.master === `master-${'ab'[holder]}`), 'the paused holder stopped at its next fenced claim');
    assert.equal(sent.length, 2, `each recipient once: ${sent.join(', ')}`);
    assert.deepEqual([...new Set(sent)].sort(), ['bob@example.test', 'carol@example.test']);
  });
}
