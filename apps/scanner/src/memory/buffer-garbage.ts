import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Dead chunk Buffers, collected as they pile up.
 *
 * Every chunk of a message's bytes is a new Buffer at each stage it passes (socket, spool file,
 * parser, authentication, relay), dead as soon as the next stage has it. Their memory lies
 * outside V8's heap, and V8 only looks at it when its own heap fills or when some 64 MiB of
 * such external memory has piled up: one 50 MiB message raised the scanner's peak resident
 * set by about 90 MiB of garbage, although nothing held the message. So the stages count the
 * bytes they stream, and every `COLLECT_EVERY_BYTES` a young-generation collection runs (well
 * under a millisecond; with 10 KB messages about once every 60 messages, which V8 would mostly
 * do anyway for their JS garbage), freeing the dead chunks' memory at once. Measured in
 * test/e2e/scanner-hostile-input.integration.test.ts: the peak after a 50 MiB message rose by
 * +80 to +92 MiB without this, +38 to +45 with a collection every 8 MiB, +13 to +17 every 2 MiB
 * (each counted byte stands for two or three dead copies: the socket's chunk and the
 * dot-unstuffed one, the file's chunk and the header rewriter's and the SMTP client's).
 */
export const COLLECT_EVERY_BYTES = 2 * 1024 * 1024;

type Gc = (options?: { type?: 'minor' | 'major' }) => void;

/**
 * The collector, exposed the way Node's own documentation of v8.setFlagsFromString shows;
 * when that fails (a runtime without it) the meter simply counts and never collects.
 */
function exposeGc(): Gc | undefined {
  const existing = (globalThis as { gc?: Gc }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Gc;
  } catch {
    return undefined;
  }
}

const gc = exposeGc();
let sinceCollect = 0;
let collections = 0;

/** Note `bytes` more streamed; collects young garbage each time the threshold is passed. */
export function noteStreamedBytes(bytes: number): void {
  sinceCollect += bytes;
  if (sinceCollect < COLLECT_EVERY_BYTES) return;
  sinceCollect = 0;
  if (!gc) return;
  collections++;
  gc({ type: 'minor' });
}

/** Count every chunk that flows through `stream` (it keeps flowing as before). */
export function metered<T extends Readable>(stream: T): T {
  stream.on('data', (chunk: Buffer | string) => noteStreamedBytes(chunk.length));
  return stream;
}

/**
 * A file this small is read in one chunk by a ReadStream anyway (its default highWaterMark),
 * so reading it at once holds no more memory; doing it with synchronous calls saves the four
 * thread-pool round trips (open, read, read to the end, close) of the stream, each a wake-up of
 * a pool thread and a context switch on the event loop's core. The file was just written or
 * is about to be sent: it is in the page cache, so these calls do not wait for the disk.
 */
export const SMALL_FILE_BYTES = 64 * 1024;

/**
 * A message file opened for reading, its chunks counted: a small one read at once into a
 * one-chunk stream, a larger one streamed. Errors (a missing file) arrive as the stream's
 * 'error', as from a ReadStream.
 */
export function readMessageFile(path: string, options?: { highWaterMark?: number }): Readable {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    // One read into a scratch buffer one byte larger than a small file: a regular file's read
    // returns less only at its end, so a short read is the whole file (no fstat, no second read).
    const n = readSync(fd, scratch, 0, scratch.length, 0);
    if (n === scratch.length) return metered(createReadStream(path, { ...options, fd, start: 0 }));
    closeSync(fd);
    noteStreamedBytes(n);
    return oneChunk(Buffer.from(scratch.subarray(0, n)));
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    return failing(err as Error);
  }
}

/** Reused by every small read (they are synchronous, so never two at once). */
const scratch = Buffer.allocUnsafe(SMALL_FILE_BYTES + 1);

function oneChunk(bytes: Buffer): Readable {
  return new Readable({
    read() {
      if (bytes.length > 0) this.push(bytes);
      this.push(null);
    },
  });
}

function failing(err: Error): Readable {
  return new Readable({
    read() {
      this.destroy(err);
    },
  });
}

/** For tests and metrics: how many collections the meter has run. */
export function meteredCollections(): number {
  return collections;
}
