import { Writable } from 'node:stream';

const LOCAL_HEADER = 0x04034b50; // "PK\x03\x04"
const MAX_NAMES = 1000;

/**
 * Collects the entry names of a zip archive while it streams past, from the local file
 * headers, without buffering the archive. Cheap and good enough for a policy check:
 * names are what an attacker shows the user; encrypted archives still expose them.
 */
export class ZipNameCollector extends Writable {
  readonly names: string[] = [];
  private carry: Buffer = Buffer.alloc(0);

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let i = 0;
    // A local header is 30 fixed bytes followed by the name; keep an unfinished tail for the next chunk.
    while (i + 30 <= buf.length && this.names.length < MAX_NAMES) {
      if (buf.readUInt32LE(i) !== LOCAL_HEADER) {
        i++;
        continue;
      }
      const nameLength = buf.readUInt16LE(i + 26);
      if (i + 30 + nameLength > buf.length) break;
      this.names.push(buf.subarray(i + 30, i + 30 + nameLength).toString('utf8'));
      i += 30 + nameLength;
    }
    // Keep at most one header's worth (30 + 64 KiB name) so memory stays bounded.
    const keepFrom = Math.max(i, buf.length - (30 + 0xffff));
    this.carry = Buffer.from(buf.subarray(Math.min(keepFrom, buf.length)));
    done();
  }
}
