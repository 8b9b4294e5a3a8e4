import { fileTypeFromBuffer } from 'file-type';

/** How much of an attachment's start is kept to tell its type: file-type's own need (4100 bytes). */
export const SNIFF_BYTES = 4100;

/**
 * Keeps the first bytes of a part as it streams past, never more than `SNIFF_BYTES`: the
 * attachment itself is never buffered.
 */
export class HeadBytes {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    if (this.size >= SNIFF_BYTES) return;
    const part = chunk.subarray(0, SNIFF_BYTES - this.size);
    // A copy: the parser may reuse the chunk's memory once it is written.
    this.chunks.push(Buffer.from(part));
    this.size += part.length;
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/**
 * The type the content shows, by its magic numbers (npm `file-type`: `application/x-msdownload`
 * and `exe` for an MZ executable), or undefined when nothing is recognised (plain text, say).
 */
export async function sniffType(head: Buffer): Promise<{ type: string; extension: string } | undefined> {
  if (head.length === 0) return undefined;
  const found = await fileTypeFromBuffer(head);
  return found ? { type: found.mime.toLowerCase(), extension: found.ext.toLowerCase() } : undefined;
}
