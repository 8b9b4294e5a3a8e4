import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createTokenStore } from './tokens.ts';
import { createUsersRepository } from './users-repository.ts';

for (const engine of ENGINES) {
  test(`${engine}: a token acts with the lower of its role and its user's, expires, and dies with the token it was made with`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const clock = { t: 1_764_000_000_000 };
    const users = createUsersRepository(db, () => clock.t);
    const tokens = createTokenStore(db, () => clock.t);
    const dana = await users.create('dana', 'h', 'operator');
    const admin = await tokens.create(dana.id, 'wide', { role: 'admin', expiresAt: clock.t + 86_400_000 });
    assert.equal(admin.record.username, 'dana');
    assert.equal((await tokens.verify(admin.token))?.user.role, 'operator', 'never above its user');
    assert.equal((await tokens.findById(admin.record.id))?.lastUsedAt, clock.t);
    assert.equal(await tokens.verify(`${admin.token.slice(0, -1)}x`), undefined, 'a wrong secret');
    const child = await tokens.create(dana.id, 'made with wide', { role: 'auditor', expiresAt: clock.t + 86_400_000, parentId: admin.record.id });
    const grandchild = await tokens.create(dana.id, 'made with that', { role: 'auditor', expiresAt: clock.t + 86_400_000, parentId: child.record.id });
    assert.equal((await tokens.verify(child.token))?.user.role, 'auditor');
    assert.equal(await tokens.revoke(admin.record.id), true);
    for (const tk of [admin, child, grandchild]) assert.equal(await tokens.verify(tk.token), undefined, `${tk.record.name} revoked with its parent`);
    assert.equal(await tokens.revoke('0000000000000000'), false);
    const later = await tokens.create(dana.id, 'short', { role: 'auditor', expiresAt: clock.t + 1000 });
    const other = await tokens.create(dana.id, 'other', { role: 'auditor', expiresAt: clock.t + 86_400_000 });
    assert.deepEqual((await tokens.list(dana.id)).map((x) => x.name).sort(), ['made with that', 'made with wide', 'other', 'short', 'wide']);
    clock.t += 1000;
    assert.equal(await tokens.verify(later.token), undefined, 'expired');
    assert.equal(await tokens.revokeAllForUser(dana.id), 2);
    assert.equal(await tokens.verify(other.token), undefined);
  });
}
