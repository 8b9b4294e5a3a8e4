import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createPeerRegistry, isFresh } from './peer-registry.ts';

for (const engine of ENGINES) {
  test(`${engine}: the masters' secret is made once, by whichever master asks first, and every master reads the same`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const [first, second] = await Promise.all([createPeerRegistry(database.db).secret(), createPeerRegistry(database.db).secret()]);
    assert.equal(first, second);
    assert.match(first, /^[A-Za-z0-9_-]{43}$/, '32 random bytes');
    assert.equal(await createPeerRegistry(database.db).secret(), first, 'a later master reads it');
  });

  test(`${engine}: a master registers, refreshes and unregisters itself`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const peers = createPeerRegistry(database.db);
    await peers.register({ name: 'master-a', url: 'http://10.0.0.1:8080', fingerprint: '' }, 1_000);
    await peers.register({ name: 'master-b', url: 'https://10.0.0.2:8080', fingerprint: 'AB:CD' }, 1_000);
    await peers.register({ name: 'master-a', url: 'http://10.0.0.9:8080', fingerprint: '' }, 5_000);
    assert.deepEqual(await peers.get('master-a'), { name: 'master-a', url: 'http://10.0.0.9:8080', fingerprint: '', seenAt: 5_000 });
    assert.deepEqual(await peers.get('master-b'), { name: 'master-b', url: 'https://10.0.0.2:8080', fingerprint: 'AB:CD', seenAt: 1_000 });
    await peers.unregister('master-a');
    assert.equal(await peers.get('master-a'), undefined);
    assert.ok(await peers.get('master-b'));
  });
}

test('a registration is fresh for three refresh periods, then the master is taken for gone', () => {
  const peer = { name: 'm', url: 'http://x', fingerprint: '', seenAt: 100_000 };
  for (const [now, fresh] of [[100_000, true], [129_999, true], [130_000, true], [130_001, false], [1_000_000, false]] as const) {
    assert.equal(isFresh(peer, now, 10_000), fresh, String(now));
  }
});
