import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateDocument } from '@moat/config';
import { MasterConfigSchema } from '../config.ts';
import { checkFailoverConfig } from './failover-config.ts';

const base = { dataDir: '/tmp/x', cluster: { joinSecret: 'a-join-secret-0123456789' } };
const keysOf = (doc: Record<string, unknown>, env: Record<string, string> = {}): string[] => {
  try {
    checkFailoverConfig(validateDocument(MasterConfigSchema, doc, 'test'), env);
    return [];
  } catch (err) {
    return (err as { errors: { key: string }[] }).errors.map((e) => e.key);
  }
};

test('failover config: what the schema cannot say is checked at start, naming the key', () => {
  assert.deepEqual(keysOf(base), [], 'no failover: nothing to check');
  assert.deepEqual(keysOf({ ...base, failover: { role: 'active' } }), [], 'an active master alone');
  assert.deepEqual(keysOf({ ...base, failover: { role: 'standby' } }), ['failover.peers']);
  assert.deepEqual(keysOf({ dataDir: '/tmp/x', failover: { role: 'standby', peers: ['ws://127.0.0.1:1/cluster/replication'] } }), ['cluster.joinSecret']);
  assert.deepEqual(keysOf({ dataDir: '/tmp/x', failover: { role: 'standby', peers: ['ws://127.0.0.1:1/cluster/replication'] } }, { MOAT_JOIN_SECRET: 'from-the-environment-123' }), []);
  assert.deepEqual(keysOf({ ...base, failover: { role: 'standby', peers: ['wss://m:1/cluster/replication'] } }), ['failover.fingerprint']);
  assert.deepEqual(keysOf({ ...base, failover: { role: 'active', witness: { url: 'http://w:1', key: 'witness-key-0123456789' } } }), ['failover.witness']);
  // Failover replicates the SQLite file: with PostgreSQL, HA is the database's (docs/database.md).
  assert.deepEqual(keysOf({ ...base, database: { url: 'postgres://moat@db:5432/moat' } }), [], 'PostgreSQL alone');
  assert.deepEqual(keysOf({ ...base, database: { url: 'postgres://moat@db:5432/moat' }, failover: { role: 'active' } }), ['database.url']);
  assert.throws(() => validateDocument(MasterConfigSchema, { ...base, database: { url: 'mysql://db/moat' } }, 'test'), /database\.url/);
  assert.throws(() => validateDocument(MasterConfigSchema, { ...base, failover: { election: { bind: { host: 'h', port: 1 }, peers: [], key: 'k' } } }, 'test'), /failover\.election/);
});
