import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { giveBuffer, takeBuffer, type HandleRelayApi, type TcpHandle } from './handle-relay.ts';
import { parseReply } from './smtp-reply.ts';
import type { ConnectOptions, FailReason } from './upstream-connect.ts';

/**
 * upstream-connect.ts on a bare libuv TCP handle (see handle-relay.ts for why and when):
 * connect (from `localAddress` when set), write the PROXY preface, read the upstream's 2xx
 * greeting. Same failure reasons; the result is the connected handle and the greeting bytes,
 * ready for relayHandles, which must take over in the same tick (the handle is still
 * reading). `host` and `localAddress` must be IP addresses (no DNS here; the proxy uses this
 * path only when every upstream is given by address). Callback-style, with one timer at a
 * time, to keep the per-connection cost down.
 */
export type HandleConnectResult =
  /** `buffer`: the handle reads into it (the greeting may lie in it); pass it on to relayHandles. */
  | { readonly ok: true; readonly handle: TcpHandle; readonly greeting: Buffer; readonly buffer: Buffer }
  | { readonly ok: false; readonly reason: FailReason; readonly detail: string };

export function connectUpstreamHandle(api: HandleRelayApi, o: ConnectOptions, done: (r: HandleConnectResult) => void): void {
  const { state, kReadBytesOrError, eof } = api;
  const h = api.newTcp();
  let finished = false;
  let buf: Buffer | null = null;
  let timer: NodeJS.Timeout | undefined;
  let readBuffer: Buffer | null = null;
  const failWith = (reason: FailReason, detail: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const rb = readBuffer;
    h.close(() => {
      if (rb) giveBuffer(rb);
    });
    done({ ok: false, reason, detail });
  };
  const v6 = o.host.includes(':'); // an IP literal here (see acceptableOnHandles)
  if (o.localAddress) {
    const err = v6 ? h.bind6(o.localAddress, 0, 0) : h.bind(o.localAddress, 0);
    if (err !== 0) return failWith('error', `bind ${o.localAddress}: ${err}`);
  }
  const req = new api.TCPConnectWrap();
  req.address = o.host;
  req.port = o.port;
  req.oncomplete = (status) => {
    if (finished) return;
    clearTimeout(timer);
    if (status < 0) return failWith(status === REFUSED ? 'refused' : 'error', errName(status));
    timer = setTimeout(() => failWith('greeting-timeout', `no greeting in ${o.greetingTimeoutMs} ms`), o.greetingTimeoutMs);
    h.setNoDelay(true);
    const rb = takeBuffer();
    readBuffer = rb;
    h.useUserBuffer(rb);
    h.onread = () => {
      const n = state[kReadBytesOrError]!;
      if (n === 0 || finished) return;
      if (n < 0) return failWith(n === eof ? 'closed-before-greeting' : 'error', n === eof ? 'upstream closed before its greeting' : errName(n));
      // Usually the whole greeting comes in one read and stays in the read buffer; a split one is copied out.
      buf = buf === null ? rb.subarray(0, n) : Buffer.concat([buf, rb.subarray(0, n)]);
      const reply = parseReply(buf);
      if (reply === null) {
        if (buf.buffer === rb.buffer) buf = Buffer.from(buf); // the next read reuses rb
        return;
      }
      if (reply === 'invalid' || reply.code < 200 || reply.code > 299) return failWith('bad-greeting', buf.subarray(0, 120).toString('latin1').trim());
      finished = true;
      clearTimeout(timer);
      // Still reading: the caller sets the relay's onread synchronously (no epoll change in between).
      done({ ok: true, handle: h, greeting: buf, buffer: rb });
    };
    if (o.preface !== null) {
      const w = new api.WriteWrap();
      w.handle = h;
      w.oncomplete = () => {};
      w.async = false;
      const data = Buffer.from(o.preface, 'latin1');
      w.buffer = data;
      const err = h.writeBuffer(w, data);
      if (err !== 0) return failWith('error', errName(err));
    }
    const err = h.readStart();
    if (err !== 0) failWith('error', errName(err));
  };
  timer = setTimeout(() => failWith('connect-timeout', `no connect in ${o.connectTimeoutMs} ms`), o.connectTimeoutMs);
  const err = v6 ? h.connect6(req, o.host, o.port) : h.connect(req, o.host, o.port);
  if (err !== 0) failWith(err === REFUSED ? 'refused' : 'error', errName(err));
}

/** libuv's codes are −errno on Unix. */
const REFUSED = -constants.errno.ECONNREFUSED;

function errName(code: number): string {
  try {
    return getSystemErrorName(code);
  } catch {
    return String(code);
  }
}
