import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { sql } from 'kysely';
import type { Engine } from './database.ts';
import { jobLease, LeaseLostError } from './leases.ts';
import { ENGINES, engineSkip, openMasterPair } from '../testing/databases.ts';
import { OnceOnlyJob } from '../jobs/once-only-job.ts';

const TTL = 30_000;

async function twoMasters(engine: Engine, t: TestContext) {
  const [a, b] = await openMasterPair(engine, t);
  return [a.db, b.db] as const;
}

for (const engine of ENGINES) {
  const skip = engineSkip(engine);

  async function setup(t: TestContext) {
    const [dbA, dbB] = await twoMasters(engine, t);
    const clock = { t: 1_000_000 };
    const now = () => clock.t;
    return { clock, a: jobLease(dbA, 'digests', { holder: 'master-a', ttlMs: TTL, now }), b: jobLease(dbB, 'digests', { holder: 'master-b', ttlMs: TTL, now }), dbA };
  }

  test(`${engine}: of two masters taking one lease at once, one gets it; it keeps it (and its fence) while it renews`, { skip }, async (t) => {
    const { clock, a, b } = await setup(t);
    const [la, lb] = await Promise.all([a.take(), b.take()]);
    assert.equal([la, lb].filter(Boolean).length, 1, 'exactly one holder');
    const [holder, other] = la ? [a, b] : [b, a];
    const first = (la ?? lb)!;
    assert.equal(first.fence, 1);
    clock.t += TTL - 1;
    const renewed = await holder.take();
    assert.equal(renewed?.fence, 1, 'renewed by its holder: the same fence');
    assert.equal(renewed?.expiresAt, clock.t + TTL);
    clock.t += TTL - 1;
    assert.equal(await other.take(), undefined, 'not expired since the renewal');
  });

  test(`${engine}: an expired lease goes to the next master with a higher fence; the stale holder's fenced write is refused`, { skip }, async (t) => {
    const { clock, a, b, dbA } = await setup(t);
    const stale = (await a.take())!;
    assert.deepEqual(await a.fenced(stale, async () => 'written'), 'written', 'the holder writes');
    // Master A pauses past its lease; B takes over.
    clock.t += TTL;
    const taken = await b.take();
    assert.equal(taken?.fence, stale.fence + 1);
    let ran = false;
    await assert.rejects(a.fenced(stale, async (trx) => {
      ran = true;
      await trx.insertInto('login_known').values({ key: 'stale-write', signed_in_at: 1 }).execute();
    }), LeaseLostError);
    assert.equal(ran, false, 'the stale holder\'s work never ran');
    assert.equal(await dbA.selectFrom('login_known').select('key').where('key', '=', 'stale-write').executeTakeFirst(), undefined);
    await a.release();
    assert.equal(await a.take(), undefined, 'A\'s release of its stale lease freed nothing, and A cannot take it back while B holds it');
    assert.equal(await b.fenced(taken!, async () => 'written'), 'written');
    // A write the work fails rolls back, and the lease stays B's.
    await assert.rejects(b.fenced(taken!, async () => {
      throw new Error('job failed');
    }), /job failed/);
    assert.equal((await b.take())?.fence, taken!.fence);
  });

  test(`${engine}: a fenced write renews the lease; a released lease is taken at once, with a higher fence`, { skip }, async (t) => {
    const { clock, a, b } = await setup(t);
    const la = (await a.take())!;
    clock.t += TTL - 1;
    await a.fenced(la, async () => undefined);
    clock.t += TTL - 1;
    assert.equal(await b.take(), undefined, 'still A\'s: its write renewed it');
    await a.release();
    const lb = await b.take();
    assert.equal(lb?.fence, la.fence + 1);
    assert.equal(await a.take(), undefined, 'B holds it now');
  });

  test(`${engine}: once-only jobs on two masters: one runs each tick; when it stops, the other runs the next`, { skip }, async (t) => {
    const { a, b } = await setup(t);
    const runs: string[] = [];
    const log = pino({ level: 'silent' });
    const jobs = [['A', a], ['B', b]].map(([name, lease]) => new OnceOnlyJob({ name: 'digests', lease: lease as typeof a, log, run: async (l) => void runs.push(`${name as string}${l.fence}`) }));
    for (let i = 0; i < 3; i++) await Promise.all(jobs.map((j) => j.tick()));
    assert.equal(runs.length, 3, 'once per tick, not once per master');
    assert.equal(new Set(runs).size, 1, `the same master every time: ${runs.join(' ')}`);
    const runner = runs[0]!.startsWith('A') ? 0 : 1;
    await jobs[runner]!.stop();
    assert.equal(await jobs[1 - runner]!.tick(), true);
    assert.equal(runs.at(-1), `${runner === 0 ? 'B' : 'A'}2`);
  });
}

test('postgres: a master taking over waits for the old holder\'s fenced write to commit, never runs beside it', { skip: engineSkip('postgres') }, async (t) => {
  const [dbA, dbB] = await twoMasters('postgres', t);
  const clock = { t: 1_000_000 };
  const now = () => clock.t;
  const a = jobLease(dbA, 'digests', { holder: 'master-a', ttlMs: TTL, now });
  const b = jobLease(dbB, 'digests', { holder: 'master-b', ttlMs: TTL, now });
  const la = (await a.take())!;
  const order: string[] = [];
  let finish!: () => void;
  const writing = a.fenced(la, async () => {
    await new Promise<void>((r) => (finish = r));
    order.push('A wrote');
  });
  await waitFor(async () => typeof finish === 'function');
  clock.t += TTL;
  const taking = b.take().then((l) => {
    order.push('B took');
    return l;
  });
  // B's take is seen waiting on the lease row's lock before A's write may finish.
  await waitFor(async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`.execute(dbA)).rows[0]!.n > 0);
  finish();
  await writing;
  assert.equal((await taking)?.fence, la.fence + 1);
  assert.deepEqual(order, ['A wrote', 'B took']);
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
