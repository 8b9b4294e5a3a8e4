import { open } from 'node:fs/promises';
import { CHUNK_BYTES, type ToMaster } from '@moat/protocol';

/**
 * Streams a file to the master in chunks under credit-based flow control: at most `window`
 * chunks ahead of what the master has consumed, so a slow HTTP client on the master side
 * slows the file read here instead of filling memory anywhere.
 */
export class StreamSender {
  private credits: number;
  private wake: (() => void) | undefined;
  private cancelled = false;
  private readonly id: string;
  private readonly send: (frame: ToMaster) => void;

  constructor(id: string, window: number, send: (frame: ToMaster) => void) {
    this.id = id;
    this.credits = window;
    this.send = send;
  }

  grant(chunks: number): void {
    this.credits += chunks;
    this.wake?.();
  }

  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  async run(path: string): Promise<void> {
    const handle = await open(path, 'r');
    try {
      const buf = Buffer.alloc(CHUNK_BYTES);
      for (let seq = 0; ; seq++) {
        while (this.credits <= 0 && !this.cancelled) await new Promise<void>((resolve) => (this.wake = resolve));
        if (this.cancelled) return;
        const { bytesRead } = await handle.read(buf, 0, CHUNK_BYTES, null);
        const last = bytesRead < CHUNK_BYTES;
        this.credits--;
        this.send({ type: 'quarantine.chunk', id: this.id, seq, data: buf.subarray(0, bytesRead).toString('base64'), last });
        if (last) return;
      }
    } finally {
      await handle.close();
    }
  }
}
