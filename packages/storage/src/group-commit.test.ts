import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, mkdtempSync, readlinkSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, walSync } from './sqlite.ts';
import { GroupCommitter, SyncFailedError } from './group-commit.ts';
import { CoalescedSync, DirSyncer, PathSync } from './dir-sync.ts';

test('jobs of one turn share a transaction and each gets its own result', async () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'moat-gc-')), 'db'), [{ version: 1, description: 't', sql: 'CREATE TABLE t (a INTEGER UNIQUE)' }]);
  const gc = new GroupCommitter(db);
  const insert = db.prepare('INSERT INTO t (a) VALUES (?)');
  const results = await Promise.all([1, 2, 3].map((a) => gc.run(() => insert.run(a).changes)));
  assert.deepEqual(results, [1, 1, 1]);
  assert.equal((db.prepare('SELECT count(*) n FROM t').get() as { n: number }).n, 3);
  db.close();
});

test('a failing job fails alone; the others of its batch commit', async () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'moat-gc-')), 'db'), [{ version: 1, description: 't', sql: 'CREATE TABLE t (a INTEGER UNIQUE)' }]);
  const gc = new GroupCommitter(db);
  const insert = db.prepare('INSERT INTO t (a) VALUES (?)');
  const outcomes = await Promise.allSettled([gc.run(() => insert.run(1)), gc.run(() => insert.run(1)), gc.run(() => insert.run(2))]);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(db.prepare('SELECT a FROM t ORDER BY a').all(), [{ a: 1 }, { a: 2 }]);
  db.close();
});

/**
 * Count the real fsync(2) calls on `path` made while `body` runs: node:fs's fsync is wrapped and
 * the wrapper pushed into every ESM import of it (dir-sync.ts's included), then put back.
 */
async function countFsyncs(path: string, body: () => Promise<void>): Promise<number> {
  const real = fs.fsync;
  let count = 0;
  fs.fsync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    if (readlinkSync(`/proc/self/fd/${fd}`) === path) count++;
    real(fd, callback);
  }) as typeof fs.fsync;
  syncBuiltinESMExports();
  try {
    await body();
  } finally {
    fs.fsync = real;
    syncBuiltinESMExports();
  }
  return count;
}

test('concurrent directory syncs coalesce and all resolve', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-ds-'));
  const syncer = new DirSyncer(dir);
  // 20 callers at once: the first starts an fsync, the 19 that came while it ran share one more.
  assert.equal(await countFsyncs(dir, () => Promise.all(Array.from({ length: 20 }, () => syncer.sync())).then(() => undefined)), 2, '20 concurrent syncs, 2 fsyncs');
  assert.equal(await countFsyncs(dir, () => syncer.sync()), 1, 'a sync with none running is one fsync of its own');
  syncer.close();
});

