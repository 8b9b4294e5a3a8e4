import dgram from 'node:dgram';
import net from 'node:net';
import type { Log } from './log.ts';

/**
 * Test doubles (not shipped: only *.test.ts import this): a tiny SMTP upstream that counts
 * sessions and records the PROXY line, a one-shot SMTP client, a log that keeps its events,
 * and a deadline poll.
 */
export interface FakeUpstream {
  readonly name: string;
  readonly port: number;
  greeted: number;
  readonly proxyLines: string[];
  /** Stop accepting and cut every session, as a crash would. */
  kill(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
}

export type Behaviour = 'smtp' | 'silent' | 'reject';

export async function fakeUpstream(name: string, behaviour: Behaviour = 'smtp', opts: { proxy?: boolean; port?: number } = {}): Promise<FakeUpstream> {
  const expectProxy = opts.proxy ?? true;
  const sockets = new Set<net.Socket>();
  const self = { name, port: 0, greeted: 0, proxyLines: [] as string[], kill, restart };
  let server: net.Server;

  function onConnection(s: net.Socket) {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    if (behaviour === 'silent') return;
    let buf = '';
    let proxied = !expectProxy;
    const greet = () => {
      if (behaviour === 'reject') {
        s.end('554 5.3.2 not now\r\n');
        return;
      }
      self.greeted++;
      s.write(`220 ${name} ready\r\n`);
    };
    if (proxied) greet();
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (!proxied) {
          proxied = true;
          self.proxyLines.push(line);
          greet();
        } else if (/^QUIT/i.test(line)) s.end('221 bye\r\n');
        else if (/^EHLO/i.test(line)) s.write(`250-${name}\r\n250 8BITMIME\r\n`);
        else s.write('250 ok\r\n');
      }
    });
  }

  async function listen(port: number) {
    server = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    self.port = (server.address() as net.AddressInfo).port;
  }
  async function kill() {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  }
  async function restart() {
    await listen(self.port);
  }
  await listen(opts.port ?? 0);
  return self;
}

export interface ClientResult {
  readonly greeting: string;
  readonly quit: string;
}

/** Connect, read the greeting, QUIT, read its reply. Errors are results, not throws. */
export function smtpSession(port: number, host = '127.0.0.1', localAddress?: string, timeoutMs = 10_000): Promise<ClientResult> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    let buf = '';
    let greeting = '';
    let done = false;
    const finish = (quit: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ greeting, quit });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    s.on('error', (err) => finish(`error ${(err as NodeJS.ErrnoException).code}`));
    s.on('close', () => finish('closed'));
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (!greeting) {
        greeting = line;
        if (line.startsWith('220')) s.write('QUIT\r\n');
      } else finish(line);
    });
  });
}

/** Run `n` jobs with at most `width` at a time. */
export async function bounded<T>(n: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
  return out;
}

/** Poll `cond` until it holds or `deadlineMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, deadlineMs = 10_000, everyMs = 10): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return cond();
}

export interface MemoryLog extends Log {
  readonly events: Array<Record<string, unknown>>;
}

export function memoryLog(): MemoryLog {
  const events: Array<Record<string, unknown>> = [];
  const keep = (level: string) => (obj: object, msg?: string) => void events.push({ level, msg, ...obj });
  return { events, info: keep('info'), warn: keep('warn'), error: keep('error'), debug: keep('debug') };
}

/** A free TCP or UDP port on `host` (bound, read, released). */
export async function freePort(host: string, udp: boolean): Promise<number> {
  if (udp) {
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((r) => s.bind(0, host, () => r()));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
