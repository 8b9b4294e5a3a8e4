/**
 * A minimal SMTP load client that times every message, since smtp-source reports none.
 * It speaks like smtp-source (no pipelining: each command waits for its reply) with the same
 * message shape (four header lines, then `size` bytes of 78-character lines), over
 * `sessions` parallel sessions in a closed loop (a session sends its next message as soon as
 * the previous one is answered), so latency is measured under the same concurrency as the
 * throughput run.
 *
 * What one latency sample covers:
 * - new connection per message: from connect() to the 250 reply after the final "." (the
 *   TCP handshake, the greeting — smtp-server holds it back 100 ms —, EHLO, MAIL, RCPT, DATA,
 *   the body and the server's commit). QUIT and the close are not included.
 * - reused connection: from sending MAIL FROM to the 250 reply after the final ".".
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LatencyOptions {
  port: number;
  messages: number;
  sessions: number;
  reuse: boolean;
  size: number;
  from: string;
  to: string;
  helo: string;
  /** Per-reply time-out. */
  replyTimeoutMs: number;
  /** Whole-run time-out. */
  timeoutMs: number;
}

export interface LatencyResult {
  /** One entry per message that got its 250, in ms. */
  samples: number[];
  failures: number;
  firstError: string | undefined;
  wallMs: number;
}

interface Reply {
  code: number;
  text: string;
}

class Conn {
  private buf = '';
  private lines: string[] = [];
  private replies: Reply[] = [];
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private error: Error | undefined;
  readonly socket: Socket;
  private readonly replyTimeoutMs: number;

  constructor(socket: Socket, replyTimeoutMs: number) {
    this.socket = socket;
    this.replyTimeoutMs = replyTimeoutMs;
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed by server')));
  }

  private fail(e: Error): void {
    this.error ??= e;
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      clearTimeout(w.timer);
      w.reject(this.error);
    }
  }

  private onData(d: string): void {
    this.buf += d;
    let i: number;
    while ((i = this.buf.indexOf('\r\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      this.lines.push(line);
      // "250-..." continues a multi-line reply, "250 ..." (or a bare code) ends it.
      if (line.length < 4 || line[3] === ' ') {
        this.replies.push({ code: Number(line.slice(0, 3)), text: this.lines.join('\n') });
        this.lines = [];
      }
    }
    const w = this.waiting;
    const r = this.replies.shift();
    if (w && r) {
      this.waiting = undefined;
      clearTimeout(w.timer);
      w.resolve(r);
    } else if (r) this.replies.unshift(r);
  }

  reply(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no reply within ${this.replyTimeoutMs} ms`));
      }, this.replyTimeoutMs);
      this.waiting = { resolve, reject, timer };
    });
  }

  async expect(code: number, what: string, send?: string | Buffer): Promise<void> {
    if (send !== undefined) this.socket.write(send);
    const r = await this.reply();
    if (r.code !== code) throw new Error(`${what}: expected ${code}, got ${r.text.slice(0, 200)}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

function open(port: number, replyTimeoutMs: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect time-out'));
    }, replyTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(new Conn(socket, replyTimeoutMs));
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** smtp-source's payload: lines of 78 characters (a counter then X's) adding up to `size` bytes. */
export function payload(size: number): Buffer {
  const parts: string[] = [];
  let left = size;
  for (let n = 1; left > 0; n++) {
    const len = Math.min(78, Math.max(1, left - 2));
    const head = String(n);
    parts.push((head + 'X'.repeat(78)).slice(0, len) + '\r\n');
    left -= len + 2;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

export async function runLatencyClient(o: LatencyOptions): Promise<LatencyResult> {
  const body = payload(o.size);
  const end = Buffer.from('.\r\n', 'latin1');
  const samples: number[] = [];
  let next = 0;
  let failures = 0;
  let firstError: string | undefined;
  const deadline = Date.now() + o.timeoutMs;
  const started = performance.now();

  const message = (n: number): Buffer =>
    Buffer.concat([
      Buffer.from(
        `From: <${o.from}>\r\nTo: <${o.to}>\r\nDate: ${new Date().toUTCString()}\r\nMessage-Id: <latency.${process.pid}.${n}@${o.helo}>\r\n\r\n`,
        'latin1',
      ),
      body,
      end,
    ]);

  const session = async (): Promise<void> => {
    let conn: Conn | undefined;
    while (next < o.messages) {
      if (Date.now() > deadline) throw new Error(`latency run passed its ${Math.round(o.timeoutMs / 1000)} s time-out`);
      const n = next++;
      let t0 = performance.now();
      try {
        if (!conn) {
          t0 = performance.now();
          conn = await open(o.port, o.replyTimeoutMs);
          await conn.expect(220, 'greeting');
          await conn.expect(250, 'EHLO', `EHLO ${o.helo}\r\n`);
        }
        if (o.reuse) t0 = performance.now();
        await conn.expect(250, 'MAIL', `MAIL FROM:<${o.from}>\r\n`);
        await conn.expect(250, 'RCPT', `RCPT TO:<${o.to}>\r\n`);
        await conn.expect(354, 'DATA', 'DATA\r\n');
        await conn.expect(250, 'end of DATA', message(n));
        samples.push(performance.now() - t0);
        if (!o.reuse) {
          conn.socket.write('QUIT\r\n');
          await conn.reply().catch(() => undefined);
          conn.close();
          conn = undefined;
        }
      } catch (err) {
        failures++;
        firstError ??= (err as Error).message;
        conn?.close();
        conn = undefined;
        if (failures > Math.max(10, o.messages / 10)) throw new Error(`latency client: too many failures (${failures}), first: ${firstError}`);
      }
    }
    if (conn) {
      conn.socket.write('QUIT\r\n');
      await conn.reply().catch(() => undefined);
      conn.close();
    }
  };

  await Promise.all(Array.from({ length: Math.min(o.sessions, o.messages) }, session));
  return { samples, failures, firstError, wallMs: performance.now() - started };
}
