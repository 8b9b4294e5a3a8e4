import { Transform, type TransformCallback } from 'node:stream';
import { renameForgedAuthResults } from './forged-auth-results.ts';
import { renameForgedVerdicts } from './forged-verdicts.ts';

/** How far into a message we look for the end of its header block before giving up on the subject. */
const MAX_HEADER_SCAN = 2 * 1024 * 1024;

/** A received message is guarded: what a sender wrote may not pass for what we concluded. */
export interface ReceivedGuard {
  /** Received Authentication-Results claiming one of these ids are renamed. */
  readonly authservIds: readonly string[];
}

/**
 * Prepends header lines to a message and, optionally, a prefix to its Subject. With a guard (a
 * received message, not a DSN or a digest we composed), it also renames the received verdict
 * fields (`X-Spam-*`, `X-Moat-*`: `forged-verdicts.ts`) and the Authentication-Results that claim
 * one of our authserv-ids (`forged-auth-results.ts`); the prepended lines are ours and are never
 * renamed. Everything else passes through byte for byte: only the header block is ever
 * buffered, and only up to a bound.
 */
export class HeaderRewriter extends Transform {
  private readonly prepend: string;
  private readonly subjectPrefix: string;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private passThrough = false;
  private readonly guard: ReceivedGuard | undefined;
  /** How many received Authentication-Results fields were renamed (known once the stream ends). */
  renamedAuthResults = 0;
  /** How many received verdict fields were renamed (known once the stream ends). */
  renamedVerdicts = 0;

  constructor(prependLines: readonly string[], subjectPrefix: string, guard?: ReceivedGuard) {
    super();
    this.prepend = prependLines.map((line) => `${line}\r\n`).join('');
    this.subjectPrefix = subjectPrefix;
    this.guard = guard;
    if (!subjectPrefix && !guard) this.passThrough = true;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.prepend && !this.started) this.start();
    if (this.passThrough) return done(null, chunk);
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    const head = Buffer.concat(this.buffered);
    const end = findHeaderEnd(head);
    if (end >= 0) {
      this.flushHead(head, end);
    } else if (this.bufferedBytes > MAX_HEADER_SCAN) {
      this.emitRaw(head);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.prepend && !this.started) this.start();
    if (!this.passThrough) {
      const head = Buffer.concat(this.buffered);
      // A message that is only headers: the whole of it is the header block.
      this.flushHead(head, head.length);
    }
    done();
  }

  private started = false;
  private start(): void {
    this.started = true;
    this.push(Buffer.from(this.prepend, 'utf8'));
  }

  private flushHead(head: Buffer, end: number): void {
    const headers = head.subarray(0, end).toString('latin1');
    let rewritten = headers;
    if (this.guard) {
      const verdicts = renameForgedVerdicts(rewritten);
      const auth = renameForgedAuthResults(verdicts.block, this.guard.authservIds);
      this.renamedVerdicts = verdicts.renamed;
      this.renamedAuthResults = auth.renamed;
      rewritten = auth.block;
    }
    let subjectLine = '';
    if (this.subjectPrefix) {
      const prefixed = rewritten.replace(/^(subject:[ \t]*)/im, `$1${this.subjectPrefix} `);
      if (prefixed === rewritten) subjectLine = `Subject: ${this.subjectPrefix}\r\n`;
      rewritten = prefixed;
    }
    this.push(Buffer.from(subjectLine + rewritten, 'latin1'));
    this.emitRaw(head.subarray(end));
  }

  private emitRaw(rest: Buffer): void {
    this.passThrough = true;
    this.buffered = [];
    if (rest.length > 0) this.push(rest);
  }
}

/** Index of the blank line that ends the header block (CRLF or bare LF), or -1. */
function findHeaderEnd(buf: Buffer): number {
  if (buf[0] === 0x0a || (buf[0] === 0x0d && buf[1] === 0x0a)) return 0;
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  const candidates = [crlf >= 0 ? crlf + 2 : -1, lf >= 0 ? lf + 1 : -1].filter((i) => i >= 0);
  return candidates.length ? Math.min(...candidates) : -1;
}
