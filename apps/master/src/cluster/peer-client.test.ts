import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerUnreachableError, postToPeer, readJson } from './peer-client.ts';
import { PEER_FROM_HEADER, PEER_PATH, PEER_SECRET_HEADER } from './peer-wire.ts';

/** A throw-away self-signed certificate (Debian's openssl), as a master serving `http.tls` usually has. */
function selfSigned(t: { after(fn: () => void): void }): { key: Buffer; cert: Buffer; fingerprint: string } {
  const dir = mkdtempSync(join(tmpdir(), 'moat-peer-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=master-b'], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  return { key: readFileSync(join(dir, 'key.pem')), cert, fingerprint: new X509Certificate(cert).fingerprint256 };
}

/** A peer that records what reached it and answers `{ data: 'pong' }`. */
async function peerServer(t: { after(fn: () => Promise<void>): void }, server: Server): Promise<{ port: number; seen: { path: string; secret: string; from: string; body: string }[] }> {
  const seen: { path: string; secret: string; from: string; body: string }[] = [];
  server.on('request', async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ path: req.url ?? '', secret: String(req.headers[PEER_SECRET_HEADER]), from: String(req.headers[PEER_FROM_HEADER]), body: Buffer.concat(chunks).toString() });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: 'pong' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, seen };
}

const auth = { secret: 's3cret', from: 'master-a' };

test('over http: the body, the secret and the sender reach the peer\'s /cluster/peer', async (t) => {
  const peer = await peerServer(t, createHttpServer());
  const res = await postToPeer({ name: 'master-b', url: `http://127.0.0.1:${peer.port}`, fingerprint: '', seenAt: 0 }, '{"x":1}', auth, AbortSignal.timeout(5000));
  assert.equal(res.statusCode, 200);
  assert.deepEqual(await readJson(res, 1000), { data: 'pong' });
  assert.deepEqual(peer.seen, [{ path: PEER_PATH, secret: 's3cret', from: 'master-a', body: '{"x":1}' }]);
});

test('over https: the peer\'s certificate is pinned to the fingerprint it registered; a mismatch or none sends nothing', async (t) => {
  const tls = selfSigned(t);
  const peer = await peerServer(t, createHttpsServer({ key: tls.key, cert: tls.cert }));
  const url = `https://127.0.0.1:${peer.port}`;
  const res = await postToPeer({ name: 'master-b', url, fingerprint: tls.fingerprint.toLowerCase(), seenAt: 0 }, '{}', auth, AbortSignal.timeout(5000));
  assert.deepEqual(await readJson(res, 1000), { data: 'pong' });
  assert.equal(peer.seen.length, 1);

  const wrongPin = tls.fingerprint.replace(/^../, tls.fingerprint.startsWith('AA') ? 'BB' : 'AA');
  await assert.rejects(postToPeer({ name: 'master-b', url, fingerprint: wrongPin, seenAt: 0 }, '{}', auth, AbortSignal.timeout(5000)), (err: Error) => err instanceof PeerUnreachableError && /does not match/.test(err.message));
  await assert.rejects(postToPeer({ name: 'master-b', url, fingerprint: '', seenAt: 0 }, '{}', auth, AbortSignal.timeout(5000)), (err: Error) => err instanceof PeerUnreachableError && /no certificate fingerprint/.test(err.message));
  assert.equal(peer.seen.length, 1, 'the refused connections carried no request (and so no secret)');
});

test('a peer that is not there, and an answer over the limit, are PeerUnreachableError', async (t) => {
  const closed = createHttpServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(postToPeer({ name: 'master-b', url: `http://127.0.0.1:${port}`, fingerprint: '', seenAt: 0 }, '{}', auth, AbortSignal.timeout(5000)), PeerUnreachableError);

  const peer = await peerServer(t, createHttpServer());
  const res = await postToPeer({ name: 'master-b', url: `http://127.0.0.1:${peer.port}`, fingerprint: '', seenAt: 0 }, '{}', auth, AbortSignal.timeout(5000));
  await assert.rejects(readJson(res, 5), PeerUnreachableError);
});
