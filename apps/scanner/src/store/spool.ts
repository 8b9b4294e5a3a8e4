import { closeSync, fdatasync, open, unlink, write, writevSync } from 'node:fs';
import { Writable, type Readable } from 'node:stream';
import { noteStreamedBytes, SMALL_FILE_BYTES } from '../memory/buffer-garbage.ts';
import { pipeInto } from '../streams/pipe-into.ts';

export interface SpoolResult {
  /** Bytes the client sent (all of them, also past the limit). */
  readonly size: number;
  /** The message passed `maxBytes`: the file was removed and the rest only counted. */
  readonly oversized: boolean;
}

/**
 * Stream DATA into a spool file and fdatasync it before resolving: at most 64 KiB of a message
 * is held in memory at once, and once this returns the bytes are on disk.
 *
 * With `maxBytes`, the chunk that would take the file past the limit is not written: the file
 * is closed and unlinked at once and the rest of the DATA is read to its end and dropped (the
 * client gets its 552 after the final dot; the DATA time-out bounds how long that may take).
 * So a sender can never put more than the limit on disk, whatever it sends.
 */
export async function receiveToSpool(data: Readable, path: string, opts: { maxBytes?: number } = {}): Promise<SpoolResult> {
  let size = 0;
  data.on('data', (chunk: Buffer) => {
    size += chunk.length;
    noteStreamedBytes(chunk.length);
  });
  const file = new SpoolFile(path, opts.maxBytes ?? Infinity);
  await pipeInto(data, file);
  return { size, oversized: file.oversized };
}

/**
 * The spool file as a Writable. It is created (exclusively, `wx`, 0600: a spool name is never
 * reused) in the thread pool as DATA begins, since creating a file may wait for the
 * filesystem's journal. Up to SMALL_FILE_BYTES are then held (a file stream buffers that much
 * too) and, when the message ends within them, written with one synchronous writev into the
 * page cache and fdatasync'd in the pool: two pool round trips for a typical message instead
 * of one per step (open, each chunk, fsync, close), each of which wakes a pool thread and
 * costs the event loop a context switch. A larger message is written chunk by chunk
 * asynchronously once past the threshold. `finish` comes after the fdatasync, so the caller
 * never answers before the bytes are on disk.
 */
class SpoolFile extends Writable {
  private readonly path: string;
  private readonly maxBytes: number;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private fd: number | undefined;
  /** Bytes taken so far (written or held). */
  private taken = 0;
  /** Past the limit: nothing more is written and the file is gone. */
  oversized = false;

  constructor(path: string, maxBytes: number) {
    super({ decodeStrings: true });
    this.path = path;
    this.maxBytes = maxBytes;
  }

  override _construct(done: (err?: Error | null) => void): void {
    open(this.path, 'wx', 0o600, (err, fd) => {
      if (err) return done(err);
      this.fd = fd;
      done();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.oversized) return done();
    this.taken += chunk.length;
    if (this.taken > this.maxBytes) return this.discard(done);
    if (this.heldBytes + chunk.length <= SMALL_FILE_BYTES) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return done();
    }
    try {
      this.writeHeld();
    } catch (err) {
      return done(err as Error);
    }
    this.heldBytes = Infinity; // from now on every chunk goes straight to the file
    writeAll(this.fd!, chunk, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.oversized) return done();
    try {
      this.writeHeld();
    } catch (err) {
      return done(err as Error);
    }
    fdatasync(this.fd!, done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = undefined;
    this.held = [];
    if (fd === undefined) return done(err);
    try {
      closeSync(fd);
    } catch (closeErr) {
      return done(err ?? (closeErr as Error));
    }
    done(err);
  }

  /**
   * The limit is passed: drop what is held, close the file and unlink it (not durably: a file
   * left by a crash has no row and the start-up sweep removes it), then take the rest unwritten.
   */
  private discard(done: (err?: Error | null) => void): void {
    this.oversized = true;
    this.held = [];
    this.heldBytes = 0;
    const fd = this.fd;
    this.fd = undefined;
    try {
      if (fd !== undefined) closeSync(fd);
    } catch (err) {
      return done(err as Error);
    }
    unlink(this.path, (err) => done(err));
  }

  /** Write what is held (a short write goes on with the rest). */
  private writeHeld(): void {
    let pending = this.held;
    this.held = [];
    while (pending.length > 0) {
      let n = writevSync(this.fd!, pending);
      while (pending.length > 0 && n >= pending[0]!.length) n -= pending.shift()!.length;
      if (n > 0) pending = [pending[0]!.subarray(n), ...pending.slice(1)];
    }
  }
}

function writeAll(fd: number, chunk: Buffer, done: (err?: Error | null) => void): void {
  write(fd, chunk, 0, chunk.length, null, (err, written) => {
    if (err) return done(err);
    if (written < chunk.length) return writeAll(fd, chunk.subarray(written), done);
    done();
  });
}
