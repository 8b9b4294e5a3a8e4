import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openMasterDatabase } from '../db/database.ts';
import { MASTER_MIGRATIONS } from '../db/migrations.ts';
import { ENGINES, engineSkip, freshPostgresUrl, openTestDatabase } from '../testing/databases.ts';
import { ACCOUNT_FACTOR, createLoginLimiter, type Attempt, type LoginLimiter, type LoginLimiterOptions } from './login-limiter.ts';
import { createSharedLoginLimiter, sweepLoginLimits } from './shared-login-limiter.ts';

/**
 * The same cases for the limiter in memory (one master's own count) and the shared one on each
 * engine (masters behind one balancer): they decide alike (login-attempts.ts).
 */
const KINDS = ['memory', ...ENGINES] as const;
type Kind = (typeof KINDS)[number];
const skipFor = (kind: Kind) => (kind === 'memory' ? false : engineSkip(kind));

async function limiter(kind: Kind, t: TestContext, limit = 3, more: Partial<LoginLimiterOptions> = {}) {
  const clock = { t: 1_000_000 };
  const options = { limit, now: () => clock.t, ...more };
  if (kind === 'memory') return { clock, l: createLoginLimiter(options) as LoginLimiter };
  const database = await openTestDatabase(kind, t);
  return { clock, l: createSharedLoginLimiter(database.db, { ...options, scope: 'login' }) };
}
const allowed = (a: Attempt) => a.allowed;
const ticketOf = (a: Attempt) => {
  assert.ok(a.allowed);
  return a.ticket;
};

for (const kind of KINDS) {
  const skip = skipFor(kind);

  test(`${kind}: an attempt is counted when it is allowed, before any password is checked: the limit holds for parallel attempts`, { skip }, async (t) => {
    const { l } = await limiter(kind, t, 10);
    // 150 attempts at once, none of them finished: exactly the limit goes ahead.
    const verdicts = await Promise.all(Array.from({ length: 150 }, () => l.attempt('192.0.2.1', 'admin')));
    assert.equal(verdicts.filter(allowed).length, 10);
  });

  test(`${kind}: up to the limit per minute, then refused with the wait; refused attempts do not extend it`, { skip }, async (t) => {
    const { clock, l } = await limiter(kind, t, 3);
    for (let i = 0; i < 3; i++) {
      assert.ok((await l.attempt('192.0.2.1', 'alice')).allowed);
      clock.t += 1000;
    }
    assert.deepEqual(await l.attempt('192.0.2.1', 'alice'), { allowed: false, retryAfterSeconds: 57 });
    clock.t += 56_999;
    assert.equal((await l.attempt('192.0.2.1', 'alice')).allowed, false);
    clock.t += 1;
    assert.ok((await l.attempt('192.0.2.1', 'alice')).allowed);
  });

  test(`${kind}: a right password gives its attempt back`, { skip }, async (t) => {
    const { l } = await limiter(kind, t, 2);
    for (let i = 0; i < 5; i++) await l.succeeded(ticketOf(await l.attempt('192.0.2.1', 'alice')));
  });

  test(`${kind}: counts per address: one client guessing many names is stopped; an IPv6 client is its /64`, { skip }, async (t) => {
    const { l } = await limiter(kind, t, 3);
    for (const name of ['a', 'b', 'c']) await l.attempt('192.0.2.1', name);
    assert.equal((await l.attempt('192.0.2.1', 'd')).allowed, false);
    assert.equal((await l.attempt('::ffff:192.0.2.1', 'd')).allowed, false, 'the same IPv4 client, as a mapped address');
    assert.equal((await l.attempt('192.0.2.2', 'd')).allowed, true);
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:0db8:0001:0002::77']) await l.attempt(ip, 'e');
    assert.equal((await l.attempt('2001:db8:1:2:a:b:c:d', 'f')).allowed, false);
    assert.equal((await l.attempt('2001:db8:1:3::1', 'f')).allowed, true);
  });

  test(`${kind}: many clients guessing one account are stopped at the account-wide count, but not its owner's known address`, { skip }, async (t) => {
    const { l } = await limiter(kind, t, 3);
    await l.succeeded(ticketOf(await l.attempt('198.51.100.7', 'Admin')));
    // 3 wrong from each of ACCOUNT_FACTOR addresses: the account-wide count is full.
    for (let i = 0; i < ACCOUNT_FACTOR; i++) for (let j = 0; j < 3; j++) assert.ok((await l.attempt(`192.0.2.${i}`, 'admin')).allowed);
    assert.equal((await l.attempt('203.0.113.1', 'admin')).allowed, false, 'a new address is refused');
    assert.equal((await l.attempt('203.0.113.1', 'bob')).allowed, true, 'other accounts are untouched');
    assert.equal((await l.attempt('198.51.100.7', 'admin')).allowed, true, 'the address that signed in before still may');
  });

  test(`${kind}: per account and address: ten wrong from one place do not lock the account elsewhere`, { skip }, async (t) => {
    const { l } = await limiter(kind, t, 3);
    for (let j = 0; j < 3; j++) await l.attempt('192.0.2.1', 'admin');
    assert.equal((await l.attempt('192.0.2.1', 'admin')).allowed, false);
    assert.equal((await l.attempt('198.51.100.7', 'admin')).allowed, true);
  });

  test(`${kind}: retry-after is at least one second`, { skip }, async (t) => {
    const { clock, l } = await limiter(kind, t, 1);
    await l.attempt('192.0.2.1', 'x');
    clock.t += 59_999;
    assert.deepEqual(await l.attempt('192.0.2.1', 'x'), { allowed: false, retryAfterSeconds: 1 });
  });
}

