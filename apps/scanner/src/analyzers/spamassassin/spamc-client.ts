import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

/** Where spamd listens: TCP (`--listen host:port`) or its unix socket. */
export type SpamdAddress = { readonly host: string; readonly port: number } | { readonly socket: string };

/**
 * spamd could not answer. `unreachable`: no connection, or it closed without a reply;
 * `timeout`: the signal aborted; `refused`: spamd answered with a non-zero `EX_` code (e.g. 69
 * EX_UNAVAILABLE for a TELL without `--allow-tell`, 76 EX_PROTOCOL); `protocol`: a reply that is
 * not the protocol's.
 */
export class SpamdError extends Error {
  readonly code: 'unreachable' | 'timeout' | 'refused' | 'protocol';
  constructor(code: SpamdError['code'], message: string) {
    super(message);
    this.name = 'SpamdError';
    this.code = code;
  }
}

/** A message to send: optional header lines SpamAssassin should see first, then the message itself. */
export interface SpamdMessage {
  /** Sent ahead of `body` (e.g. our Received line, CRLF-terminated). */
  readonly prefix?: Buffer;
  readonly body: Readable;
  /** Exact bytes `body` yields: spamd reads `Content-length` bytes, no more, no fewer. */
  readonly bodyBytes: number;
}

/** One rule SpamAssassin hit, with its score as the report shows it (one decimal). */
export interface SpamRule {
  readonly name: string;
  readonly score: number;
}

export interface SpamCheck {
  readonly spam: boolean;
  readonly score: number;
  readonly required: number;
  /** The hits of the report's table, in its order (empty when the report template has no table). */
  readonly rules: readonly SpamRule[];
}

export interface SpamTell {
  /** What spamd says it did (`DidSet: local`, `DidRemove: local`); empty: nothing changed (already learned, or Bayes off). */
  readonly didSet: readonly string[];
  readonly didRemove: readonly string[];
}

export interface SpamdCallOptions {
  readonly signal: AbortSignal;
  /** The `User:` header (spamd only logs it under `--nouser-config`). */
  readonly user?: string;
}

/** A REPORT answer is the score line plus a report of a few KB; anything much bigger is not spamd. */
export const MAX_REPLY_BYTES = 256 * 1024;
const PROTOCOL = 'SPAMC/1.5';

/**
 * Check a message with `REPORT` (spamd's PROTOCOL file): the `Spam:` header gives the verdict,
 * score and threshold, the report's table (` pts rule name  description`) each hit with its score.
 * SYMBOLS would give only the names.
 */
export async function check(address: SpamdAddress, message: SpamdMessage, opts: SpamdCallOptions): Promise<SpamCheck> {
  const reply = parseReply(await exchange(address, requestHead('REPORT', message, { User: opts.user ?? 'moat' }), message, opts.signal));
  const spam = reply.headers.get('spam');
  if (spam === undefined) throw new SpamdError('protocol', 'spamd reply has no Spam header');
  return { ...parseSpamHeader(spam), rules: parseReportRules(reply.body) };
}

/**
 * Learn (`set`) or unlearn (`remove`) a message as spam or ham in spamd's local Bayes with
 * `TELL` (spamd needs `--allow-tell`). Returns what spamd reports having done.
 */
export async function tell(address: SpamdAddress, message: SpamdMessage, what: { messageClass: 'spam' | 'ham'; action: 'set' | 'remove' }, opts: SpamdCallOptions): Promise<SpamTell> {
  const head = requestHead('TELL', message, {
    'Message-class': what.messageClass,
    [what.action === 'set' ? 'Set' : 'Remove']: 'local',
    User: opts.user ?? 'moat',
  });
  const reply = parseReply(await exchange(address, head, message, opts.signal));
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  return { didSet: list(reply.headers.get('didset')), didRemove: list(reply.headers.get('didremove')) };
}

