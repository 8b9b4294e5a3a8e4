import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentRules } from '../../rules/rules-repository.ts';
import { changeRecipientList } from '../../recipient-lists/change-recipient-list.ts';
import { recipientListsOf } from '../../recipient-lists/recipient-lists-store.ts';
import { startHarness } from '../../testing/harness.ts';

const valid = {
  version: 999,
  acceptedDomains: ['example.test'],
  lists: { senderBlock: ['*@blocked.example', '*@spam.example'] },
  content: [{ id: 'demo-quarantine', target: 'subject', contains: 'QUARANTINE-ME', action: 'quarantine' }],
};

test('an auditor reads the rules but cannot change them; an operator cannot either', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const res = await h.app.inject({ method: 'GET', url: '/api/v1/rules', headers: h.bearer.auditor });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().version, 1);
  assert.equal(res.json().createdBy, 'system');
  assert.deepEqual(res.json().document.acceptedDomains, ['example.test']);
  for (const who of [h.bearer.auditor, h.bearer.operator]) {
    const put = await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: who, payload: valid });
    assert.equal(put.statusCode, 403);
    assert.equal(put.json().code, 'MOAT_ERR_FORBIDDEN');
    assert.equal((await h.app.inject({ method: 'POST', url: '/api/v1/rules/versions/1/rollback', headers: who })).statusCode, 403);
  }
  assert.equal((await currentRules(h.deps.database.db))?.version, 1);
});

test('an invalid document is 400 naming every bad key in it; nothing is stored or pushed', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const res = await h.app.inject({
    method: 'PUT',
    url: '/api/v1/rules',
    headers: h.bearer.admin,
    payload: {
      ...valid,
      lists: { ipBlock: ['300.1.2.3'] },
      content: [{ id: 'bad', target: 'subject', regex: '(unclosed', action: 'reject' }],
    },
  });
  assert.equal(res.statusCode, 400);
  const body = res.json();
  assert.equal(body.code, 'MOAT_ERR_RULES_INVALID');
  const fields = body.details.map((d: { field: string }) => d.field);
  assert.ok(fields.includes('content.0.regex'), JSON.stringify(body.details));
  assert.ok(fields.includes('lists.ipBlock.0'), JSON.stringify(body.details));
  assert.equal(typeof body.details[0].message, 'string');
  const unknown = await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: h.bearer.admin, payload: { ...valid, sendrBlock: [] } });
  assert.deepEqual(unknown.json().details, [{ field: 'sendrBlock', message: 'unknown key' }]);
  const notObject = await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: h.bearer.admin, payload: [1, 2] });
  assert.equal(notObject.statusCode, 400);
  assert.equal((await currentRules(h.deps.database.db))?.version, 1);
  assert.equal(h.cluster.rulesChangedCalls, 0);
  assert.equal((await h.app.services.auditLog.list({ action: 'rules.update', limit: 10 })).length, 0);
});

test('a valid document becomes version current+1 (whatever it says), is audited with what changed, and is pushed', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  h.clock.t += 5000;
  const res = await h.app.inject({
    method: 'PUT',
    url: '/api/v1/rules?comment=block%20spam.example',
    headers: { ...h.bearer.admin, 'x-forwarded-for': '203.0.113.9' },
    payload: valid,
    remoteAddress: '127.0.0.2',
  });
  assert.equal(res.statusCode, 200, res.body);
  const stored = res.json();
  assert.equal(stored.version, 2);
  assert.equal(stored.document.version, 2);
  assert.equal(stored.createdBy, 'admin');
  assert.equal(stored.comment, 'block spam.example');
  assert.deepEqual(stored.document.lists.senderBlock, ['*@blocked.example', '*@spam.example']);
  assert.equal(stored.document.limits.maxRecipients, 100, 'defaults are filled in');
  assert.equal((await currentRules(h.deps.database.db))?.version, 2);
  assert.equal(h.cluster.rulesChangedCalls, 1);

  const [entry] = await h.app.services.auditLog.list({ action: 'rules.update', limit: 10 });
  assert.ok(entry);
  assert.equal(entry.username, 'admin');
  assert.equal(entry.ip, '127.0.0.2', 'X-Forwarded-For is not trusted by default');
  assert.equal(entry.at, h.clock.t);
  assert.equal(entry.target, 'rules:2');
  assert.match(entry.via, /^token:/);
  assert.deepEqual(entry.details, {
    version: 2,
    previousVersion: 1,
    comment: 'block spam.example',
    // The demo rules (version 1) verify example.test's recipients (4a5a160); this document leaves that out.
    changedKeys: ['content', 'lists', 'recipientVerification'],
    content: { added: [], removed: ['demo-tag'], changed: [] },
  });

  // The comment may come as a header; a version in the body never matters.
  const again = await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: { ...h.bearer.admin, 'x-moat-comment': 'same again' }, payload: { ...valid, version: 1 } });
  assert.equal(again.json().version, 3);
  assert.equal(again.json().comment, 'same again');
  assert.equal(h.cluster.rulesChangedCalls, 2);
});

