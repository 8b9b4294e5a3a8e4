/**
 * Reads one (possibly multi-line) SMTP reply from the start of a buffer: lines `NNN-…` until
 * a final `NNN …`. Returns null while incomplete. Replies are capped so a peer that never
 * ends its line cannot grow our buffer.
 */
export const MAX_REPLY_BYTES = 4096;

export interface Reply {
  readonly code: number;
  /** Bytes of the buffer the reply used (the greeting is relayed verbatim). */
  readonly length: number;
}

export type ReplyParse = Reply | null | 'invalid';

export function parseReply(buf: Buffer): ReplyParse {
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) return buf.length > MAX_REPLY_BYTES ? 'invalid' : null;
    const line = buf.subarray(start, nl).toString('latin1').replace(/\r$/, '');
    const m = /^(\d{3})([ -]|$)/.exec(line);
    if (!m) return 'invalid';
    if (m[2] !== '-') return { code: Number(m[1]), length: nl + 1 };
    start = nl + 1;
    if (start > MAX_REPLY_BYTES) return 'invalid';
  }
}
