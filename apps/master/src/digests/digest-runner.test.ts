import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openDatabase } from '@moat/storage';
import { DATA_MIGRATION } from '../db/migration-002-data.ts';
import { CLUSTER_MIGRATION } from '../db/migration-003-cluster.ts';
import { RETENTION_MIGRATION } from '../db/migration-004-retention.ts';
import { REFUSALS_MIGRATION } from '../db/migration-008-refusals.ts';
import { DIGESTS_MIGRATION } from '../db/migration-005-digests.ts';
import { EVENT_EPOCHS_MIGRATION } from '../db/migration-012-event-epochs.ts';
import { TOP_BY_NODE_MIGRATION } from '../db/migration-015-top-by-node.ts';
import { sqliteDatabase } from '../db/database.ts';
import { createIngest } from '../data/ingest.ts';
import { event, quarantined, T0 } from '../data/test-fixtures.ts';
import { markQuarantine } from '../data/quarantine-repository.ts';
import { createDigestRepository } from './digest-repository.ts';
import { DigestRunner, type DigestRelay } from './digest-runner.ts';
import { createDigestStore, validateDigestSettings } from './settings-repository.ts';
import { verifyLink } from './links.ts';

/**
 * The round's bookkeeping against a real database and quarantine index. The relay stands in
 * for the cluster link (the end-to-end test runs the real one): it records what it was given,
 * and can be switched to fail or to have no node online.
 */
function setup() {
  const db = openDatabase(':memory:', [DATA_MIGRATION, CLUSTER_MIGRATION, RETENTION_MIGRATION, DIGESTS_MIGRATION, REFUSALS_MIGRATION, EVENT_EPOCHS_MIGRATION, TOP_BY_NODE_MIGRATION]);
  // The digests' store and repository are still on better-sqlite3 (docs/database.md): SQLite only.
  const kdb = sqliteDatabase(db).db;
  const addNode = db.prepare("INSERT INTO nodes (id, name, credential_hash, joined_at) VALUES (?, ?, 'x', 0)");
  addNode.run('aaaaaaaaaaaaaaaa', 'scanner-a');
  addNode.run('bbbbbbbbbbbbbbbb', 'scanner-b');
  const clock = { t: T0 + 3_600_000 };
  const sent: { nodeId: string; rcptTo: readonly string[]; raw: string }[] = [];
  const relay = { online: new Set(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']), fail: false };
  const fakeRelay: DigestRelay = {
    onlineNodeIds: () => relay.online,
    async injectMessage(nodeId, m) {
      if (relay.fail) throw Object.assign(new Error('disk full'), { code: 'MOAT_ERR_NODE' });
      sent.push({ nodeId, rcptTo: m.rcptTo, raw: m.raw.toString() });
      return { queueId: `Q${String(sent.length).padStart(19, '0')}` };
    },
  };
  const store = createDigestStore(db);
  const runner = new DigestRunner({ store, repo: createDigestRepository(db), relay: fakeRelay, log: pino({ level: 'silent' }), now: () => clock.t, ownUrl: () => 'http://master.test', hostname: 'master' });
  const ingest = createIngest(kdb, 'sqlite');
  let seq = 0;
  const hold = (node: string, n: number, over: Parameters<typeof quarantined>[1] = {}) => ingest.ingestBatch(node, [event(++seq, 'quarantine.added', quarantined(n, over))]);
  return { db, kdb, clock, sent, relay, store, runner, hold };
}

test('one digest per recipient, whichever node holds the messages; each message listed once', async () => {
  const s = setup();
  await s.hold('aaaaaaaaaaaaaaaa', 1, { rcptTo: ['bob@example.test'], subject: 'first' });
  await s.hold('bbbbbbbbbbbbbbbb', 2, { rcptTo: ['Bob@Example.test'], subject: 'second' });
  await s.hold('bbbbbbbbbbbbbbbb', 3, { rcptTo: ['carol@example.test'], subject: 'third' });
  assert.deepEqual(await s.runner.runRound(), { queued: 2, messages: 3, waiting: 0 });
  const bob = s.sent.find((m) => m.rcptTo[0] === 'bob@example.test')!;
  assert.match(bob.raw, /first/);
  assert.match(bob.raw, /second/);
  assert.doesNotMatch(bob.raw, /third/);
  assert.deepEqual(new Set(s.sent.map((m) => m.nodeId)).size, 2, 'rounds spread over the online nodes');
  assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 0 });
  // A new one later: only it is in the next digest.
  await s.hold('aaaaaaaaaaaaaaaa', 4, { rcptTo: ['bob@example.test'], subject: 'fourth' });
  assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
  assert.doesNotMatch(s.sent.at(-1)!.raw, /first/);
});

