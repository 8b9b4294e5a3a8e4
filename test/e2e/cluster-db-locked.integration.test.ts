import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase } from '@moat/storage';
import { startTestMaster, joinTokenFor } from '../helpers/cluster-harness.ts';
import { nodeHello, nodeKey } from '../helpers/node-hello.ts';
import { waitUntil } from '../helpers/wait.ts';
import { rawLink } from '../helpers/raw-link.ts';

const key = nodeKey();
const hello = (nonce: string, join: { nodeId?: string; joinToken?: string }) => nodeHello({ nodeName: 'locked-test', nonce, key, ...join });
const batch = JSON.stringify({ type: 'events.batch', id: 'b1', events: [{ seq: 1, type: 'message.logged', payload: { not: 'a message' }, createdAt: 1 }] });

// Found by test/faults (docs/faults.md): a write that failed inside the link's frame handling
// was uncaught and ended the master. Now the frame is refused, nothing acknowledged, the link
// closed, and the node's resend after reconnecting is stored once.
test("an events batch that meets a locked database closes the link with MOAT_ERR_INTERNAL; the master lives and takes the resend", async () => {
  const master = await startTestMaster({ database: 'sqlite' }); // the fault is SQLite's: another handle holding master.sqlite's write lock
  master.db.pragma('busy_timeout = 0'); // fail at once rather than after 5 s
  // The same SQLite library as the master's: two copies of SQLite in one process do not see
  // each other's locks (POSIX locks are per process), so node:sqlite could not lock it here.
  const locker = openDatabase(join(master.dataDir, 'master.sqlite'), []);
  try {
    const first = await rawLink(master.wsUrl);
    first.ws.send(hello(first.nonce, { joinToken: await joinTokenFor(master, 'locked-test') }));
    await waitUntil(() => first.frames.some((f) => f.type === 'welcome'), 'the welcome');
    const { nodeId } = first.frames.find((f) => f.type === 'welcome') as { nodeId: string };

    locker.exec('BEGIN EXCLUSIVE');
    first.ws.send(batch);
    assert.equal(await first.closed, 1011);
    const error = first.frames.find((f) => f.type === 'error') as { code: string; message: string };
    assert.equal(error.code, 'MOAT_ERR_INTERNAL');
    assert.match(error.message, /events\.batch/);
    assert.ok(!first.frames.some((f) => f.type === 'events.ack'), 'nothing acknowledged');
    locker.exec('ROLLBACK');

    assert.equal((await fetch(`${master.url}/healthz`)).status, 200, 'the master is alive');
    const again = await rawLink(master.wsUrl);
    again.ws.send(hello(again.nonce, { nodeId }));
    await waitUntil(() => again.frames.some((f) => f.type === 'welcome'), 'the welcome again');
    again.ws.send(batch);
    await waitUntil(() => again.frames.some((f) => f.type === 'events.ack'), 'the ack of the resend');
    assert.equal((again.frames.find((f) => f.type === 'events.ack') as { upToSeq: number }).upToSeq, 1);
    assert.equal((master.db.prepare('SELECT count(*) AS n FROM events WHERE node_id = ?').get(nodeId) as { n: number }).n, 1);
    again.ws.close();
    await again.closed;
  } finally {
    locker.close();
    await master.close();
  }
});
