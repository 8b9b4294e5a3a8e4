import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { waitUntil } from '../helpers/wait.ts';

interface Opened {
  readonly ws: WebSocket;
  readonly first: Promise<Record<string, unknown>>;
  readonly closed: Promise<number>;
}

/** A socket on /cluster from a given loopback address that never says hello. */
async function open(url: string, from: string): Promise<Opened> {
  const ws = new WebSocket(url, { localAddress: from });
  ws.on('error', () => undefined);
  const first = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, first, closed };
}

/**
 * Issue 18 (Low): unauthenticated /cluster sockets were not capped, and each could send a
 * 4 MiB frame before its hello.
 */
test('sockets waiting for their hello are capped per address (32) and in all (256); once they go, a real scanner joins', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const held: Opened[] = [];
  try {
    for (let i = 0; i < 32; i++) held.push(await open(master.wsUrl, '127.0.0.1'));
    for (const s of held) assert.equal((await s.first).type, 'challenge');
    const over = await open(master.wsUrl, '127.0.0.1');
    assert.deepEqual({ type: (await over.first).type, code: (await over.first).code }, { type: 'error', code: 'MOAT_ERR_LINK_BUSY' });
    assert.equal(await over.closed, 1008);
    // Another address is not held up by that one.
    const other = await open(master.wsUrl, '127.0.0.2');
    assert.equal((await other.first).type, 'challenge');
    held.push(other);
    // Fill the rest of the 256 from other addresses: the next one is refused, whoever it is.
    for (let a = 3; held.length < 256; a++) {
      for (let i = 0; i < 32 && held.length < 256; i++) held.push(await open(master.wsUrl, `127.0.0.${a}`));
    }
    const full = await open(master.wsUrl, '127.0.0.200');
    assert.equal((await full.first).code, 'MOAT_ERR_LINK_BUSY');
    // Once they go, links are accepted again (each also goes by itself after the hello time-out).
    for (const s of held.splice(0)) s.ws.terminate();
    await waitUntil(async () => (await (await open(master.wsUrl, '127.0.0.1')).first).type === 'challenge', 'a challenge once the waiting sockets are gone');
    const scanner = await startClusterScanner('admitted-1', master.wsUrl, downstream.port);
    try {
      const api = await apiClient(master.url);
      await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.some((n: { name: string; online: boolean }) => n.name === 'admitted-1' && n.online), 'the scanner online');
    } finally {
      await scanner.close();
    }
  } finally {
    for (const s of held) s.ws.terminate();
    await master.close();
    await downstream.close();
  }
});

test('before its hello a socket may send at most 4 KiB in a frame: a bigger one closes it (1009) unread', async () => {
  const master = await startTestMaster();
  try {
    const s = await open(master.wsUrl, '127.0.0.1');
    assert.equal((await s.first).type, 'challenge');
    s.ws.send(JSON.stringify({ type: 'hello', padding: 'x'.repeat(64 * 1024) }));
    assert.equal(await s.closed, 1009);
  } finally {
    await master.close();
  }
});
