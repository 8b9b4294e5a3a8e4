import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createEnduserSessions } from './enduser-sessions.ts';

for (const engine of ENGINES) {
  test(`${engine}: an end user's session finds its recipient until it expires or is revoked; only the token's hash is stored; a new one sweeps the expired`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const clock = { t: Date.UTC(2025, 0, 1) };
    const sessions = createEnduserSessions(db, () => clock.t);
    const bob = await sessions.create('bob@example.test', 30);
    assert.equal(bob.expiresAt, clock.t + 30 * 60_000);
    const found = await sessions.lookup(bob.token);
    assert.equal(found?.recipient, 'bob@example.test');
    assert.match(found?.csrf ?? '', /^\S{16,}$/);
    assert.equal(await sessions.lookup('not a token'), undefined);
    const stored = await sql<{ id: string }>`SELECT id FROM enduser_sessions`.execute(db);
    assert.ok(stored.rows.every((r) => r.id !== bob.token), 'the token itself is not stored');

    const carol = await sessions.create('carol@example.test', 60);
    await sessions.revoke(carol.token);
    assert.equal(await sessions.lookup(carol.token), undefined, 'revoked');
    clock.t += 30 * 60_000;
    assert.equal(await sessions.lookup(bob.token), undefined, 'expired');
    await sessions.create('dave@example.test', 30);
    assert.equal((await sql<{ n: number }>`SELECT count(*) AS n FROM enduser_sessions`.execute(db)).rows.map((r) => Number(r.n))[0], 1, 'the expired one was swept');
  });
}