test('memory: tracked keys are bounded', async (t) => {
  const { l } = await limiter('memory', t, 1, { maxKeys: 6 });
  await l.attempt('192.0.2.1', 'first');
  for (let i = 0; i < 10; i++) await l.attempt(`198.51.100.${i}`, `user${i}`);
  // The oldest keys were dropped: the first address may try again.
  assert.equal((await l.attempt('192.0.2.1', 'other')).allowed, true);
  assert.equal((await l.attempt('198.51.100.9', 'other')).allowed, false);
});

for (const engine of ENGINES) {
  const skip = engineSkip(engine);
  const rows = async (db: Awaited<ReturnType<typeof openTestDatabase>>['db'], table: 'login_attempts' | 'login_known') =>
    Number((await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(db)).rows[0]!.n);

  test(`${engine}: the sweep deletes rows a window after their last attempt, known addresses after knownForMs, and the oldest beyond maxKeys`, { skip }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const clock = { t: 1_000_000 };
    const l = createSharedLoginLimiter(database.db, { scope: 'login', limit: 3, now: () => clock.t, knownForMs: 3_600_000 });
    const sweep = () => sweepLoginLimits(database.db, clock.t, { knownForMs: 3_600_000, maxKeys: 5 });
    await l.succeeded(ticketOf(await l.attempt('198.51.100.7', 'alice')));
    assert.equal(await rows(database.db, 'login_known'), 1);
    for (let i = 0; i < 3; i++) await l.attempt(`192.0.2.${i}`, 'bob');
    // 3 keys of alice's (given back, so already expired) and ip + pair per bob attempt plus bob's account: 3 + 7.
    assert.equal(await rows(database.db, 'login_attempts'), 10);
    assert.equal(await sweep(), 3 + 2, 'alice\'s empty rows, then the two oldest of bob\'s beyond 5');
    assert.equal(await rows(database.db, 'login_attempts'), 5);
    assert.equal((await l.attempt('192.0.2.2', 'bob')).allowed, true, 'the newest counts are the ones kept');
    clock.t += 60_000 + 1;
    await sweep();
    assert.equal(await rows(database.db, 'login_attempts'), 0, 'nothing within the window: every row went');
    assert.equal(await rows(database.db, 'login_known'), 1);
    clock.t += 3_600_000;
    await sweep();
    assert.equal(await rows(database.db, 'login_known'), 0, 'a known address is forgotten after knownForMs');
  });

  test(`${engine}: limiters of different scopes share the tables but not the counts`, { skip }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const now = () => 1_000_000;
    const login = createSharedLoginLimiter(database.db, { scope: 'login', limit: 1, now });
    const links = createSharedLoginLimiter(database.db, { scope: 'enduser-link', limit: 1, now });
    assert.ok((await login.attempt('192.0.2.1', 'x')).allowed);
    assert.equal((await login.attempt('192.0.2.1', 'x')).allowed, false);
    assert.ok((await links.attempt('192.0.2.1', 'x')).allowed);
  });
}

test('postgres: two masters on one database share the count: 150 parallel wrong passwords through both, exactly the limit of 10 goes ahead', { skip: engineSkip('postgres') }, async (t) => {
  const url = await freshPostgresUrl();
  // Two masters: each its own pool of connections to the one database, its own limiter.
  const masters = await Promise.all([1, 2].map(() => openMasterDatabase({ engine: 'postgres', url, poolSize: 10 }, MASTER_MIGRATIONS)));
  t.after(() => Promise.all(masters.map((m) => m.close())));
  const limiters = masters.map((m) => createSharedLoginLimiter(m.db, { scope: 'login', limit: 10, now: Date.now }));
  const verdicts = await Promise.all(Array.from({ length: 150 }, (_, i) => limiters[i % 2]!.attempt('192.0.2.1', 'admin')));
  assert.equal(verdicts.filter(allowed).length, 10);
  // A refused one is told how long to wait, on either master.
  const refused = verdicts.find((v) => !v.allowed);
  assert.ok(refused && !refused.allowed && refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 60);
});
