import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pgAutoFailoverMissing, startPgAutoFailover, type PgAutoFailover, type PgNodeState } from '@moat/engines';
import { createUsersRepository, type UsersRepository } from '../auth/users-repository.ts';
import { openMasterDatabase, type MasterDatabase } from './database.ts';
import { MASTER_MIGRATIONS } from './migrations.ts';
import { findPrimary } from './primary-finder.ts';

/**
 * The master's database under pg_auto_failover (docs/database.md, "High availability"): a
 * monitor, a primary and a synchronous standby as private instances. Skips where
 * pg_auto_failover is not installed, except under MOAT_REQUIRE_ENGINES=1 (CI), where it fails.
 */
const missing = pgAutoFailoverMissing();
const skip = missing && process.env['MOAT_REQUIRE_ENGINES'] !== '1' ? `${missing}; .ci/run installs it and sets MOAT_REQUIRE_ENGINES=1` : false;

const is = (name: string, reported: string, goal = reported) => (s: PgNodeState[]) => s.some((n) => n.name === name && n.reported === reported && n.goal === goal);
const both = (...conditions: ((s: PgNodeState[]) => boolean)[]) => (s: PgNodeState[]) => conditions.every((c) => c(s));

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the master on pg_auto_failover', { skip, timeout: 300_000 }, () => {
  let formation: PgAutoFailover;
  let database: MasterDatabase;
  let users: UsersRepository;
  let urls: string[];

  before(async () => {
    formation = await startPgAutoFailover({ fastFailover: true });
    const [a, b] = formation.nodes();
    urls = [a!.url, b!.url];
    // What a master's database.url would say: both hosts, libpq's multi-host form.
    const url = a!.url.replace(`127.0.0.1:${a!.port}`, `127.0.0.1:${a!.port},127.0.0.1:${b!.port}`);
    database = await openMasterDatabase({ engine: 'postgres', url, primaryWaitMs: 60_000 }, MASTER_MIGRATIONS);
    users = createUsersRepository(database.db, Date.now);
  });
  after(async () => {
    await database?.close();
    await formation?.stop();
  });

  test('kill -9 of the primary: the standby is promoted, nothing acknowledged is lost, the old primary comes back read-only', async () => {
    const [a, b] = formation.nodes();
    const [sync] = await query<{ synchronous_standby_names: string }>(a!.url, 'SHOW synchronous_standby_names');
    assert.match(sync!.synchronous_standby_names, /^ANY 1 \(pgautofailover_standby_2\)$/, 'the standby is synchronous');

    // Users created one after another until told to stop; each create that resolved was acknowledged.
    const acknowledged: string[] = [];
    const failures = new Map<string, number>();
    let lastFailureAt = 0;
    const acknowledgedAt: number[] = [];
    let writing = true;
    let killedAt = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        try {
          await users.create(`user${i}`, 'not-a-real-hash', 'auditor');
          acknowledged.push(`user${i}`);
          acknowledgedAt.push(Date.now());
        } catch (err) {
          // A connection lost to the crash, or a connection waiting for the new primary, fails
          // a create: it was not acknowledged. Anything else (a constraint, SQL) is a bug here.
          const code = (err as { code?: string }).code ?? '';
          if (/^(23|42)/.test(code)) throw err;
          const message = (err as Error).message.replace(/\d+/g, 'N');
          failures.set(message, (failures.get(message) ?? 0) + 1);
          lastFailureAt = Date.now();
        }
      }
    })();
    await until('20 users acknowledged', async () => (acknowledged.length >= 20 ? true : undefined));
    const beforeKill = acknowledged.length;
    killedAt = Date.now();
    await formation.kill('node1');
    await formation.waitForState(both(is('node2', 'wait_primary'), is('node1', 'primary', 'demoted')), 60_000);
    const promotedAfter = Date.now() - killedAt;
    assert.equal(await findPrimary(urls, { deadlineMs: 10_000 }), b!.url, 'the finder names the promoted standby');
    // New writes work: the writer goes on, through connections to the new primary.
    const promotedAt = Date.now();
    await until('10 users acknowledged after the promotion', async () => (acknowledgedAt.filter((t) => t > promotedAt).length >= 10 ? true : undefined));
    writing = false;
    await writer;
    const resumedAt = acknowledgedAt.find((t) => t > Math.max(lastFailureAt, killedAt))!;
    console.log(`failover: node2 promoted ${promotedAfter} ms after kill -9 of node1; writes acknowledged again ${resumedAt - killedAt} ms after it; ${acknowledged.length} users acknowledged (${beforeKill} before the kill); creates that failed: ${JSON.stringify([...failures])}`);

    const names = new Set((await users.list()).map((u) => u.username));
    const lost = acknowledged.filter((n) => !names.has(n));
    assert.deepEqual(lost, [], 'every acknowledged user is on the new primary');

    // The old primary, started again, asks the monitor before it serves: it rejoins as a standby.
    await formation.start('node1');
    await formation.waitForState(both(is('node1', 'secondary'), is('node2', 'primary')), 90_000);
    const [recovery] = await query<{ r: boolean }>(a!.url, 'SELECT pg_is_in_recovery() AS r');
    assert.equal(recovery!.r, true, 'the old primary is a standby now');
    await assert.rejects(query(a!.url, "INSERT INTO users (username, password_hash, role, created_at) VALUES ('fenced', 'x', 'auditor', 0)"), (err: { code?: string }) => err.code === '25006', 'the old primary refuses writes (read-only transaction)');
    assert.equal(await findPrimary(urls, { deadlineMs: 10_000 }), b!.url);
  });

  test('kill -9 of the standby: commits wait until the monitor turns synchronous replication off, then go on', async () => {
    const [a, b] = formation.nodes();
    await users.create('before-standby-loss', 'x', 'auditor');
    await formation.kill('node1');
    const killedAt = Date.now();
    // A commit now waits for a standby that will never answer... (A standby's walreceiver outlives
    // its postmaster's kill -9 for a moment and may still acknowledge a commit made right after it:
    // then that one returned, and the next is asked, until one is seen waiting.)
    const made = ['during-standby-loss'];
    const commit = (name: string) => {
      const p = users.create(name, 'x', 'auditor');
      return { p, settled: p.then(() => true, () => true) };
    };
    let pending = commit(made[0]!);
    const waiting = await until('a commit waiting for the synchronous standby', async () => {
      const rows = await query<{ n: number }>(b!.url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
      if (rows[0]!.n > 0) return true;
      if (await Promise.race([pending.settled, new Promise<false>((r) => setImmediate(() => r(false)))])) {
        await pending.p; // acknowledged by the dying standby (a failure here fails the test)
        made.push(`during-standby-loss-${made.length}`);
        pending = commit(made.at(-1)!);
      }
      return undefined;
    });
    assert.equal(waiting, true);
    // ...until pg_auto_failover marks the standby unhealthy and assigns the primary wait_primary,
    // which empties synchronous_standby_names: the commit returns and writes go on.
    const created = await pending.p;
    const blockedFor = Date.now() - killedAt;
    assert.equal(created.username, made.at(-1));
    const state = await formation.state();
    assert.equal(state.find((n) => n.name === 'node2')?.goal, 'wait_primary', `the monitor has assigned the primary wait_primary: ${JSON.stringify(state)}`);
    await formation.waitForState(is('node2', 'wait_primary'), 30_000);
    const [sync] = await query<{ synchronous_standby_names: string }>(b!.url, 'SHOW synchronous_standby_names');
    assert.equal(sync!.synchronous_standby_names, '', 'synchronous replication is off while the standby is gone');
    await users.create('after-standby-loss', 'x', 'auditor');
    console.log(`standby loss: a commit waited ${blockedFor} ms for the monitor to turn synchronous replication off`);

    // The standby back: it catches up and the primary is synchronous again.
    await formation.start('node1');
    await formation.waitForState(both(is('node1', 'secondary'), is('node2', 'primary')), 90_000);
    const [again] = await query<{ synchronous_standby_names: string }>(b!.url, 'SHOW synchronous_standby_names');
    assert.match(again!.synchronous_standby_names, /^ANY 1 \(pgautofailover_standby_1\)$/);
    const onStandby = await query<{ username: string }>(a!.url, "SELECT username FROM users WHERE username LIKE '%standby-loss%'");
    assert.deepEqual(onStandby.map((r) => r.username).sort(), ['after-standby-loss', 'before-standby-loss', ...made].sort());
  });
});
