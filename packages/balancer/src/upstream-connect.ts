import net from 'node:net';
import { parseReply } from './smtp-reply.ts';

/**
 * Connect to one upstream and wait for its 2xx greeting before the client sees anything
 * (the greeting gate). Any failure is a passive failure with a reason, and the caller tries
 * the next upstream while the client waits.
 */
export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Written first, before the greeting is read (PROXY v1), or null. */
  readonly preface: string | null;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  /** Local address to connect from (see the config's sourceAddress). */
  readonly localAddress?: string | undefined;
}

export type FailReason = 'refused' | 'connect-timeout' | 'greeting-timeout' | 'bad-greeting' | 'closed-before-greeting' | 'error';

export type ConnectResult =
  | { readonly ok: true; readonly socket: net.Socket; readonly greeting: Buffer; readonly code: number }
  | { readonly ok: false; readonly reason: FailReason; readonly detail: string };

export function connectUpstream(o: ConnectOptions): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: o.host, port: o.port, allowHalfOpen: true, noDelay: true, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    let buf = Buffer.alloc(0);
    let done = false;
    let timer = setTimeout(() => failWith('connect-timeout', `no connect in ${o.connectTimeoutMs} ms`), o.connectTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
    };
    const failWith = (reason: FailReason, detail: string) => {
      if (done) return;
      done = true;
      cleanup();
      socket.destroy();
      resolve({ ok: false, reason, detail });
    };
    const onEnd = () => failWith('closed-before-greeting', 'upstream closed before its greeting');
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const reply = parseReply(buf);
      if (reply === null) return;
      if (reply === 'invalid' || reply.code < 200 || reply.code > 299) {
        failWith('bad-greeting', buf.subarray(0, 120).toString('latin1').trim());
        return;
      }
      done = true;
      cleanup();
      socket.pause();
      resolve({ ok: true, socket, greeting: buf, code: reply.code });
    };
    socket.once('connect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => failWith('greeting-timeout', `no greeting in ${o.greetingTimeoutMs} ms`), o.greetingTimeoutMs);
      if (o.preface !== null) socket.write(o.preface);
    });
    socket.on('data', onData);
    socket.on('end', onEnd);
    // Stays attached after success: a later error is handled by the splice, which adds its own.
    socket.on('error', (err: NodeJS.ErrnoException) => failWith(err.code === 'ECONNREFUSED' ? 'refused' : 'error', err.code ?? err.message));
  });
}
