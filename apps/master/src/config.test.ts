import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, validateDocument } from '@moat/config';
import { MasterConfigSchema } from './config.ts';

const errorsOf = (doc: Record<string, unknown>): string[] => {
  try {
    validateDocument(MasterConfigSchema, doc, 'master.yaml');
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.errors.map((e) => `${e.key}: ${e.message}`);
  }
};

test('a config that still has failover (the retired management failover) is refused at that key, pointing at docs/database.md', () => {
  assert.deepEqual(errorsOf({ dataDir: '/tmp/x' }), []);
  for (const failover of [{ role: 'active' }, { peers: ['wss://m:8080/cluster/replication'], election: { key: 'k' } }, {}, null]) {
    const errors = errorsOf({ dataDir: '/tmp/x', failover });
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]!, /^failover: management failover .* was replaced by several active masters on a replicated PostgreSQL: set `database.url` and remove `failover` \(docs\/database\.md/);
  }
  // Existing configs keep starting with the join secret the standby used to prove itself with.
  assert.deepEqual(errorsOf({ dataDir: '/tmp/x', cluster: { joinSecret: 'a-join-secret-0123456789' } }), []);
});
