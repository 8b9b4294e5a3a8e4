import type net from 'node:net';
import { getSystemErrorMap } from 'node:util';
import type { IdleSweeper } from './idle-sweeper.ts';

/**
 * The relay on libuv's TCP handles, once the greeting gate is passed: bytes go from one
 * handle's read callback straight to the other's `writeBuffer`, without the two `net.Socket`
 * streams (their Readable/Writable state, 'data'/'end'/'close' events, and an `Error` with a
 * formatted stack for every client that ends with a reset). Same behaviour as splice.ts:
 * backpressure (a write the kernel could not take at once stops the reader until it is done),
 * half-close (EOF from one side is a shutdown of the other, after its queued writes), an
 * error on either side or the idle time-out closes both, `onDone` runs once at the end.
 *
 * These are Node's internal handle APIs (`socket._handle`, `process.binding('stream_wrap')`),
 * used only because Moat pins its own Node 24 (the `node` devDependency) and only after
 * `handleRelayApi()` found them in the expected shape at start; otherwise the proxy uses
 * splice.ts, the public stream path (docs/balancer.md, "Relay paths").
 */

/** The parts of a libuv TCP handle (TCPWrap) that the relay uses. */
export interface TcpHandle {
  /** The socket's descriptor (-1 before it has one). */
  readonly fd: number;
  onread: (arrayBuffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  shutdown(req: ShutdownReq): number;
  close(cb?: () => void): void;
  setNoDelay(on: boolean): number;
  /** Read into this buffer (from its start) instead of a new ArrayBuffer per read. */
  useUserBuffer(buf: Uint8Array): void;
  getpeername(out: Record<string, unknown>): number;
  getsockname(out: Record<string, unknown>): number;
  bind(host: string, port: number): number;
  bind6(host: string, port: number, flags: number): number;
  connect(req: ConnectReq, host: string, port: number): number;
  connect6(req: ConnectReq, host: string, port: number): number;
}

export interface ConnectReq {
  oncomplete: (status: number) => void;
  address: string;
  port: number;
}

interface WriteReq {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
  async: boolean;
  buffer: Uint8Array | null;
}

interface ShutdownReq {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
}

export interface HandleRelayApi {
  /** A new unconnected TCP handle. */
  readonly newTcp: () => TcpHandle;
  readonly TCPConnectWrap: new () => ConnectReq;
  readonly WriteWrap: new () => WriteReq;
  readonly ShutdownWrap: new () => ShutdownReq;
  readonly state: Int32Array;
  readonly kReadBytesOrError: number;
  readonly kArrayBufferOffset: number;
  readonly kLastWriteWasAsync: number;
  readonly eof: number;
}

const HANDLE_METHODS = [
  'readStart', 'readStop', 'writeBuffer', 'shutdown', 'close', 'setNoDelay', 'useUserBuffer', 'getpeername', 'getsockname', 'bind', 'bind6', 'connect', 'connect6',
] as const;

export type Binding = (name: string) => Record<string, unknown>;

/**
 * Looks for the internal API in the shape this module needs (`binding` is process.binding;
 * a parameter so the fallback can be tested). Returns it, or the reason it is not usable
 * (the proxy then logs that once and relays on streams).
 */
export function handleRelayApi(
  binding: Binding | null = (process as unknown as { binding?: Binding }).binding?.bind(process) ?? null,
): { readonly api: HandleRelayApi } | { readonly api: null; readonly reason: string } {
  try {
    if (typeof binding !== 'function') return { api: null, reason: 'process.binding is not available' };
    const sw = binding('stream_wrap');
    const tcp = binding('tcp_wrap') as { TCP?: (new (type: number) => TcpHandle) & { prototype: object }; TCPConnectWrap?: unknown; constants?: { SOCKET?: unknown } };
    const state = sw.streamBaseState;
    const { WriteWrap, ShutdownWrap, kReadBytesOrError, kArrayBufferOffset, kLastWriteWasAsync } = sw;
    if (typeof WriteWrap !== 'function' || typeof ShutdownWrap !== 'function') return { api: null, reason: 'stream_wrap has no WriteWrap/ShutdownWrap' };
    if (!(state instanceof Int32Array)) return { api: null, reason: 'stream_wrap.streamBaseState is not an Int32Array' };
    for (const k of [kReadBytesOrError, kArrayBufferOffset, kLastWriteWasAsync]) {
      if (typeof k !== 'number' || k < 0 || k >= state.length) return { api: null, reason: 'stream_wrap has no stream state indices' };
    }
    const TCP = tcp.TCP;
    const proto = TCP?.prototype;
    if (!TCP || !proto) return { api: null, reason: 'tcp_wrap has no TCP' };
    const socketType = tcp.constants?.SOCKET;
    if (typeof socketType !== 'number') return { api: null, reason: 'tcp_wrap has no constants.SOCKET' };
    if (typeof tcp.TCPConnectWrap !== 'function') return { api: null, reason: 'tcp_wrap has no TCPConnectWrap' };
    for (const m of HANDLE_METHODS) {
      if (typeof (proto as Record<string, unknown>)[m] !== 'function') return { api: null, reason: `TCP handles have no ${m}()` };
    }
    if (!('onread' in proto)) return { api: null, reason: 'TCP handles have no onread' };
    const eof = [...getSystemErrorMap()].find(([, [name]]) => name === 'EOF')?.[0];
    if (eof === undefined) return { api: null, reason: 'no UV_EOF in the system error map' };
    return {
      api: {
        newTcp: () => new TCP(socketType), TCPConnectWrap: tcp.TCPConnectWrap as HandleRelayApi['TCPConnectWrap'],
        WriteWrap: WriteWrap as HandleRelayApi['WriteWrap'], ShutdownWrap: ShutdownWrap as HandleRelayApi['ShutdownWrap'], state,
        kReadBytesOrError: kReadBytesOrError as number, kArrayBufferOffset: kArrayBufferOffset as number, kLastWriteWasAsync: kLastWriteWasAsync as number, eof,
      },
    };
  } catch (err) {
    return { api: null, reason: `process.binding failed: ${(err as Error).message}` };
  }
}

/** A socket's handle, when the stream has nothing buffered either way and the handle looks right. */
function takeable(s: net.Socket): TcpHandle | null {
  const h = (s as unknown as { _handle?: TcpHandle | null })._handle;
  if (!h || s.destroyed || s.readableLength !== 0 || s.writableLength !== 0) return null;
  return typeof h.writeBuffer === 'function' && typeof h.readStart === 'function' ? h : null;
}

/** The session's handle, for the proxy's close(): `kill` closes both handles. */
export interface HandleSession {
  kill(): void;
}

/**
 * Take both handles over and relay on them. Returns null (and touches nothing) when either
 * socket cannot be taken (already closed, or bytes buffered in its stream): the caller then
 * uses the stream path for this connection.
 */
export function relayOnHandles(
  api: HandleRelayApi, client: net.Socket, upstream: net.Socket, greeting: Uint8Array, idle: IdleSweeper, onDone: () => void,
): HandleSession | null {
  const ch = takeable(client);
  const uh = takeable(upstream);
  if (!ch || !uh) return null;
  // Detach the handles from their streams. The emptied client socket is destroyed at once:
  // that settles the server's connection count and fires the proxy's 'close' bookkeeping.
  // The upstream socket has no server; it is simply dropped.
  ch.readStop();
  uh.readStop();
  (client as unknown as { _handle: null })._handle = null;
  (upstream as unknown as { _handle: null })._handle = null;
  upstream.removeAllListeners();
  client.destroy();
  return relayHandles(api, ch, uh, greeting, idle, onDone);
}

/**
 * Read buffers: one per direction per session, as nginx's proxy_buffer_size (16 KiB), reused
 * from a free list, instead of a fresh 64 KiB ArrayBuffer for every read. A direction never
 * reads while a write of its buffer is still queued (the backpressure rule below), so the
 * buffer is never overwritten under a pending write.
 */
export const READ_BUFFER_BYTES = 16 * 1024;
const MAX_FREE_BUFFERS = 1024;
const freeBuffers: Buffer[] = [];
export const takeBuffer = (): Buffer => freeBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
export const giveBuffer = (b: Buffer): void => {
  if (freeBuffers.length < MAX_FREE_BUFFERS) freeBuffers.push(b);
};

let spare: WriteReq | null = null;
function newWriteReq(W: new () => WriteReq): WriteReq {
  const req = new W();
  req.async = false;
  req.buffer = null;
  return req;
}

/**
 * The relay itself, on two connected handles (the client's, the upstream's); the greeting goes
 * first. `upstreamBuffer`: the upstream handle already reads into this buffer (from
 * takeBuffer; the greeting may lie in it), which the relay then owns.
 */
export function relayHandles(
  api: HandleRelayApi, ch: TcpHandle, uh: TcpHandle, greeting: Uint8Array, idle: IdleSweeper, onDone: () => void, upstreamBuffer?: Buffer,
): HandleSession {
  const { WriteWrap, ShutdownWrap, state, kReadBytesOrError, kLastWriteWasAsync, eof } = api;

  let dead = false;
  const kill = () => {
    if (dead) return;
    dead = true;
    // uv_close stops reading at once and closes the descriptor; queued writes are only
    // cancelled. Nothing reads into or writes from the buffers after this, so they are free
    // now, and no close callback (one JS call per handle) is needed.
    ch.close();
    uh.close();
    giveBuffer(up.buf);
    giveBuffer(down.buf);
    idle.remove(session);
    onDone();
  };
  const session = idle.add(kill);

  /** One direction: reads from `from`, writes to `to`. */
  const direction = (from: TcpHandle, to: TcpHandle, given?: Buffer) => {
    const buf = given ?? takeBuffer();
    if (!given) from.useUserBuffer(buf);
    let pending = 0;
    const d = { ended: false, shutDown: false };
    const onWritten = (status: number) => {
      if (status < 0) return kill();
      if (--pending === 0 && !d.ended && !dead) from.readStart();
      return undefined;
    };
    const write = (data: Uint8Array): void => {
      // A write the kernel takes at once never binds its request object, so one spare serves
      // every such write; only a queued write keeps it (and a new spare is made).
      const req = spare ?? newWriteReq(WriteWrap);
      spare = req;
      req.handle = to;
      req.oncomplete = onWritten;
      const err = to.writeBuffer(req, data);
      if (err !== 0) return kill();
      if (state[kLastWriteWasAsync] !== 0) {
        // The kernel did not take it all: keep the bytes alive and stop reading until written.
        req.buffer = data;
        spare = newWriteReq(WriteWrap);
        if (pending++ === 0) from.readStop();
      }
      return undefined;
    };
    from.onread = () => {
      const n = state[kReadBytesOrError]!;
      if (n > 0) {
        session.active = true;
        write(new Uint8Array(buf.buffer, buf.byteOffset, n));
        return;
      }
      if (n === 0) return;
      if (n !== eof) return kill(); // ECONNRESET and the like: no Error object, just close both
      d.ended = true;
      const req = new ShutdownWrap();
      req.handle = to;
      req.oncomplete = (status) => {
        d.shutDown = true;
        if (status < 0 || bothDone()) kill();
      };
      if (to.shutdown(req) !== 0) kill();
    };
    return { write, d, buf, pendingWrites: () => pending };
  };
  const up = direction(ch, uh);
  const down = direction(uh, ch, upstreamBuffer);
  const bothDone = () => up.d.shutDown && down.d.shutDown;

  down.write(greeting);
  if (!dead) {
    ch.readStart();
    // A given buffer means the upstream handle is still reading (handle-connect.ts); a queued
    // greeting write has stopped it, and its completion starts it again.
    if (!upstreamBuffer && down.pendingWrites() === 0) uh.readStart();
  }
  return { kill };
}
