import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { ensureDirs, moveDurably, writeFileDurably } from '@moat/storage';

export interface SinkOptions {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly hostname?: string;
  /**
   * The mailboxes it knows (`user@example.test`, lower-case): any other recipient is refused at
   * RCPT TO with 550 5.1.1, as the organisation's mail server would (what the scanners' call-outs
   * find). Absent: every recipient is accepted.
   */
  readonly mailboxes?: readonly string[];
}

/** The local cluster's organisation: the mailboxes `pnpm start`'s sink knows at example.test. */
export const LOCAL_MAILBOXES: readonly string[] = ['postmaster', 'user', 'alice', 'bob', 'carol'].map((u) => `${u}@example.test`);

export interface Sink {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The local downstream: stands in for the organisation's mail server in `pnpm start`. Each
 * message becomes `<time>-<rand>.eml` (the bytes as received) beside `<same>.json` (envelope).
 */
export async function startSink(options: SinkOptions): Promise<Sink> {
  await ensureDirs(options.dir);
  const mailboxes = options.mailboxes ? new Set(options.mailboxes.map((m) => m.toLowerCase())) : undefined;
  const server = new SMTPServer({
    name: options.hostname ?? 'sink.localhost',
    banner: 'Moat downstream sink',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo(address, _session, callback) {
      if (!mailboxes || mailboxes.has(address.address.toLowerCase())) return callback();
      callback(Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown in local recipient table`), { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      const name = `${Date.now()}-${randomBytes(4).toString('hex')}`;
      const tmp = join(options.dir, `${name}.eml.tmp-${process.pid}`);
      pipeline(stream, createWriteStream(tmp, { flush: true }))
        .then(() => moveDurably(tmp, join(options.dir, `${name}.eml`)))
        .then(() =>
          writeFileDurably(
            join(options.dir, `${name}.json`),
            JSON.stringify({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), receivedAt: new Date().toISOString() }),
          ),
        )
        .then(() => callback(null, `Ok: stored as ${name}`), (err: Error) => callback(Object.assign(new Error(`Sink could not store the message: ${err.message}`), { responseCode: 451 })));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      // smtp-server re-emits clients' socket errors (a reset connection) on the server: not fatal.
      server.on('error', () => undefined);
      resolve();
    });
  });
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
