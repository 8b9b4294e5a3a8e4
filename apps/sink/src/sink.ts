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
}

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
  const server = new SMTPServer({
    name: options.hostname ?? 'sink.localhost',
    banner: 'Moat downstream sink',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
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
