import { isIPv6 } from 'node:net';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { HandleRelayApi, TcpHandle } from './handle-relay.ts';
import { parseReply } from './smtp-reply.ts';
import type { ConnectOptions, FailReason } from './upstream-connect.ts';

/**
 * upstream-connect.ts on a bare libuv TCP handle (see handle-relay.ts for why and when):
 * connect (from `localAddress` when set), write the PROXY preface, read the upstream's 2xx
 * greeting. Same failure reasons; the result is the connected handle and the greeting bytes,
 * ready for relayHandles. `host` and `localAddress` must be IP addresses (no DNS here; the
 * proxy uses this path only when every upstream is given by address). Callback-style, with
 * one timer per attempt, to keep the per-connection cost down.
 */
export type HandleConnectResult =
  | { readonly ok: true; readonly handle: TcpHandle; readonly greeting: Buffer }
  | { readonly ok: false; readonly reason: FailReason; readonly detail: string };

export function connectUpstreamHandle(api: HandleRelayApi, o: ConnectOptions, done: (r: HandleConnectResult) => void): void {
  const { state, kReadBytesOrError, kArrayBufferOffset, eof } = api;
  const h = api.newTcp();
  let finished = false;
  let buf: Buffer | null = null;
  let timer: NodeJS.Timeout | undefined;
  const failWith = (reason: FailReason, detail: string) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    h.close();
    done({ ok: false, reason, detail });
  };
  const v6 = isIPv6(o.host);
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
    h.onread = (arrayBuffer) => {
      const n = state[kReadBytesOrError]!;
      if (n === 0 || finished) return;
      if (n < 0) return failWith(n === eof ? 'closed-before-greeting' : 'error', n === eof ? 'upstream closed before its greeting' : errName(n));
      const chunk = Buffer.from(arrayBuffer!, state[kArrayBufferOffset]!, n);
      buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
      const reply = parseReply(buf);
      if (reply === null) return;
      if (reply === 'invalid' || reply.code < 200 || reply.code > 299) return failWith('bad-greeting', buf.subarray(0, 120).toString('latin1').trim());
      finished = true;
      clearTimeout(timer);
      h.readStop();
      done({ ok: true, handle: h, greeting: buf });
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
