import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeOfflineError, NodeRequestError } from '../app-deps.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { joinNode } from './node-registry.ts';
import { createPeerForwarder } from './peer-forwarder.ts';
import { createPeerRegistry } from './peer-registry.ts';

/**
 * The forwarder's own rules, against a real HTTP server in the place of the master holding the
 * link (it plays the failures a real one is hard to make: silence, a stream cut off). The
 * forward through two real masters is test/e2e/master-postgres.integration.test.ts.
 */
const KEY = 'k'.repeat(43);
const NOW = 1_000_000;
const REFRESH_MS = 10_000;

/** A peer answering each request with `answer` (the secret checked), and the bodies it got. */
async function fakePeer(t: TestContext, answer: (res: ServerResponse, body: string) => void) {
  const bodies: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += String(c);
    bodies.push(body);
    if (req.headers['x-moat-peer-secret'] !== 'the-secret') return void res.writeHead(401).end('{"error":"no","code":"MOAT_ERR_PEER_UNAUTHENTICATED"}');
    answer(res, body);
  });
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

for (const engine of ENGINES) {
  test(`${engine}: which master a request goes to, and what comes back`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const db = database.db;
    const peers = createPeerRegistry(db);
    let now = NOW;
    const forwarder = (secret = 'the-secret', timeoutMs = 5000) => createPeerForwarder({ db, peers, self: 'master-a', secret, now: () => now, refreshMs: REFRESH_MS, timeoutMs });
    const node = async (name: string, online: number, linkedTo: string) => {
      const { id } = await joinNode(db, name, KEY, NOW);
      await db.updateTable('nodes').set({ online, linked_to: linkedTo }).where('id', '=', id).execute();
      return id;
    };
    const peer = await fakePeer(t, (res, body) => {
      const { frame } = JSON.parse(body) as { frame: { type: string } };
      if (frame.type === 'queue.list') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { items: ['q1'] } }));
      if (frame.type === 'quarantine.release') return void res.writeHead(404).end(JSON.stringify({ error: 'no such message', code: 'MOAT_ERR_NOT_FOUND', details: { node: 'scanner-b', offline: false } }));
      if (frame.type === 'quarantine.delete') return; // never answers
      if (frame.type === 'quarantine.fetch') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(1000, 'x'));
        setTimeout(() => res.socket?.destroy(), 50); // cut off mid-message
      }
    });
    await peers.register({ name: 'master-b', url: peer.url, fingerprint: '' }, NOW);
    const onB = await node('scanner-b', 1, 'master-b');

    // Linked to master B, registered and fresh: forwarded, the frame without its id, the result's data back.
    assert.deepEqual(await forwarder().request(onB, { type: 'queue.list', limit: 5 }), { items: ['q1'] });
    assert.deepEqual(JSON.parse(peer.bodies.at(-1)!), { nodeId: onB, frame: { type: 'queue.list', limit: 5 } });
    // The node's own error, as master B answered it.
    await assert.rejects(forwarder().request(onB, { type: 'quarantine.release', messageId: 'A'.repeat(20) }), (err: unknown) => err instanceof NodeRequestError && err.code === 'MOAT_ERR_NOT_FOUND' && err.nodeName === 'scanner-b');
    // A wrong secret: master B refuses; a 502 naming it.
    await assert.rejects(forwarder('wrong').request(onB, { type: 'queue.list', limit: 5 }), (err: unknown) => err instanceof NodeRequestError && err.code === 'MOAT_ERR_PEER' && /master-b/.test(err.message));
    // No answer within the hub's budget: a time-out, as a silent node is.
    await assert.rejects(forwarder('the-secret', 300).request(onB, { type: 'quarantine.delete', messageId: 'A'.repeat(20) }), (err: unknown) => err instanceof NodeRequestError && err.code === 'MOAT_ERR_NODE_TIMEOUT');
    // A message cut off on its way fails the stream, as a link dropping mid-stream does.
    const stream = await forwarder().fetchStream(onB, { type: 'quarantine.fetch', messageId: 'A'.repeat(20), window: 8 });
    await assert.rejects((async () => { for await (const _ of stream) { /* read on */ } })(), (err: unknown) => err instanceof NodeRequestError && /broke off/.test(err.message));

    // Offline, linked to no master, linked here (its link just ended), or to a master that is gone: offline, nothing sent.
    const sent = peer.bodies.length;
    for (const [name, online, linkedTo] of [['scanner-off', 0, 'master-b'], ['scanner-none', 1, ''], ['scanner-here', 1, 'master-a'], ['scanner-gone', 1, 'master-c']] as const) {
      const id = await node(name, online, linkedTo);
      await assert.rejects(forwarder().request(id, { type: 'queue.list', limit: 5 }), (err: unknown) => err instanceof NodeOfflineError && err.nodeName === name, name);
    }
    await assert.rejects(forwarder().request('no-such-node', { type: 'queue.list', limit: 5 }), NodeOfflineError);
    // Where a digest or a report can go when no node is linked here: online, on a live master other than this one.
    assert.deepEqual(await forwarder().reachableNodeIds(), [onB]);
    // Master B's registration three refreshes old: B is gone, its node offline.
    now = NOW + 3 * REFRESH_MS + 1;
    await assert.rejects(forwarder().request(onB, { type: 'queue.list', limit: 5 }), (err: unknown) => err instanceof NodeOfflineError && err.nodeName === 'scanner-b');
    assert.equal(peer.bodies.length, sent, 'nothing was sent for an offline node');
    assert.deepEqual(await forwarder().reachableNodeIds(), [], 'no node is reachable through a master that is gone');
  });
}