/** A sync whose completion the test decides. */
function heldSync() {
  const pending: { resolve(): void; reject(err: Error): void }[] = [];
  let calls = 0;
  return {
    sync: () => {
      calls++;
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
    get calls() {
      return calls;
    },
    pending,
  };
}

/** Whether `p` has settled once every callback already due has run (one turn of the event loop). */
const settledYet = async (p: Promise<unknown>) => {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
};

/** Wait until the held sync has been asked for `n` times: the batch before it has committed. */
async function syncRequested(held: { readonly calls: number }, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (held.calls < n) {
    assert.ok(Date.now() < deadline, `the sync was asked for ${held.calls} times, waiting for ${n}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

test('with a sync, callers are answered only once the sync after their commit resolves', async () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'moat-gc-')), 'db'), [{ version: 1, description: 't', sql: 'CREATE TABLE t (a INTEGER UNIQUE)' }], { synchronous: 'normal' });
  const held = heldSync();
  const gc = new GroupCommitter(db, { sync: held.sync });
  const insert = db.prepare('INSERT INTO t (a) VALUES (?)');
  const batch = Promise.all([1, 2].map((a) => gc.run(() => insert.run(a).changes)));
  await syncRequested(held, 1);
  assert.equal(await settledYet(batch), false, 'no answer before the sync');
  assert.equal((db.prepare('SELECT count(*) n FROM t').get() as { n: number }).n, 2, 'committed already');
  assert.equal(held.calls, 1, 'one sync for the batch');
  held.pending[0]!.resolve();
  assert.deepEqual(await batch, [1, 1]);
  db.close();
});

test('a failed sync fails every caller of its batch, and a job that failed alone keeps its own error', async () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'moat-gc-')), 'db'), [{ version: 1, description: 't', sql: 'CREATE TABLE t (a INTEGER UNIQUE)' }], { synchronous: 'normal' });
  const held = heldSync();
  const gc = new GroupCommitter(db, { sync: held.sync });
  const insert = db.prepare('INSERT INTO t (a) VALUES (?)');
  const outcomes = Promise.allSettled([gc.run(() => insert.run(1)), gc.run(() => insert.run(1))]);
  await syncRequested(held, 1);
  held.pending[0]!.reject(new Error('EIO'));
  const [a, b] = await outcomes;
  assert.equal(a.status, 'rejected');
  assert.ok((a as PromiseRejectedResult).reason instanceof SyncFailedError);
  assert.match(String((a as PromiseRejectedResult).reason), /EIO/);
  assert.equal(b.status, 'rejected');
  assert.match(String((b as PromiseRejectedResult).reason), /UNIQUE/);
  db.close();
});

test('a sync requested while one runs waits for a fresh one, shared by every such caller', async () => {
  const held = heldSync();
  const syncer = new CoalescedSync(held.sync);
  const first = syncer.sync();
  const later = [syncer.sync(), syncer.sync(), syncer.sync()];
  assert.equal(held.calls, 1);
  held.pending[0]!.resolve();
  await first;
  await new Promise((r) => setImmediate(r));
  assert.equal(held.calls, 2, 'the later callers share one new sync');
  assert.equal(await settledYet(Promise.all(later)), false, 'not answered by the sync that began before them');
  held.pending[1]!.resolve();
  await Promise.all(later);
});

test('walSync fdatasyncs the live WAL file, and a WAL removed at close is nothing to sync', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'moat-wal-')), 'db');
  const db = openDatabase(path, [{ version: 1, description: 't', sql: 'CREATE TABLE t (a INTEGER)' }], { synchronous: 'normal' });
  assert.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
  db.prepare('INSERT INTO t (a) VALUES (1)').run();
  assert.ok(existsSync(`${path}-wal`));
  const wal = walSync(path);
  await wal.sync();
  db.close();
  assert.equal(existsSync(`${path}-wal`), false);
  await wal.sync();
  const full = openDatabase(path, []);
  assert.equal(full.pragma('synchronous', { simple: true }), 2, 'FULL by default');
  full.close();
});

/** The paths this process holds open (from /proc/self/fd). */
const openPaths = () => readdirSync('/proc/self/fd').map((fd) => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
});

test('a PathSync keeps one descriptor between syncs and follows the path to a new file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-ps-'));
  const path = join(dir, 'f');
  writeFileSync(path, 'one');
  const syncer = new PathSync(path, { data: true, missingOk: true });
  await syncer.sync();
  await syncer.sync();
  assert.equal(openPaths().filter((p) => p === path).length, 1, 'one descriptor, kept');
  writeFileSync(`${path}.new`, 'two');
  renameSync(`${path}.new`, path); // another file under the same name
  await syncer.sync();
  assert.deepEqual(openPaths().filter((p) => p.startsWith(path)), [path], 'the old file let go, the new one held');
  syncer.close();
  assert.equal(openPaths().filter((p) => p.startsWith(path)).length, 0);
  await assert.rejects(new PathSync(join(dir, 'missing')).sync(), { code: 'ENOENT' });
});
