import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideGreylist, type GreylistEntry } from '@moat/rules';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createGreylistStore } from './greylist-store.ts';

const times = { delaySeconds: 60, expirySeconds: 600, passSeconds: 3600 };
const t = { network: '192.0.2.0/24', sender: 'a@origin.test', recipient: 'u@example.test' };
const t0 = 1_700_000_000_000;

for (const engine of ENGINES) {
  test(`${engine}: the master keeps triplets: deferred, still deferred, passed after the delay`, { skip: engineSkip(engine) }, async (tc) => {
    const { db } = await openTestDatabase(engine, tc);
    const store = createGreylistStore(db);
    assert.equal((await store.check(t, times, t0)).pass, false);
    assert.equal((await store.check(t, times, t0 + 30_000)).retryInSeconds, 30);
    assert.equal(await store.count(), 1);
    const d = await store.check(t, times, t0 + 60_000);
    assert.equal(d.pass, true);
    assert.deepEqual(d.entry, { firstSeen: t0, passedAt: t0 + 60_000, expiresAt: t0 + 60_000 + 3_600_000 });
    assert.equal((await store.check({ ...t, recipient: 'other@example.test' }, times, t0 + 60_000)).pass, false, 'another recipient is another triplet');
  });

  test(`${engine}: the sweep removes expired triplets only`, { skip: engineSkip(engine) }, async (tc) => {
    const { db } = await openTestDatabase(engine, tc);
    const store = createGreylistStore(db);
    await store.check(t, times, t0); // deferred: expires at t0 + 600 s
    await store.check({ ...t, sender: 'b@origin.test' }, times, t0 + 500_000); // expires at t0 + 1100 s
    assert.equal(await store.sweep(t0 + 599_999), 0);
    assert.equal(await store.sweep(t0 + 600_000), 1);
    assert.equal(await store.count(), 1);
    assert.equal((await store.check(t, times, t0 + 700_000)).pass, false, 'a swept triplet starts over');
  });

  // The store decides in SQL: it must say what the state machine in @moat/rules says, in every state.
  test(`${engine}: the one-statement check decides as decideGreylist does, attempt after attempt`, { skip: engineSkip(engine) }, async (tc) => {
    const { db } = await openTestDatabase(engine, tc);
    const store = createGreylistStore(db);
    // Steps that cross every edge: within the delay, at it, past it, renewals, expiry of a deferred and of a passed entry.
    const steps = [0, 1_000, 59_999, 60_000, 60_001, 3_000_000, 3_660_001, 3_660_002, 3_700_000, 3_700_000 + 599_999, 3_700_000 + 600_000, 5_000_000];
    for (const delaySeconds of [60, 0]) {
      const tt = { ...times, delaySeconds };
      const triplet = { ...t, sender: `d${delaySeconds}@origin.test` };
      let model: GreylistEntry | undefined;
      for (const step of steps) {
        const now = t0 + step;
        const expected = decideGreylist(tt, model, now);
        model = expected.entry;
        assert.deepEqual(await store.check(triplet, tt, now), expected, `delay ${delaySeconds} s, attempt at +${step} ms`);
      }
    }
  });

  test(`${engine}: two attempts at once create the triplet once`, { skip: engineSkip(engine) }, async (tc) => {
    const { db } = await openTestDatabase(engine, tc);
    const store = createGreylistStore(db);
    const both = await Promise.all([store.check(t, times, t0), store.check(t, times, t0 + 1)]);
    assert.deepEqual(both.map((d) => d.entry.firstSeen), [t0, t0]);
    assert.equal(await store.count(), 1);
  });
}
