import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pino from 'pino';
import { ConfigError } from '@moat/config';
import { demoRules } from '@moat/rules';
import type { ClusterControl } from '../app-deps.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { isUniqueViolation } from '../auth/users-repository.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { publishRules, type PublishDeps } from './publish-rules.ts';
import { currentRules, ENDUSER_VERSIONS_KEPT_MS, insertRulesVersion, listRulesVersions, pruneEndUserVersions, rulesVersion, seedRules } from './rules-repository.ts';

const T0 = Date.UTC(2025, 0, 1);
const admin = { username: 'admin', via: 'session' };

function deps(db: PublishDeps['db']): PublishDeps & { pushes: () => number } {
  let pushes = 0;
  return { db, now: () => T0, log: pino({ level: 'silent' }), cluster: { rulesChanged: () => void pushes++ } as unknown as ClusterControl, pushes: () => pushes };
}

for (const engine of ENGINES) {
  test(`${engine}: rules versions: seeded once, numbered on, read back whole, paged newest first`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    assert.equal(await currentRules(db), undefined);
    const seeded = await seedRules(db, demoRules(), 'system', T0);
    assert.equal(seeded.version, 1);
    assert.equal((await seedRules(db, { ...demoRules(), lists: { ...demoRules().lists, senderBlock: ['*@x.example'] } }, 'system', T0 + 1)).createdAt, T0, 'a second seed keeps the first');
    const second = await insertRulesVersion(db, demoRules(), 'admin', 'two', T0 + 2);
    assert.equal(second.version, 2);
    assert.deepEqual(await currentRules(db), second);
    assert.equal((await rulesVersion(db, 1))?.document.version, 1, 'the stored document carries its version');
    assert.equal(await rulesVersion(db, 9), undefined);
    assert.deepEqual(await listRulesVersions(db, 10), [
      { version: 2, createdAt: T0 + 2, createdBy: 'admin', comment: 'two' },
      { version: 1, createdAt: T0, createdBy: 'system', comment: 'initial rules' },
    ]);
    assert.deepEqual((await listRulesVersions(db, 10, 2)).map((v) => v.version), [1], 'pages backwards');
  });

  test(`${engine}: a rules version and its audit entry are one transaction: an invalid document or a failing audit write stores neither`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    await seedRules(db, demoRules(), 'system', T0);
    const d = deps(db);
    const saved = await publishRules(d, { input: (_trx, current) => ({ ...current!.document, version: 99 }), by: admin, ip: '192.0.2.1', comment: 'c', action: 'rules.update' });
    assert.equal(saved.version, 2, 'the master numbers it');
    assert.equal(d.pushes(), 1);
    const [entry] = await createAuditLog(db, () => T0).list({ action: 'rules.update', limit: 5 });
    assert.deepEqual([entry?.target, entry?.details['previousVersion']], ['rules:2', 1]);

    await assert.rejects(publishRules(d, { input: () => ({ ...demoRules(), content: [{ id: 'x', target: 'subject', regex: '(' }] }), by: admin, ip: '', comment: '', action: 'rules.update' }), ConfigError);
    await sql`DROP TABLE audit`.execute(db);
    await assert.rejects(publishRules(d, { input: () => demoRules(), by: admin, ip: '', comment: '', action: 'rules.update' }));
    assert.equal((await currentRules(db))?.version, 2, 'no version without its audit entry');
    assert.equal(d.pushes(), 1, 'nothing pushed');
  });

  test(`${engine}: saves at once never make one version twice: each stores its own number, or fails as a unique violation`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    await seedRules(db, demoRules(), 'system', T0);
    const d = deps(db);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => publishRules(d, { input: () => demoRules(), by: admin, ip: '', comment: `save ${i}`, action: 'rules.update' })),
    );
    const stored = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.version] : []));
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(isUniqueViolation(o.reason), `a failed save is a unique violation, got ${String(o.reason)}`);
    assert.ok(stored.length >= 1);
    assert.equal(new Set(stored).size, stored.length, 'no version twice');
    const audited = (await createAuditLog(db, () => T0).list({ action: 'rules.update', limit: 10 })).map((e) => e.target).sort();
    assert.deepEqual(audited, stored.map((v) => `rules:${v}`).sort(), 'one audit entry per stored version, none for a failed save');
    assert.equal((await listRulesVersions(db, 10)).length, stored.length + 1);
  });

  test(`${engine}: old end users' rules versions are pruned after a day, below the newest 50, never an admin's`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    await seedRules(db, demoRules(), 'admin', T0);
    for (let i = 0; i < 60; i++) await insertRulesVersion(db, demoRules(), 'enduser:bob@example.test', '', T0 + i);
    assert.equal(await pruneEndUserVersions(db, T0 + ENDUSER_VERSIONS_KEPT_MS - 100), 0, 'none is a day old yet');
    assert.equal(await pruneEndUserVersions(db, T0 + 100 + ENDUSER_VERSIONS_KEPT_MS), 10);
    assert.deepEqual((await listRulesVersions(db, 100)).map((v) => v.version), [...Array.from({ length: 50 }, (_, i) => 61 - i), 1]);
  });

  test(`${engine}: the audit log filters by name, action and time, pages by id, newest first, and never stores a secret`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const clock = { t: T0 };
    const audit = createAuditLog(db, () => clock.t);
    await audit.audit(admin, '192.0.2.1', 'user.create', 'user:2', { username: 'bob', password: 'hunter2' });
    clock.t += 1000;
    await audit.audit({ username: 'bob', via: 'password' }, '192.0.2.2', 'auth.login', 'user:2');
    clock.t += 1000;
    await audit.audit(admin, '192.0.2.1', 'user.delete', 'user:2');
    const all = await audit.list({ limit: 10 });
    assert.deepEqual(all.map((e) => e.action), ['user.delete', 'auth.login', 'user.create']);
    assert.deepEqual(all[2], { id: all[2]!.id, at: T0, username: 'admin', via: 'session', ip: '192.0.2.1', action: 'user.create', target: 'user:2', details: { username: 'bob', password: '[redacted]' } });
    assert.deepEqual((await audit.list({ username: 'admin', limit: 10 })).map((e) => e.action), ['user.delete', 'user.create']);
    assert.deepEqual((await audit.list({ action: 'auth.login', limit: 10 })).map((e) => e.username), ['bob']);
    assert.deepEqual((await audit.list({ since: T0 + 1000, until: T0 + 2000, limit: 10 })).map((e) => e.action), ['auth.login']);
    assert.deepEqual((await audit.list({ before: all[0]!.id, limit: 1 })).map((e) => e.action), ['auth.login']);
  });
}