test('history lists versions newest first with who and why; one version can be read back', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  for (let i = 0; i < 3; i++) {
    await h.app.inject({ method: 'PUT', url: `/api/v1/rules?comment=edit${i}`, headers: h.bearer.admin, payload: valid });
  }
  const page1 = await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions?limit=2', headers: h.bearer.auditor });
  assert.deepEqual(page1.json().versions.map((v: { version: number; comment: string }) => [v.version, v.comment]), [
    [4, 'edit2'],
    [3, 'edit1'],
  ]);
  assert.equal(page1.json().next, 3);
  const page2 = await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions?limit=2&before=3', headers: h.bearer.auditor });
  assert.deepEqual(page2.json().versions.map((v: { version: number }) => v.version), [2, 1]);
  const one = await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions/1', headers: h.bearer.auditor });
  assert.equal(one.json().document.content.length, 2);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions/42', headers: h.bearer.auditor })).statusCode, 404);
});

test('a rollback stores the old document as a new version, audited and pushed', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: h.bearer.admin, payload: valid });
  const res = await h.app.inject({ method: 'POST', url: '/api/v1/rules/versions/1/rollback?comment=too%20strict', headers: h.bearer.admin });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().version, 3);
  assert.equal(res.json().comment, 'rollback to version 1: too strict');
  const v1 = (await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions/1', headers: h.bearer.admin })).json().document;
  assert.deepEqual(res.json().document, { ...v1, version: 3 });
  assert.equal((await currentRules(h.deps.database.db))?.version, 3);
  assert.equal(h.cluster.rulesChangedCalls, 2);
  const [entry] = await h.app.services.auditLog.list({ action: 'rules.rollback', limit: 1 });
  assert.equal(entry?.details['rolledBackTo'], 1);
  assert.deepEqual(entry?.details['content'], { added: ['demo-tag'], removed: [], changed: [] });
  assert.equal((await h.app.inject({ method: 'POST', url: '/api/v1/rules/versions/9/rollback', headers: h.bearer.admin })).statusCode, 404);
});

