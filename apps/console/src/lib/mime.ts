import { useEffect, useState } from 'preact/hooks';
import PostalMime, { decodeWords } from 'postal-mime';

/**
 * Reading a quarantined or retained message for display, with postal-mime (a maintained MIME
 * parser that runs in the browser): encoded words (RFC 2047) in headers, RFC 2231 file names,
 * charsets, transfer encodings, nested parts. What it returns is only ever shown as text or as
 * sanitised HTML in a sandboxed frame, never executed.
 */

export interface Attachment {
  /** Decoded; undefined when the part names none. */
  readonly filename: string | undefined;
  readonly type: string;
  readonly size: number;
}

export interface ParsedMessage {
  /** Every header in order, name as sent, value with its encoded words decoded. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly text: string | undefined;
  readonly html: string | undefined;
  readonly attachments: readonly Attachment[];
}

const sizeOf = (c: ArrayBuffer | Uint8Array | string) => (typeof c === 'string' ? c.length : c.byteLength);

export async function parseMessage(raw: string | ArrayBuffer): Promise<ParsedMessage> {
  const email = await PostalMime.parse(raw);
  return {
    headers: email.headers.map((h) => [h.originalKey, decodeWords(h.value)] as const),
    text: email.text,
    html: email.html,
    attachments: email.attachments.map((a) => ({ filename: a.filename ?? undefined, type: a.mimeType, size: sizeOf(a.content) })),
  };
}

/** The parsed message once `raw` is read (parsing is asynchronous); undefined before, or when it cannot be read. */
export function useParsedMessage(raw: string | undefined): ParsedMessage | undefined {
  const [parsed, setParsed] = useState<{ raw: string; msg: ParsedMessage } | undefined>(undefined);
  useEffect(() => {
    if (raw === undefined) return;
    let current = true;
    parseMessage(raw).then((msg) => current && setParsed({ raw, msg }), () => undefined);
    return () => {
      current = false;
    };
  }, [raw]);
  return parsed && parsed.raw === raw ? parsed.msg : undefined;
}
