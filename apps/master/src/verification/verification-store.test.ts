import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createCalloutCacheStore, createVerificationStore } from './verification-store.ts';

const ldap = { kind: 'ldap', url: 'ldaps://dc.example.test', baseDn: 'dc=example,dc=test', startTls: false, rejectUnauthorized: true, bindDn: 'cn=moat', bindPassword: 'secret', filter: '(mail={address})' } as const;

for (const engine of ENGINES) {
  test(`${engine}: verification sources are stored by name, replaced, listed in order, sent as one frame, and removed`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const store = createVerificationStore(db);
    const empty = await store.frame();
    await store.put('staff', { kind: 'static', entries: ['a@example.test'] }, 'admin', 1000);
    await store.put('ad', ldap, 'admin', 2000);
    await store.put('staff', { kind: 'static', entries: ['b@example.test'] }, 'dana', 3000);
    assert.deepEqual((await store.list()).map((s) => [s.name, s.updatedBy, s.updatedAt]), [['ad', 'admin', 2000], ['staff', 'dana', 3000]]);
    assert.deepEqual((await store.get('staff'))?.source, { kind: 'static', entries: ['b@example.test'] });
    const frame = await store.frame();
    assert.deepEqual(Object.keys(frame.sources), ['ad', 'staff']);
    assert.equal(frame.sources['ad']?.kind === 'ldap' && frame.sources['ad'].bindPassword, 'secret', 'the scanners get the password');
    assert.notEqual(frame.digest, empty.digest);
    assert.equal(await store.remove('ad'), true);
    assert.equal(await store.remove('ad'), false);
    assert.equal(await store.get('ad'), undefined);
  });

  test(`${engine}: the call-out cache answers an address or its accept-all domain until it expires, and sweeps`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    const cache = createCalloutCacheStore(db);
    await cache.put('u@example.test', 'unknown', 2000);
    await cache.put('u@example.test', 'known', 3000);
    await cache.put('*@catchall.test', 'accept-all', 5000);
    assert.deepEqual(await cache.get('u@example.test', 1000), { result: 'known', expiresAt: 3000 });
    assert.deepEqual(await cache.get('anyone@catchall.test', 1000), { result: 'accept-all', expiresAt: 5000 });
    assert.equal(await cache.get('u@example.test', 3000), undefined, 'expired');
    assert.equal(await cache.sweep(3000), 1);
    assert.equal(await cache.sweep(3000), 0);
  });
}