/** `PING`: resolves when spamd answers `PONG`. */
export async function ping(address: SpamdAddress, opts: { signal: AbortSignal }): Promise<void> {
  const reply = parseReply(await exchange(address, `PING ${PROTOCOL}\r\n\r\n`, undefined, opts.signal));
  if (reply.text !== 'PONG') throw new SpamdError('protocol', `spamd answered PING with ${JSON.stringify(reply.text.slice(0, 100))}`);
}

function requestHead(method: string, message: SpamdMessage, headers: Record<string, string>): string {
  if (!Number.isSafeInteger(message.bodyBytes) || message.bodyBytes < 0) throw new RangeError(`bodyBytes must be a byte count, got ${message.bodyBytes}`);
  const length = (message.prefix?.length ?? 0) + message.bodyBytes;
  const lines = [`${method} ${PROTOCOL}`, `Content-length: ${length}`];
  for (const [name, value] of Object.entries(headers)) {
    if (/[\x00-\x1f\x7f]/.test(value)) throw new RangeError(`the ${name} header must not contain control characters`);
    lines.push(`${name}: ${value}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * One request on a fresh connection (spamd answers one per connection and closes): the head,
 * then the message streamed with back-pressure; the reply is everything until spamd closes,
 * bounded. spamd may answer early (a protocol error) and close while we still send: a reply
 * counts, the send error then does not.
 */
function exchange(address: SpamdAddress, head: string, message: SpamdMessage | undefined, signal: AbortSignal): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const socket: Socket = 'socket' in address ? connect(address.socket) : connect(address.port, address.host);
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    // Ends a send still waiting for 'drain' once the exchange is over, however it ended.
    const sending = new AbortController();
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      sending.abort();
      socket.destroy();
      message?.body.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onAbort = () => finish(new SpamdError('timeout', 'spamd did not answer in time'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });

    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (received > 0) return; // spamd may reset the connection after answering; the reply counts
      finish(new SpamdError('unreachable', `spamd: ${err.code ?? err.message}`));
    });
    socket.on('data', (data: Buffer) => {
      received += data.length;
      if (received > MAX_REPLY_BYTES) return finish(new SpamdError('protocol', `spamd reply over ${MAX_REPLY_BYTES} bytes`));
      chunks.push(data);
    });
    socket.on('close', () => {
      if (received === 0) finish(new SpamdError('unreachable', 'spamd closed the connection without a reply'));
      else finish(undefined);
    });
    socket.once('connect', () => {
      send(socket, head, message, () => received > 0, sending.signal).catch((err: Error) => {
        if (received === 0) finish(new SpamdError('unreachable', `reading or sending the message: ${err.message}`));
      });
    });
  });
}

async function send(socket: Socket, head: string, message: SpamdMessage | undefined, replied: () => boolean, signal: AbortSignal): Promise<void> {
  const write = async (data: Buffer) => {
    if (!socket.write(data)) await once(socket, 'drain', { signal });
  };
  await write(Buffer.from(head, 'latin1'));
  if (!message) return;
  if (message.prefix) await write(message.prefix);
  let sent = 0;
  for await (const data of message.body as AsyncIterable<Buffer>) {
    if (replied() || socket.destroyed) return;
    sent += data.length;
    // Content-length was promised: more bytes would be read as garbage, fewer would leave spamd waiting.
    if (sent > message.bodyBytes) throw new Error(`the message is longer than its ${message.bodyBytes} bytes`);
    await write(data);
  }
  if (sent !== message.bodyBytes) throw new Error(`the message has ${sent} bytes, not ${message.bodyBytes}`);
}

/** A spamd reply: its status (`SPAMD/1.1 0 EX_OK`), headers by lower-case name, and body. */
export interface SpamdReply {
  readonly text: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/**
 * Read a whole reply. The status must be `SPAMD/<version> <code> <text>`; a non-zero code is a
 * `refused` error with spamd's text (its errors are a status line alone). With a
 * `Content-length`, the body must have exactly that many bytes.
 */
export function parseReply(raw: Buffer): SpamdReply {
  const statusEnd = raw.indexOf('\r\n');
  const statusLine = raw.subarray(0, statusEnd < 0 ? raw.length : statusEnd).toString('latin1');
  const status = /^SPAMD\/(\d+\.\d+) (\d+) (.*)$/.exec(statusLine);
  if (!status) throw new SpamdError('protocol', `spamd: unexpected status line ${JSON.stringify(statusLine.slice(0, 100))}`);
  const code = Number(status[2]);
  const text = status[3]!.slice(0, 300);
  if (code !== 0) throw new SpamdError('refused', `spamd answered ${code}: ${text}`);
  if (statusEnd < 0) throw new SpamdError('protocol', 'spamd status line is not terminated');
  const headEnd = raw.indexOf('\r\n\r\n', statusEnd);
  const headerBlock = headEnd < 0 ? raw.subarray(statusEnd + 2) : raw.subarray(statusEnd + 2, headEnd);
  if (headEnd < 0 && !(headerBlock.length === 0 || headerBlock.toString('latin1').endsWith('\r\n'))) throw new SpamdError('protocol', 'spamd reply headers are cut off');
  const headers = new Map<string, string>();
  for (const line of headerBlock.toString('latin1').split('\r\n')) {
    if (line === '') continue;
    const h = /^([A-Za-z][A-Za-z0-9-]*): ?(.*)$/.exec(line);
    if (!h) throw new SpamdError('protocol', `spamd: malformed reply header ${JSON.stringify(line.slice(0, 100))}`);
    headers.set(h[1]!.toLowerCase(), h[2]!.trim());
  }
  const body = headEnd < 0 ? Buffer.alloc(0) : raw.subarray(headEnd + 4);
  const declared = headers.get('content-length');
  if (declared !== undefined) {
    if (!/^\d{1,9}$/.test(declared)) throw new SpamdError('protocol', `spamd: bad Content-length ${JSON.stringify(declared.slice(0, 20))}`);
    if (Number(declared) !== body.length) throw new SpamdError('protocol', `spamd: Content-length ${declared} but ${body.length} bytes of body`);
  }
  return { text, headers, body: body.toString('utf8') };
}

const NUMBER = '-?\\d+(?:\\.\\d+)?';
const SPAM_HEADER = new RegExp(`^(True|False|Yes|No) ; (${NUMBER}) / (${NUMBER})$`);

/** `True ; 1003.3 / 5.0` → spam, score, required. */
export function parseSpamHeader(value: string): { spam: boolean; score: number; required: number } {
  const m = SPAM_HEADER.exec(value.trim());
  if (!m) throw new SpamdError('protocol', `spamd: malformed Spam header ${JSON.stringify(value.slice(0, 100))}`);
  const score = Number(m[2]);
  const required = Number(m[3]);
  if (!Number.isFinite(score) || !Number.isFinite(required)) throw new SpamdError('protocol', `spamd: Spam header numbers out of range ${JSON.stringify(value.slice(0, 100))}`);
  return { spam: m[1] === 'True' || m[1] === 'Yes', score, required };
}

/**
 * The hits in a report's table: the lines after the `---- ----` rule under ` pts rule name`,
 * each `%4s` score, a space, the rule's name. Continuation lines of a long description are
 * indented far past the score column, so text from the message that SpamAssassin quotes there
 * (`[URIs: …]`) cannot pass for a hit; the content preview comes before the table.
 */
export function parseReportRules(body: string): SpamRule[] {
  const lines = body.split(/\r?\n/);
  const start = lines.findIndex((l) => /^-{4} -{4,}/.test(l));
  if (start < 0) return [];
  const rules: SpamRule[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^ {0,4}(-?\d+(?:\.\d+)?) ([A-Za-z_][A-Za-z0-9_]{0,99})(?: |$)/.exec(line);
    if (!m) continue;
    const score = Number(m[1]);
    // `-0.0` (informational rules with a tiny negative score) reads as 0.
    if (Number.isFinite(score)) rules.push({ name: m[2]!, score: score === 0 ? 0 : score });
  }
  return rules;
}
