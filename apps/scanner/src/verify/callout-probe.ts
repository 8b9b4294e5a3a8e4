import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** What one call-out found; `unavailable` covers a refused connection, a time-out and any 4xx. */
export type ProbeOutcome =
  | { readonly result: 'known' | 'unknown' | 'accept-all'; readonly reply: string }
  | { readonly result: 'unavailable'; readonly reply: string };

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  /** Our name in EHLO. */
  readonly helo: string;
  readonly timeoutMs: number;
}

/**
 * A call-out (sender verification's mirror: recipient verification by RCPT probe): one SMTP
 * session to the domain's own server, `MAIL FROM:<>` (RFC 5321 §4.5.5: the null sender, so a
 * server that would bounce has nobody to bounce to), `RCPT TO` the address, then `RCPT TO` a
 * made-up local part of the same domain: a server that takes that too accepts everything and
 * verifies nothing (accept-all). `RSET`/`QUIT`, no DATA: nothing is ever sent. One deadline for
 * the whole session.
 */
export function probeRecipient(target: ProbeTarget, address: string): Promise<ProbeOutcome> {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const random = `moat-verify-${randomBytes(6).toString('hex')}@${domain}`;
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const reader = replyReader(socket);
    let done = false;
    const finish = (outcome: ProbeOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!socket.destroyed && socket.writable) socket.end('QUIT\r\n');
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ result: 'unavailable', reply: `no answer from ${target.host}:${target.port} within ${target.timeoutMs} ms` }), target.timeoutMs);
    socket.on('error', (err) => finish({ result: 'unavailable', reply: `${target.host}:${target.port}: ${err.message}` }));
    socket.on('close', () => finish({ result: 'unavailable', reply: `${target.host}:${target.port} closed the connection` }));
    const step = async (): Promise<ProbeOutcome> => {
      const say = async (line: string | undefined): Promise<{ code: number; text: string }> => {
        if (line !== undefined) socket.write(`${line}\r\n`);
        return reader.next();
      };
      const greeting = await say(undefined);
      if (greeting.code !== 220) return { result: 'unavailable', reply: `greeting: ${greeting.text}` };
      let hello = await say(`EHLO ${target.helo}`);
      if (hello.code >= 500) hello = await say(`HELO ${target.helo}`);
      if (hello.code !== 250) return { result: 'unavailable', reply: `EHLO: ${hello.text}` };
      const mail = await say('MAIL FROM:<>');
      if (mail.code !== 250) return { result: 'unavailable', reply: `MAIL FROM:<>: ${mail.text}` };
      const rcpt = await say(`RCPT TO:<${address}>`);
      if (rcpt.code >= 500) return { result: 'unknown', reply: rcpt.text };
      if (rcpt.code < 200 || rcpt.code >= 300) return { result: 'unavailable', reply: rcpt.text };
      const other = await say(`RCPT TO:<${random}>`);
      await say('RSET').catch(() => undefined);
      return other.code >= 200 && other.code < 300 ? { result: 'accept-all', reply: `${rcpt.text} (and ${random} too: the server accepts every address)` } : { result: 'known', reply: rcpt.text };
    };
    step().then(finish, (err: Error) => finish({ result: 'unavailable', reply: err.message }));
  });
}

/** Reads SMTP replies (multi-line `250-…` then `250 …`), one at a time, in order. */
function replyReader(socket: Socket): { next(): Promise<{ code: number; text: string }> } {
  let buffer = '';
  const lines: string[] = [];
  const waiting: ((r: { code: number; text: string }) => void)[] = [];
  const queued: { code: number; text: string }[] = [];
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.length > 64 * 1024) socket.destroy(new Error('reply too long'));
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      if (line.charAt(3) === '-') continue;
      const reply = { code: Number.parseInt(line.slice(0, 3), 10) || 0, text: lines.join(' ').slice(0, 300) };
      lines.length = 0;
      const w = waiting.shift();
      if (w) w(reply);
      else queued.push(reply);
    }
  });
  return {
    next: () => new Promise((resolve) => {
      const r = queued.shift();
      if (r) resolve(r);
      else waiting.push(resolve);
    }),
  };
}
