import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '@moat/storage';
import { demoRules, MAX_RECIPIENT_LIST_ENTRIES } from '@moat/rules';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { allRecipientLists, currentListsVersion, listVersions, LIST_VERSIONS_KEPT_MS, pruneListVersions, recipientListsOf, recordListChange } from './recipient-lists-store.ts';
import { rulesWithEndUserLists } from './legacy-rules-push.ts';

const T0 = Date.UTC(2025, 0, 1);
const fresh = () => openDatabase(':memory:', MASTER_MIGRATIONS);

test('each change is the next version; an add moves a pattern off the other list, a remove deletes it', () => {
  const db = fresh();
  assert.equal(currentListsVersion(db), 0);
  assert.deepEqual(allRecipientLists(db), {});
  assert.equal(recordListChange(db, { recipient: 'bob@example.test', list: 'allow', op: 'add', pattern: 'a@b.example' }, 'enduser:bob@example.test', 'c1', T0), 1);
  assert.equal(recordListChange(db, { recipient: 'bob@example.test', list: 'block', op: 'add', pattern: '*@spam.example' }, 'enduser:bob@example.test', 'c2', T0), 2);
  assert.equal(recordListChange(db, { recipient: 'carol@example.test', list: 'block', op: 'add', pattern: 'a@b.example' }, 'enduser:carol@example.test', 'c3', T0), 3);
  assert.deepEqual(allRecipientLists(db), {
    'bob@example.test': { allow: ['a@b.example'], block: ['*@spam.example'] },
    'carol@example.test': { allow: [], block: ['a@b.example'] },
  });
  recordListChange(db, { recipient: 'bob@example.test', list: 'block', op: 'add', pattern: 'a@b.example' }, 'enduser:bob@example.test', 'c4', T0);
  assert.deepEqual(recipientListsOf(db, 'bob@example.test'), { allow: [], block: ['*@spam.example', 'a@b.example'] }, 'moved, in the order added');
  recordListChange(db, { recipient: 'bob@example.test', list: 'block', op: 'remove', pattern: '*@spam.example' }, 'enduser:bob@example.test', 'c5', T0);
  assert.deepEqual(recipientListsOf(db, 'bob@example.test'), { allow: [], block: ['a@b.example'] });
  assert.deepEqual(recipientListsOf(db, 'nobody@example.test'), { allow: [], block: [] });
  assert.equal(currentListsVersion(db), 5);
  const [newest] = listVersions(db, 1);
  assert.deepEqual(newest, { version: 5, createdAt: T0, createdBy: 'enduser:bob@example.test', comment: 'c5', change: { recipient: 'bob@example.test', list: 'block', op: 'remove', pattern: '*@spam.example' } });
  assert.deepEqual(listVersions(db, 2, 3).map((v) => v.version), [2, 1], 'pages backwards');
  db.close();
});

test('pruning drops version rows older than a day below the newest 50; the current version and the entries stay', () => {
  const db = fresh();
  for (let i = 0; i < 80; i++) recordListChange(db, { recipient: 'bob@example.test', list: 'allow', op: 'add', pattern: `s${i}@b.example` }, 'enduser:bob@example.test', '', T0 + i);
  assert.equal(pruneListVersions(db, T0 + LIST_VERSIONS_KEPT_MS), 0, 'none is a day old yet');
  assert.equal(pruneListVersions(db, T0 + 80 + LIST_VERSIONS_KEPT_MS), 30);
  assert.deepEqual(listVersions(db, 100).map((v) => v.version), Array.from({ length: 50 }, (_, i) => 80 - i));
  assert.equal(currentListsVersion(db), 80);
  assert.equal(recipientListsOf(db, 'bob@example.test').allow.length, 80, 'the lists are whole');
  assert.equal(recordListChange(db, { recipient: 'bob@example.test', list: 'allow', op: 'remove', pattern: 's0@b.example' }, 'x', '', T0 + 2 * LIST_VERSIONS_KEPT_MS), 81, 'numbering goes on after a prune');
  db.close();
});

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
