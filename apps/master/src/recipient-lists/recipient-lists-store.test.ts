import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pino from 'pino';
import { demoRules, MAX_RECIPIENT_LIST_ENTRIES } from '@moat/rules';
import type { ClusterControl } from '../app-deps.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { changeRecipientList } from './change-recipient-list.ts';
import { allRecipientLists, currentListsVersion, listVersions, LIST_VERSIONS_KEPT_MS, pruneListVersions, recipientListsOf, recordListChange } from './recipient-lists-store.ts';
import { rulesWithEndUserLists } from './legacy-rules-push.ts';

const T0 = Date.UTC(2025, 0, 1);

for (const engine of ENGINES) {
  test(`${engine}: each change is the next version; an add moves a pattern off the other list, a remove deletes it`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    assert.equal(await currentListsVersion(db), 0);
    assert.deepEqual(await allRecipientLists(db), {});
    assert.equal(await recordListChange(db, { recipient: 'bob@example.test', list: 'allow', op: 'add', pattern: 'a@b.example' }, 'enduser:bob@example.test', 'c1', T0), 1);
    assert.equal(await recordListChange(db, { recipient: 'bob@example.test', list: 'block', op: 'add', pattern: '*@spam.example' }, 'enduser:bob@example.test', 'c2', T0), 2);
    assert.equal(await recordListChange(db, { recipient: 'carol@example.test', list: 'block', op: 'add', pattern: 'a@b.example' }, 'enduser:carol@example.test', 'c3', T0), 3);
    assert.deepEqual(await allRecipientLists(db), {
      'bob@example.test': { allow: ['a@b.example'], block: ['*@spam.example'] },
      'carol@example.test': { allow: [], block: ['a@b.example'] },
    });
    await recordListChange(db, { recipient: 'bob@example.test', list: 'block', op: 'add', pattern: 'a@b.example' }, 'enduser:bob@example.test', 'c4', T0);
    assert.deepEqual(await recipientListsOf(db, 'bob@example.test'), { allow: [], block: ['*@spam.example', 'a@b.example'] }, 'moved, in the order added');
    await recordListChange(db, { recipient: 'bob@example.test', list: 'block', op: 'remove', pattern: '*@spam.example' }, 'enduser:bob@example.test', 'c5', T0);
    assert.deepEqual(await recipientListsOf(db, 'bob@example.test'), { allow: [], block: ['a@b.example'] });
    assert.deepEqual(await recipientListsOf(db, 'nobody@example.test'), { allow: [], block: [] });
    assert.equal(await currentListsVersion(db), 5);
    const [newest] = await listVersions(db, 1);
    assert.deepEqual(newest, { version: 5, createdAt: T0, createdBy: 'enduser:bob@example.test', comment: 'c5', change: { recipient: 'bob@example.test', list: 'block', op: 'remove', pattern: '*@spam.example' } });
    assert.deepEqual((await listVersions(db, 2, 3)).map((v) => v.version), [2, 1], 'pages backwards');
  });

  test(`${engine}: pruning drops version rows older than a day below the newest 50; the current version and the entries stay`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    for (let i = 0; i < 80; i++) await recordListChange(db, { recipient: 'bob@example.test', list: 'allow', op: 'add', pattern: `s${i}@b.example` }, 'enduser:bob@example.test', '', T0 + i);
    assert.equal(await pruneListVersions(db, T0 + LIST_VERSIONS_KEPT_MS), 0, 'none is a day old yet');
    assert.equal(await pruneListVersions(db, T0 + 80 + LIST_VERSIONS_KEPT_MS), 30);
    assert.deepEqual((await listVersions(db, 100)).map((v) => v.version), Array.from({ length: 50 }, (_, i) => 80 - i));
    assert.equal(await currentListsVersion(db), 80);
    assert.equal((await recipientListsOf(db, 'bob@example.test')).allow.length, 80, 'the lists are whole');
    assert.equal(await recordListChange(db, { recipient: 'bob@example.test', list: 'allow', op: 'remove', pattern: 's0@b.example' }, 'x', '', T0 + 2 * LIST_VERSIONS_KEPT_MS), 81, 'numbering goes on after a prune');
  });

  test(`${engine}: a list change and its audit entry are one transaction: a refused change stores neither, and the push comes after the commit`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    let pushes = 0;
    const deps = { db, now: () => T0, log: pino({ level: 'silent' }), cluster: { recipientListsChanged: () => void pushes++ } as unknown as ClusterControl };
    assert.equal(await changeRecipientList(deps, 'bob@example.test', { op: 'add', list: 'allow', pattern: 'Boss@Partner.example' }, '192.0.2.1'), 1);
    assert.equal(await changeRecipientList(deps, 'bob@example.test', { op: 'add', list: 'allow', pattern: 'boss@partner.example' }, '192.0.2.1'), undefined, 'already there');
    assert.equal(pushes, 1);
    const audit = await createAuditLog(db, () => T0).list({ action: 'rules.recipient-lists', limit: 10 });
    assert.deepEqual(audit.map((e) => [e.username, e.target, e.details['pattern']]), [['enduser:bob@example.test', 'recipient-lists:1', 'boss@partner.example']]);
    // A list already full: refused inside the transaction, nothing stored, nothing audited, nothing pushed.
    for (let i = 1; i < MAX_RECIPIENT_LIST_ENTRIES; i++) await recordListChange(db, { recipient: 'bob@example.test', list: 'allow', op: 'add', pattern: `u${i}@b.example` }, 'x', '', T0);
    const full = await currentListsVersion(db);
    await assert.rejects(changeRecipientList(deps, 'bob@example.test', { op: 'add', list: 'allow', pattern: 'one@more.example' }, '192.0.2.1'), /holds at most/);
    assert.equal(await currentListsVersion(db), full);
    assert.equal((await createAuditLog(db, () => T0).list({ action: 'rules.recipient-lists', limit: 10 })).length, 1);
    assert.equal(pushes, 1);
    // A failing audit write takes the list change back with it.
    await sql`DROP TABLE audit`.execute(db);
    await assert.rejects(changeRecipientList(deps, 'carol@example.test', { op: 'add', list: 'block', pattern: 'x@y.example' }, '192.0.2.1'));
    assert.deepEqual(await recipientListsOf(db, 'carol@example.test'), { allow: [], block: [] }, 'no entry without its audit entry');
    assert.equal(await currentListsVersion(db), full);
  });
}

test('a node speaking protocol 7 gets the end users\' lists inside the rules, beside the admin\'s, each list capped', () => {
  const rules = { ...demoRules(), recipientLists: { 'bob@example.test': { allow: ['boss@partner.example'], block: [] } } };
  assert.equal(rulesWithEndUserLists(rules, {}), rules, 'nothing to add');
  const merged = rulesWithEndUserLists(rules, {
    'bob@example.test': { allow: ['boss@partner.example', 'a@b.example'], block: ['*@spam.example'] },
    'carol@example.test': { allow: [], block: ['x@y.example'] },
  });
  assert.deepEqual(merged.recipientLists, {
    'bob@example.test': { allow: ['boss@partner.example', 'a@b.example'], block: ['*@spam.example'] },
    'carol@example.test': { allow: [], block: ['x@y.example'] },
  });
  assert.equal(merged.version, rules.version);
  const many = Array.from({ length: MAX_RECIPIENT_LIST_ENTRIES }, (_, i) => `u${i}@b.example`);
  assert.equal(rulesWithEndUserLists(rules, { 'bob@example.test': { allow: many, block: [] } }).recipientLists['bob@example.test']!.allow.length, MAX_RECIPIENT_LIST_ENTRIES);
});
