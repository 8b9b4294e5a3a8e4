import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createSessionStore } from './sessions.ts';
import { createUsersRepository, isUniqueViolation } from './users-repository.ts';

for (const engine of ENGINES) {
  test(`${engine}: users are found by name whatever its case, names are unique, the last admin is counted`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const users = createUsersRepository(db, () => 1_764_000_000_000);
    const alice = await users.create('Alice', 'hash-a', 'admin');
    assert.deepEqual(alice, { id: alice.id, username: 'Alice', role: 'admin', disabled: false, createdAt: 1_764_000_000_000 });
    assert.equal((await users.findByUsername('aLiCe'))?.id, alice.id);
    const taken = await users.create('ALICE', 'hash-b', 'auditor').then(() => undefined, (err: unknown) => err);
    assert.ok(isUniqueViolation(taken), `a second Alice is a unique violation, got ${String(taken)}`);
    const bob = await users.create('bob', 'hash-b', 'operator');
    assert.deepEqual((await users.list()).map((u) => u.username), ['Alice', 'bob']);
    assert.equal(await users.count(), 2);
    assert.equal(await users.activeAdminCount(), 1);
    await users.update(alice.id, { disabled: true });
    assert.equal(await users.activeAdminCount(), 0);
    assert.deepEqual(await users.update(bob.id, { role: 'admin', passwordHash: 'hash-c' }), { ...bob, role: 'admin' });
    assert.equal(await users.passwordHashOf(bob.id), 'hash-c');
    assert.equal(await users.remove(bob.id), true);
    assert.equal(await users.remove(bob.id), false);
    assert.equal(await users.findById(bob.id), undefined);
  });

  test(`${engine}: a session finds its enabled user until it expires, and ends on revoke`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const clock = { t: 1_764_000_000_000 };
    const users = createUsersRepository(db, () => clock.t);
    const sessions = createSessionStore(db, () => clock.t, 1);
    const carol = await users.create('carol', 'h', 'operator');
    const one = await sessions.create(carol.id, '127.0.0.1', 'test');
    const two = await sessions.create(carol.id, '127.0.0.1', 'test');
    assert.equal(one.expiresAt, clock.t + 3_600_000);
    assert.equal((await sessions.lookup(one.token))?.user.username, 'carol');
    assert.equal(await sessions.lookup('not a token'), undefined);
    await users.update(carol.id, { disabled: true });
    assert.equal(await sessions.lookup(one.token), undefined, 'a disabled user has no session');
    await users.update(carol.id, { disabled: false });
    assert.equal(await sessions.revokeAllForUser(carol.id, two.token), 1);
    assert.equal(await sessions.lookup(one.token), undefined);
    assert.ok(await sessions.lookup(two.token));
    clock.t += 3_600_000;
    assert.equal(await sessions.lookup(two.token), undefined, 'expired');
    assert.equal(await sessions.sweep(), 1);
    const three = await sessions.create(carol.id, '', '');
    await sessions.revoke(three.token);
    assert.equal(await sessions.lookup(three.token), undefined);
  });
}
