import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialStore, loadOrCreateNodeKey } from './credential-store.ts';

test("a node's key is made once, kept 0600 and the same at every start; the id file holds no secret", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-node-key-'));
  const previous = process.umask(0o022);
  try {
    const first = await loadOrCreateNodeKey(dir);
    assert.equal(statSync(join(dir, 'node-key.pem')).mode & 0o777, 0o600);
    assert.deepEqual(await loadOrCreateNodeKey(dir), first);
    const store = credentialStore(dir);
    await store.save({ nodeId: '0123456789abcdef' });
    assert.equal(statSync(join(dir, 'cluster-credential.json')).mode & 0o777, 0o600);
    assert.deepEqual(store.load(), { nodeId: '0123456789abcdef' });
    // A file from protocol 1 (an HMAC credential the master no longer knows): not joined, so the token is used.
    writeFileSync(join(dir, 'cluster-credential.json'), JSON.stringify({ nodeId: '0123456789abcdef', credential: 'a'.repeat(64) }));
    assert.equal(store.load(), undefined);
  } finally {
    process.umask(previous);
  }
});
