import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly raw: Buffer;
}

/** How the fake downstream answers: per recipient at RCPT, or for the whole message at DATA. */
export interface DownstreamBehaviour {
  rcpt?: (address: string) => { code: number; text: string } | undefined;
  data?: () => { code: number; text: string } | undefined;
}

/**
 * An in-test downstream mail server on loopback that records what it receives and answers as
 * the test tells it to; `waitFor(n)` resolves when n messages have arrived.
 */
export async function startDownstream(behaviour: DownstreamBehaviour = {}, port = 0) {
  const received: ReceivedMail[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const fail = (r: { code: number; text: string }) => Object.assign(new Error(r.text), { responseCode: r.code });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo(address, _session, callback) {
      const answer = behaviour.rcpt?.(address.address);
      callback(answer ? fail(answer) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const answer = behaviour.data?.();
        if (answer) return callback(fail(answer));
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        for (const w of [...waiters]) if (received.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        callback();
      });
    },
  });
  // smtp-server re-emits a client's socket errors (a scanner killed with -9 resets its relay
  // connections) on the server; a downstream shrugs them off like any mail server.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const actualPort = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return {
    port: actualPort,
    received,
    behaviour,
    /** Resolves when at least n messages arrived; rejects after timeoutMs. */
    waitFor(n: number, timeoutMs = 15_000): Promise<void> {
      if (received.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`downstream got ${received.length} of ${n} messages`)), timeoutMs);
        waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
export type Downstream = Awaited<ReturnType<typeof startDownstream>>;
