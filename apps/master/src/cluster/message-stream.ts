import { Readable } from 'node:stream';

/**
 * The master's end of a streamed message: a Readable fed by `quarantine.chunk` frames that asks
 * the scanner for more (credit) only as its consumer drains it. Memory stays bounded by the
 * window whatever the speed of the HTTP client.
 */
export class MessageStream extends Readable {
  private readonly grant: (chunks: number) => void;
  private readonly window: number;
  private outstanding: number;
  private started: { resolve(): void; reject(err: Error): void } | undefined;
  /** Settles with the first chunk (or the refusal), so the HTTP layer can still pick a status. */
  readonly firstChunk: Promise<void>;

  constructor(window: number, grant: (chunks: number) => void, cancel: () => void) {
    super({ highWaterMark: 64 * 1024 * 2 });
    this.window = window;
    this.outstanding = window;
    this.grant = grant;
    this.firstChunk = new Promise<void>((resolve, reject) => (this.started = { resolve, reject }));
    this.firstChunk.catch(() => undefined);
    this.once('close', () => {
      if (!this.readableEnded) cancel();
    });
  }

  private flowing = false;

  /** A chunk arrived from the scanner. */
  chunk(data: Buffer, last: boolean): void {
    this.outstanding--;
    this.flowing = true;
    this.started?.resolve();
    this.push(data);
    if (last) this.push(null);
  }

  fail(err: Error): void {
    this.started?.reject(err);
    // Before the first chunk nobody listens for 'error' yet: the refusal reaches the caller
    // through `firstChunk` (an 'error' event without a listener would crash the master).
    if (this.flowing) this.destroy(err);
    else this.destroy();
  }

  override _read(): void {
    // The consumer wants more: top the scanner's credit back up to the window.
    const more = this.window - this.outstanding;
    if (more >= Math.max(1, this.window / 2)) {
      this.outstanding += more;
      this.grant(more);
    }
  }
}
