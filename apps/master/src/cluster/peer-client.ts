import { request, type IncomingMessage } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { PeerRecord } from './peer-registry.ts';
import { PEER_FROM_HEADER, PEER_PATH, PEER_SECRET_HEADER } from './peer-wire.ts';

/** Why a peer could not be asked (not reached, TLS pin refused, no answer in time). */
export class PeerUnreachableError extends Error {
  override readonly name = 'PeerUnreachableError';
}

/**
 * POST a JSON body to a peer master's /cluster/peer and resolve with its response (headers
 * read, body not). Over https the peer's certificate is pinned to the fingerprint it registered
 * (masters' certificates are usually self-signed, as for the scanners' link): the TLS socket is
 * checked before a byte of the request, and so the secret, is written. `signal` aborts it all.
 */
export async function postToPeer(peer: PeerRecord, body: string, auth: { readonly secret: string; readonly from: string }, signal: AbortSignal): Promise<IncomingMessage> {
  const url = new URL(PEER_PATH, peer.url);
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socket = url.protocol === 'https:' ? await pinnedSocket(host, port, peer, signal) : undefined;
  return await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({
      host, port, path: url.pathname, method: 'POST', signal,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), [PEER_SECRET_HEADER]: auth.secret, [PEER_FROM_HEADER]: auth.from },
      ...(socket ? { createConnection: () => socket } : {}),
    }, resolve);
    req.on('error', (err) => reject(new PeerUnreachableError(`master ${peer.name} at ${peer.url}: ${err.message}`)));
    req.end(body);
  });
}

function pinnedSocket(host: string, port: number, peer: PeerRecord, signal: AbortSignal): Promise<TLSSocket> {
  const pin = peer.fingerprint.toUpperCase();
  if (!pin) return Promise.reject(new PeerUnreachableError(`master ${peer.name} serves https but registered no certificate fingerprint`));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const fail = (err: Error) => {
      socket.destroy();
      reject(err instanceof PeerUnreachableError ? err : new PeerUnreachableError(`master ${peer.name} at ${peer.url}: ${err.message}`));
    };
    const onAbort = () => fail(new Error('no answer in time'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', fail);
      const seen = socket.getPeerCertificate().fingerprint256?.toUpperCase();
      if (seen !== pin) return fail(new PeerUnreachableError(`master ${peer.name}: certificate fingerprint ${seen} does not match the one it registered`));
      resolve(socket);
    });
  });
}

/** Read a response body as JSON, at most `limit` bytes (a peer's answer is one node result). */
export async function readJson(res: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.destroy();
      throw new PeerUnreachableError(`the answer is over ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new PeerUnreachableError('the answer is not JSON');
  }
}