// ── issue 18: end users' lists are not rules: an admin's save neither conflicts with them nor undoes them ──
test('an end user\'s change while an admin edits makes no rules version: the save is not stale and leaves the entry alone; another admin\'s save since is 409 MOAT_ERR_STALE_RULES naming what changed', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const listDeps = { db: h.deps.database.db, now: h.deps.now, log: h.deps.log, cluster: h.deps.cluster };
  const loaded = (await h.app.inject({ method: 'GET', url: '/api/v1/rules', headers: h.bearer.admin })).json();
  // While the admin edits version 1, an end user allows a sender from their quarantine page.
  await changeRecipientList(listDeps, 'alice@example.test', { op: 'add', list: 'allow', pattern: 'friend@partner.test' }, '192.0.2.1');
  assert.equal((await currentRules(h.deps.database.db))?.version, 1, 'no rules version');
  const edited = { ...loaded.document, content: [...loaded.document.content, { id: 'new-rule', target: 'subject', contains: 'NEW', action: 'tag' }] };
  const put = await h.app.inject({ method: 'PUT', url: `/api/v1/rules?baseVersion=${loaded.version}`, headers: h.bearer.admin, payload: edited });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().version, 2);
  assert.deepEqual(put.json().document.recipientLists, {}, 'the rules carry no end user\'s entry');
  assert.deepEqual((await recipientListsOf(h.deps.database.db, 'alice@example.test')), { allow: ['friend@partner.test'], block: [] }, 'the end user\'s entry is untouched');
  assert.ok(put.json().document.content.some((r: { id: string }) => r.id === 'new-rule'));

  // A second admin's save from version 1 (before the first admin's): refused, nothing stored.
  const stale = await h.app.inject({ method: 'PUT', url: `/api/v1/rules?baseVersion=${loaded.version}`, headers: h.bearer.admin, payload: { ...loaded.document, lists: { senderBlock: ['*@other.example'] } } });
  assert.equal(stale.statusCode, 409, stale.body);
  const body = stale.json();
  assert.equal(body.code, 'MOAT_ERR_STALE_RULES');
  assert.equal(body.details.baseVersion, 1);
  assert.equal(body.details.currentVersion, 2);
  assert.deepEqual(body.details.changedKeys, ['content']);
  assert.deepEqual(body.details.content.added, ['new-rule']);
  assert.deepEqual(body.details.versions.map((v: { version: number }) => v.version), [2]);
  assert.match(body.error, /changed since version 1/);
  assert.equal((await currentRules(h.deps.database.db))?.version, 2);

  // The admin's own per-recipient lists are part of the rules: another admin's change to them makes a save stale too.
  const mine = (await h.app.inject({ method: 'GET', url: '/api/v1/rules', headers: h.bearer.admin })).json();
  const theirs = await h.app.inject({ method: 'PUT', url: `/api/v1/rules?baseVersion=${mine.version}`, headers: h.bearer.admin, payload: { ...mine.document, recipientLists: { 'bob@example.test': { allow: [], block: ['spam@partner.test'] } } } });
  assert.equal(theirs.statusCode, 200, theirs.body);
  const conflict = await h.app.inject({ method: 'PUT', url: `/api/v1/rules?baseVersion=${mine.version}`, headers: h.bearer.admin, payload: { ...mine.document, lists: { senderBlock: ['*@x.example'] } } });
  assert.equal(conflict.statusCode, 409);
  assert.deepEqual(conflict.json().details.changedKeys, ['recipientLists']);
  // A base version that was never stored is stale too.
  assert.equal((await h.app.inject({ method: 'PUT', url: '/api/v1/rules?baseVersion=99', headers: h.bearer.admin, payload: mine.document })).json().code, 'MOAT_ERR_STALE_RULES');
});

test('a save without a base version that leaves recipientLists out keeps the admin\'s; a rollback keeps them too; neither touches the end users\' lists', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const listDeps = { db: h.deps.database.db, now: h.deps.now, log: h.deps.log, cluster: h.deps.cluster };
  await changeRecipientList(listDeps, 'bob@example.test', { op: 'add', list: 'block', pattern: 'pest@spam.test' }, '192.0.2.1');
  const withAdminLists = await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: h.bearer.admin, payload: { ...valid, recipientLists: { 'carol@example.test': { allow: ['boss@partner.test'], block: [] } } } });
  assert.equal(withAdminLists.statusCode, 200);
  const put = await h.app.inject({ method: 'PUT', url: '/api/v1/rules', headers: h.bearer.admin, payload: valid });
  assert.equal(put.statusCode, 200);
  assert.deepEqual(put.json().document.recipientLists, { 'carol@example.test': { allow: ['boss@partner.test'], block: [] } });
  const back = await h.app.inject({ method: 'POST', url: '/api/v1/rules/versions/1/rollback', headers: h.bearer.admin });
  assert.equal(back.statusCode, 200);
  assert.deepEqual(back.json().document.recipientLists, { 'carol@example.test': { allow: ['boss@partner.test'], block: [] } });
  assert.deepEqual((await recipientListsOf(h.deps.database.db, 'bob@example.test')), { allow: [], block: ['pest@spam.test'] });
  assert.equal(h.cluster.rulesChangedCalls, 3);
  assert.equal(h.cluster.recipientListsChangedCalls, 1);
});