test('released messages, excluded categories and old messages are not listed', async () => {
  const s = setup();
  await s.hold('aaaaaaaaaaaaaaaa', 1, { rcptTo: ['bob@example.test'] });
  await markQuarantine(s.kdb, 'aaaaaaaaaaaaaaaa', quarantined(1).id, 'released', s.clock.t);
  await s.hold('aaaaaaaaaaaaaaaa', 2, { rcptTo: ['bob@example.test'], reasons: [{ kind: 'virus', rule: 'virus', match: 'EICAR', action: 'quarantine' }] });
  await s.hold('aaaaaaaaaaaaaaaa', 3, { rcptTo: ['bob@example.test'], createdAt: s.clock.t - 8 * 86_400_000 });
  assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 0 });
  s.store.save(validateDigestSettings({ categories: ['spam', 'virus'] }), 'admin', s.clock.t);
  assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
  assert.match(s.sent[0]!.raw, /virus found/);
  // When the quarantine lifetime deletes it: its arrival plus the virus days (default 30).
  const expires = new Date(quarantined(2).createdAt + 30 * 86_400_000).toISOString().slice(0, 16).replace('T', ' ');
  assert.match(s.sent[0]!.raw, new RegExp(`Expires: ${expires} UTC`));
});

test('no node online or a failed injection: nothing is marked, the next round sends it', async () => {
  const s = setup();
  await s.hold('aaaaaaaaaaaaaaaa', 1, { rcptTo: ['bob@example.test'] });
  s.relay.online = new Set();
  assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 1 });
  assert.equal(s.store.lastRunAt(), null, 'an incomplete round is not the last round');
  s.relay.online = new Set(['aaaaaaaaaaaaaaaa']);
  s.relay.fail = true;
  assert.deepEqual(await s.runner.runRound(), { queued: 0, messages: 0, waiting: 1 });
  s.relay.fail = false;
  assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
  assert.equal(s.store.lastRunAt(), s.clock.t);
});

test('the schedule: nothing while disabled; a daily round once due', async () => {
  const s = setup();
  await s.hold('aaaaaaaaaaaaaaaa', 1, { rcptTo: ['bob@example.test'] });
  await s.runner.tick();
  assert.equal(s.sent.length, 0, 'disabled');
  const dayStart = s.clock.t - (s.clock.t % 86_400_000);
  s.store.save(validateDigestSettings({ enabled: true, schedule: { mode: 'daily', dailyAt: '08:00' } }), 'admin', s.clock.t);
  assert.equal(s.runner.nextDueAt(), dayStart + 8 * 3_600_000);
  await s.runner.tick();
  assert.equal(s.sent.length, 0, 'not yet due');
  s.clock.t = dayStart + 8 * 3_600_000;
  await s.runner.tick();
  assert.equal(s.sent.length, 1);
  assert.equal(s.runner.nextDueAt(), dayStart + 32 * 3_600_000);
});

test('links in a digest are signed for that recipient and message and expire after linkHours', async () => {
  const s = setup();
  s.store.save(validateDigestSettings({ linkHours: 2, baseUrl: 'https://quarantine.example.test/' }), 'admin', s.clock.t);
  await s.hold('bbbbbbbbbbbbbbbb', 1, { rcptTo: ['bob@example.test'] });
  await s.runner.runRound();
  const decoded = s.sent[0]!.raw.replace(/=\r\n/g, '').replace(/=3D/g, '=');
  const url = /Release: +(\S+)/.exec(decoded)![1]!;
  assert.match(url, /^https:\/\/quarantine\.example\.test\/user\/link\?t=/);
  const token = new URL(url).searchParams.get('t')!;
  const ok = verifyLink(s.store.secret(), token, s.clock.t);
  assert.deepEqual(ok, { ok: true, link: { action: 'release', nodeId: 'bbbbbbbbbbbbbbbb', messageId: quarantined(1).id, recipient: 'bob@example.test', expiresAt: s.clock.t + 7_200_000 } });
  assert.deepEqual(verifyLink(s.store.secret(), token, s.clock.t + 7_200_000), { ok: false, reason: 'expired' });
});

test('a recipient who already handled their copy of a shared message does not get it listed', async () => {
  const s = setup();
  await s.hold('aaaaaaaaaaaaaaaa', 1, { rcptTo: ['bob@example.test', 'carol@example.test'] });
  const repo = createDigestRepository(s.db);
  const rid = (s.db.prepare('SELECT rid FROM quarantine').get() as { rid: number }).rid;
  assert.equal(repo.recordCopy(rid, 'bob@example.test', 'delete', s.clock.t, null), true);
  assert.equal(repo.recordCopy(rid, 'bob@example.test', 'release', s.clock.t, 'X'), false, 'the first action stands');
  assert.deepEqual(await s.runner.runRound(), { queued: 1, messages: 1, waiting: 0 });
  assert.deepEqual(s.sent[0]!.rcptTo, ['carol@example.test']);
  assert.deepEqual(repo.heldFor('bob@example.test', 0, ['spam'], 10), []);
  assert.equal(repo.heldFor('carol@example.test', 0, ['spam'], 10).length, 1);
});
