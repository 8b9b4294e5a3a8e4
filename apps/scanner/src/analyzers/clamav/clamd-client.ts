import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** Where clamd listens: TCP (loopback or a scanning host) or its unix socket. */
export type ClamdAddress = { readonly host: string; readonly port: number } | { readonly socket: string };

export type ScanResult = { readonly infected: false } | { readonly infected: true; readonly name: string };

/**
 * clamd could not give a verdict. `too-large`: clamd refused the stream past its
 * StreamMaxLength (its reply `INSTREAM size limit exceeded`); the rest mean the engine is
 * unavailable: not reachable, no reply in time, an `... ERROR` reply, or a reply we do not know.
 */
export class ClamdError extends Error {
  readonly code: 'unreachable' | 'timeout' | 'too-large' | 'error' | 'protocol';
  constructor(code: ClamdError['code'], message: string) {
    super(message);
    this.name = 'ClamdError';
    this.code = code;
  }
}

const MAX_REPLY = 4096;
const TERMINATOR = Buffer.alloc(4);

/**
 * Scan a stream with clamd's INSTREAM command (clamd(8)): `zINSTREAM\0`, then chunks each
 * preceded by its length as a 4-byte big-endian integer, then a zero length. The reply is one
 * NUL-terminated line: `stream: OK`, `stream: <name> FOUND` or `<text> ERROR`. The source is
 * streamed with back-pressure, never buffered whole. clamd may answer before the stream ends
 * (past StreamMaxLength it replies and closes): sending stops at the first reply byte.
 */
export function scanStream(address: ClamdAddress, source: Readable, opts: { signal: AbortSignal; chunkBytes?: number }): Promise<ScanResult> {
  const chunkBytes = opts.chunkBytes ?? 64 * 1024;
  return new Promise<ScanResult>((resolve, reject) => {
    const socket: Socket = 'socket' in address ? connect(address.socket) : connect(address.port, address.host);
    let reply = Buffer.alloc(0);
    let replied = false;
    let settled = false;
    const finish = (err: Error | undefined, result?: ScanResult) => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      source.destroy();
      if (err) reject(err);
      else resolve(result!);
    };
    const onAbort = () => finish(new ClamdError('timeout', 'clamd did not answer in time'));
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });

    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (replied) return; // clamd may reset the connection after answering; the reply counts
      finish(new ClamdError('unreachable', `clamd: ${err.code ?? err.message}`));
    });
    socket.on('data', (data: Buffer) => {
      replied = true;
      reply = Buffer.concat([reply, data]);
      const end = reply.indexOf(0);
      if (end >= 0) finish(...parseReply(reply.subarray(0, end).toString('latin1')));
      else if (reply.length > MAX_REPLY) finish(new ClamdError('protocol', 'clamd reply too long'));
    });
    socket.on('close', () => {
      if (reply.length > 0) finish(...parseReply(reply.toString('latin1')));
      else finish(new ClamdError('unreachable', 'clamd closed the connection without a reply'));
    });
    socket.once('connect', () => {
      send(socket, source, chunkBytes, () => replied).catch((err: Error) => {
        if (!replied) finish(new ClamdError('unreachable', `reading or sending the message: ${err.message}`));
      });
    });
  });
}

async function send(socket: Socket, source: Readable, chunkBytes: number, replied: () => boolean): Promise<void> {
  await write(socket, Buffer.from('zINSTREAM\0', 'latin1'));
  for await (const data of source as AsyncIterable<Buffer>) {
    for (let at = 0; at < data.length; at += chunkBytes) {
      // One turn of the event loop first, so that a reply clamd sent meanwhile (past its
      // StreamMaxLength it answers and closes) is read before we write into a closed socket.
      await new Promise((resolve) => setImmediate(resolve));
      if (replied() || socket.destroyed) return;
      const piece = data.subarray(at, at + chunkBytes);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(piece.length);
      await write(socket, Buffer.concat([len, piece]));
    }
  }
  if (!replied() && !socket.destroyed) await write(socket, TERMINATOR);
}

function write(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.write(data)) return resolve();
    const onDrain = () => { socket.off('close', onClose); resolve(); };
    const onClose = () => { socket.off('drain', onDrain); reject(new Error('connection closed while sending')); };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

/** clamd's reply line, as finish() arguments. */
export function parseReply(line: string): [Error | undefined, ScanResult?] {
  const text = line.replace(/\0+$/, '').trim();
  if (text === 'stream: OK') return [undefined, { infected: false }];
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) return [undefined, { infected: true, name: found[1]!.slice(0, 200) }];
  if (/size limit exceeded/i.test(text)) return [new ClamdError('too-large', `clamd: ${text.slice(0, 200)}`)];
  if (/ ERROR$/.test(text)) return [new ClamdError('error', `clamd: ${text.slice(0, 200)}`)];
  return [new ClamdError('protocol', `clamd: unexpected reply ${JSON.stringify(text.slice(0, 200))}`)];
}

/** `PING` (clamd(8)): resolves when clamd answers `PONG`; the engine monitor's probe. */
export function ping(address: ClamdAddress, opts: { signal: AbortSignal }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket: Socket = 'socket' in address ? connect(address.socket) : connect(address.port, address.host);
    let reply = '';
    const finish = (err?: Error) => {
      opts.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(new ClamdError('timeout', 'clamd did not answer PING in time'));
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err: NodeJS.ErrnoException) => finish(new ClamdError('unreachable', `clamd: ${err.code ?? err.message}`)));
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (data: Buffer) => {
      reply += data.toString('latin1');
      const end = reply.indexOf('\0');
      if (end >= 0) finish(reply.slice(0, end) === 'PONG' ? undefined : new ClamdError('protocol', `clamd answered PING with ${JSON.stringify(reply.slice(0, end).slice(0, 100))}`));
      else if (reply.length > 100) finish(new ClamdError('protocol', 'clamd answered PING with no end'));
    });
    socket.on('end', () => finish(new ClamdError('protocol', 'clamd closed the connection without answering PING')));
  });
}
