import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createSharedLoginLimiter } from '../auth/shared-login-limiter.ts';
import { createGreylistStore } from '../greylist/greylist-store.ts';
import { createCalloutCacheStore } from '../verification/verification-store.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { cacheSweep } from './cache-sweep.ts';

for (const engine of ENGINES) {
  test(`${engine}: the cache sweep deletes expired greylist triplets, call-out results and login counts, and keeps the live ones`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const clock = { t: 1_000_000 };
    const greylist = createGreylistStore(db);
    const times = { delaySeconds: 60, expirySeconds: 600, passSeconds: 3600 };
    await greylist.check({ network: '192.0.2.0/24', sender: 'a@example.test', recipient: 'b@example.test' }, times, clock.t);
    const callouts = createCalloutCacheStore(db);
    await callouts.put('gone@example.test', 'known', clock.t + 1000);
    await callouts.put('kept@example.test', 'known', clock.t + 3_600_000);
    await createSharedLoginLimiter(db, { scope: 'login', limit: 3, now: () => clock.t }).attempt('192.0.2.1', 'alice');
    clock.t += 600_000;
    await cacheSweep(db, pino({ level: 'silent' }), () => clock.t)();
    assert.equal(await greylist.count(), 0);
    assert.equal(await callouts.get('gone@example.test', 0), undefined);
    assert.ok(await callouts.get('kept@example.test', clock.t));
    assert.equal((await db.selectFrom('login_attempts').select('key').execute()).length, 0);
  });
}
