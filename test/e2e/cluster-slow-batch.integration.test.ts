import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { postgresBinDir, startPostgres } from '@moat/engines';
import { joinTokenFor, startTestMaster } from '../helpers/cluster-harness.ts';
import { nodeHello, nodeKey } from '../helpers/node-hello.ts';
import { rawLink } from '../helpers/raw-link.ts';
import { waitUntil } from '../helpers/wait.ts';

// PostgreSQL (Debian postgresql) is needed; CI installs it and sets MOAT_REQUIRE_ENGINES=1, where its absence fails.
const skip = postgresBinDir() || process.env['MOAT_REQUIRE_ENGINES'] === '1' ? false : 'PostgreSQL is not installed (Debian package postgresql)';

const key = nodeKey();
const batch = JSON.stringify({ type: 'events.batch', id: 'b1', events: [{ seq: 1, type: 'message.logged', payload: { not: 'a message' }, createdAt: 1 }] });

// Found by pnpm bench:master: a link's frames are handled one after another, so a node's
// heartbeats waited behind an events batch that waited on the database (a lock, a synchronous
// standby holding commits), and the master dropped a healthy link for missed heartbeats. A
// frame's arrival is what proves the node alive, not its turn to be handled.
test('heartbeats that arrive while an events batch waits on the database keep the link: the batch is acknowledged on the same link once the database answers', { skip, timeout: 120_000 }, async () => {
  const postgres = await startPostgres();
  // Heartbeats every 0.5 s, offline after 3 missed: 1.5 s.
  const master = await startTestMaster({ database: { url: postgres.url } });
  const locker = new pg.Client({ connectionString: postgres.url });
  await locker.connect();
  try {
    const link = await rawLink(master.wsUrl);
    let open = true;
    void link.closed.then(() => { open = false; });
    link.ws.send(nodeHello({ nodeName: 'slow-batch', nonce: link.nonce, key, joinToken: await joinTokenFor(master, 'slow-batch') }));
    await waitUntil(() => link.frames.some((f) => f.type === 'welcome'), 'the welcome');
    const heartbeat = () => { if (open) link.ws.send(JSON.stringify({ type: 'heartbeat', at: Date.now() })); };
    const beats = setInterval(heartbeat, 250);
    try {
      // The batch's write waits on the lock for longer than the node may miss heartbeats.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      link.ws.send(batch);
      await waitUntil(async () => Number((await locker.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'events' AND NOT l.granted")).rows[0]!.n) > 0, 'the batch waiting on the lock');
      // Three offline limits of heartbeats queued behind it, each one arriving on time.
      const waitingSince = Date.now();
      await waitUntil(() => Date.now() - waitingSince > 4_500 || !open, 'three offline limits with the batch waiting', 10_000);
      await locker.query('COMMIT');
      await waitUntil(() => link.frames.some((f) => f.type === 'events.ack') || !open, 'the batch acknowledged or the link closed');
      assert.ok(open, 'the link stayed open while its heartbeats arrived');
      assert.equal((link.frames.find((f) => f.type === 'events.ack') as { upToSeq: number }).upToSeq, 1);
      const online = await master.database.db.selectFrom('nodes').select('online').where('name', '=', 'slow-batch').executeTakeFirstOrThrow();
      assert.equal(online.online, 1, 'the node is still online');
    } finally {
      clearInterval(beats);
      await locker.query('ROLLBACK').catch(() => undefined);
    }
    link.ws.close();
    await link.closed;
  } finally {
    await locker.end();
    await master.close();
    await postgres.stop();
  }
});
