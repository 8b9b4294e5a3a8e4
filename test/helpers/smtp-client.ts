import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';

export interface SendResult {
  readonly ok: boolean;
  readonly code: number | undefined;
  /** The server's last reply line (e.g. `250 2.0.0 Ok: queued as …` or `550 5.7.1 …`). */
  readonly response: string;
}

/** Send one message over a fresh connection; never throws for an SMTP refusal. A stream is sent as it is read. */
export async function sendMail(port: number, envelope: { from: string; to: string[] }, raw: string | Buffer | Readable, host = '127.0.0.1', opts: { localAddress?: string } = {}): Promise<SendResult> {
  const transport = nodemailer.createTransport({ host, port, secure: false, ignoreTLS: true, connectionTimeout: 10_000, socketTimeout: 30_000, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  try {
    const info = await transport.sendMail({ envelope, raw });
    return { ok: true, code: 250, response: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { ok: false, code: e.responseCode, response: e.response ?? e.message };
  } finally {
    transport.close();
  }
}

/** A minimal message with CRLF line endings. */
export function message(opts: { from?: string; to?: string; subject?: string; body?: string; headers?: string[] } = {}): string {
  return [
    `From: ${opts.from ?? 'sender@origin.test'}`,
    `To: ${opts.to ?? 'user@example.test'}`,
    `Subject: ${opts.subject ?? 'hello'}`,
    'Message-ID: <test-' + Math.random().toString(36).slice(2) + '@origin.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...(opts.headers ?? []),
    '',
    opts.body ?? 'Hello there.',
    '',
  ].join('\r\n');
}

/**
 * A raw SMTP conversation: write each line, collect every reply. For garbage and protocol
 * abuse that a real client library would refuse to send.
 */
export class RawSmtp {
  private readonly socket: Socket;
  private buffer = '';
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private partial: string[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        this.partial.push(line);
        if (/^\d{3}-/.test(line)) continue; // multi-line reply: wait for the last line
        const whole = this.partial.join('\n');
        this.partial = [];
        const w = this.waiting.shift();
        if (w) w(whole);
        else this.lines.push(whole);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w('(closed)');
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, opts: { host?: string; localAddress?: string; preface?: string } = {}): Promise<RawSmtp> {
    const { host = '127.0.0.1', localAddress, preface } = opts;
    const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    if (preface) socket.write(preface);
    return new RawSmtp(socket);
  }

  /** The next complete reply; the lines of a multi-line one are joined with \n. */
  reply(timeoutMs = 10_000): Promise<string> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed) return Promise.resolve('(closed)');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no SMTP reply in time')), timeoutMs);
      this.waiting.push((l) => { clearTimeout(timer); resolve(l); });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * One message from `clientIp` as a trusted balancer hands it on: a PROXY v1 header first (from
 * 127.0.0.1, which the scanner must list in `smtp.trustedProxies`), EHLO mail.client.test, one
 * recipient. Throws unless the greeting, MAIL, RCPT and DATA are accepted; returns the reply to
 * the message.
 */
export async function sendViaProxy(port: number, clientIp: string, envelope: { from: string; to: string }, raw: string): Promise<string> {
  const c = await RawSmtp.open(port, { preface: `PROXY TCP4 ${clientIp} 127.0.0.1 40000 25\r\n` });
  const expect = (reply: string, code: RegExp, what: string) => {
    if (!code.test(reply)) throw new Error(`${what}: ${reply}`);
  };
  try {
    expect(await c.reply(), /^220 /, 'greeting');
    await c.command('EHLO mail.client.test');
    expect(await c.command(`MAIL FROM:<${envelope.from}>`), /^250 /, 'MAIL FROM');
    expect(await c.command(`RCPT TO:<${envelope.to}>`), /^250 /, 'RCPT TO');
    expect(await c.command('DATA'), /^354/, 'DATA');
    return await c.command(`${raw.replace(/\r\n\./g, '\r\n..')}.`);
  } finally {
    c.close();
  }
}
