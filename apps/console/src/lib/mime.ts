/**
 * A small MIME reader for showing a quarantined message: headers, the text/plain and text/html
 * parts, and the attachments by name, type and size. Enough for display, not a full RFC 2045
 * parser; whatever it cannot read is shown as raw text, never executed.
 */

export interface Part {
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly type: string;
  readonly filename: string | undefined;
  readonly text: string;
  readonly size: number;
}

export interface ParsedMessage {
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly text: string | undefined;
  readonly html: string | undefined;
  readonly attachments: readonly Part[];
}

function splitHead(raw: string): [string, string] {
  const m = /\r?\n\r?\n/.exec(raw);
  return m ? [raw.slice(0, m.index), raw.slice(m.index + m[0].length)] : [raw, ''];
}

export function parseHeaders(head: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length > 0) out[out.length - 1]![1] += ` ${line.trim()}`;
    else {
      const i = line.indexOf(':');
      if (i > 0) out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
  }
  return out;
}

const header = (hs: ReadonlyArray<readonly [string, string]>, name: string) => hs.find(([k]) => k.toLowerCase() === name)?.[1] ?? '';
const param = (value: string, name: string) => new RegExp(`;\\s*${name}\\*?=\\s*(?:"([^"]*)"|([^;\\s]*))`, 'i').exec(value)?.slice(1).find((v) => v !== undefined);

function decodeBody(body: string, encoding: string, charset: string): string {
  let bytes: Uint8Array;
  const enc = encoding.toLowerCase();
  if (enc === 'base64') {
    try {
      bytes = Uint8Array.from(atob(body.replace(/[^A-Za-z0-9+/=]/g, '')), (c) => c.charCodeAt(0));
    } catch {
      return body;
    }
  } else if (enc === 'quoted-printable') {
    const s = body.replace(/=\r?\n/g, '');
    const arr: number[] = [];
    for (let i = 0; i < s.length; i++) {
      const hex = s[i] === '=' ? s.slice(i + 1, i + 3) : '';
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        arr.push(parseInt(hex, 16));
        i += 2;
      } else arr.push(s.charCodeAt(i) & 0xff);
    }
    bytes = Uint8Array.from(arr);
  } else return body;
  try {
    return new TextDecoder(charset || 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function parts(headers: Array<[string, string]>, body: string, out: Part[], depth: number): void {
  const ctype = header(headers, 'content-type') || 'text/plain';
  const type = ctype.split(';')[0]!.trim().toLowerCase();
  const boundary = param(ctype, 'boundary');
  if (type.startsWith('multipart/') && boundary && depth < 10) {
    const sections = body.split(new RegExp(`^--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*\\r?$`, 'm'));
    for (const section of sections.slice(1, -1)) {
      const [head, rest] = splitHead(section.replace(/^\r?\n/, ''));
      parts(parseHeaders(head), rest, out, depth + 1);
    }
    return;
  }
  const disposition = header(headers, 'content-disposition');
  const filename = param(disposition, 'filename') ?? param(ctype, 'name');
  const text = decodeBody(body, header(headers, 'content-transfer-encoding'), param(ctype, 'charset') ?? 'utf-8');
  out.push({ headers, type, filename, text, size: text.length });
}

export function parseMessage(raw: string): ParsedMessage {
  const [head, body] = splitHead(raw);
  const headers = parseHeaders(head);
  const all: Part[] = [];
  parts(headers, body, all, 0);
  const inline = (t: string) => all.find((p) => p.type === t && p.filename === undefined);
  const text = inline('text/plain');
  const html = inline('text/html');
  return { headers, text: text?.text, html: html?.text, attachments: all.filter((p) => p !== text && p !== html) };
}
