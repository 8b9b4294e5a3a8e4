import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { findPrimary, splitHosts } from './primary-finder.ts';

test('splitHosts: one URL per host of a libpq multi-host URL, credentials, database and options kept', () => {
  assert.deepEqual(splitHosts('postgres://moat:s3cret@db1:5432,db2:5433/moat?sslmode=require'), ['postgres://moat:s3cret@db1:5432/moat?sslmode=require', 'postgres://moat:s3cret@db2:5433/moat?sslmode=require']);
  assert.deepEqual(splitHosts('postgresql://db1/moat'), ['postgresql://db1/moat']);
  assert.throws(() => splitHosts('mysql://db1/moat'), /database\.url: not a postgres:\/\/ URL/);
  assert.throws(() => splitHosts('postgres://moat@db1:5432,/moat'), /database\.url: an empty host/);
});

test('findPrimary: past its deadline the error names each host and its answer, never the password', async () => {
  // A port that takes connections and closes them at once: no PostgreSQL there.
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await assert.rejects(findPrimary([`postgres://moat:s3cret@127.0.0.1:${port}/moat`], { deadlineMs: 300, firstDelayMs: 50 }), (err: Error) => {
      assert.match(err.message, new RegExp(`^no PostgreSQL primary among 127\\.0\\.0\\.1:${port} \\(.+\\) after 300 ms$`));
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
  } finally {
    server.close();
  }
});
