import { close, fdatasync, openSync, write, writevSync } from 'node:fs';
import { Writable, type Readable } from 'node:stream';
import { noteStreamedBytes, SMALL_FILE_BYTES } from '../memory/buffer-garbage.ts';
import { pipeInto } from '../streams/pipe-into.ts';

/**
 * Stream DATA into a spool file and fsync it before resolving: the message is never held whole
 * in memory, and once this returns the bytes are on disk.
 */
export async function receiveToSpool(data: Readable, path: string): Promise<{ size: number }> {
  let size = 0;
  data.on('data', (chunk: Buffer) => {
    size += chunk.length;
    noteStreamedBytes(chunk.length);
  });
  await pipeInto(data, new SpoolFile(path));
  return { size };
}

/**
 * The spool file as a Writable. Up to SMALL_FILE_BYTES are held (a file stream buffers that
 * much too) and, when the message ends within them, written with synchronous calls into the
 * page cache (create, one writev) and fdatasync'd in the thread pool: one pool round trip
 * for a typical message instead of one per step (open, each chunk, fsync, close), each of
 * which wakes a pool thread and costs the event loop a context switch. A larger message is
 * streamed chunk by chunk with asynchronous writes once past the threshold. `finish` comes
 * after the fdatasync, so the caller never answers before the bytes are on disk. The file is
 * created exclusively (`wx`, 0600): a spool name is never reused.
 */
class SpoolFile extends Writable {
  private readonly path: string;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private fd: number | undefined;

  constructor(path: string) {
    super({ decodeStrings: true });
    this.path = path;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.fd === undefined && this.heldBytes + chunk.length <= SMALL_FILE_BYTES) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      return done();
    }
    try {
      this.openWithHeld();
    } catch (err) {
      return done(err as Error);
    }
    writeAll(this.fd!, chunk, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    try {
      this.openWithHeld();
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
    close(fd, (closeErr) => done(err ?? closeErr));
  }

  /** Create the file and write what is held (nothing after the first call). */
  private openWithHeld(): void {
    if (this.fd !== undefined) return;
    this.fd = openSync(this.path, 'wx', 0o600);
    let pending = this.held;
    this.held = [];
    while (pending.length > 0) {
      let n = writevSync(this.fd, pending);
      // A short write: drop what was written and go on with the rest.
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
