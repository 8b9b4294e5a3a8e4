import { Writable, type Readable } from 'node:stream';
import { MailParser, type AttachmentStream, type MessageText, type HeaderLines } from 'mailparser';
import libmime from 'libmime';
import type { AttachmentFact } from '@moat/rules';
import { ZipNameCollector } from './zip-names.ts';
import { HeadBytes, sniffType } from './sniff-type.ts';
import { readMessageFile } from '../memory/buffer-garbage.ts';
import { pipeInto } from '../streams/pipe-into.ts';

/** What the content analyzer found in a spooled message. */
export interface ContentFacts {
  readonly headers: { name: string; value: string }[];
  readonly subject: string;
  readonly messageId: string;
  readonly bodyText: string;
  readonly attachments: AttachmentFact[];
}

export interface AnalyzeLimits {
  /** Text kept for content rules; longer bodies are truncated (matching is bounded). */
  readonly maxBodyChars: number;
  /** Header lines kept for content rules. */
  readonly maxHeaderLines: number;
  /** Most time the analysis of one message may take (see UnanalysableMessage for the fallback). */
  readonly timeoutMs: number;
}

/** The defaults of the config's `analysis` section (config.ts), for callers without a config. */
export const DEFAULT_ANALYZE_LIMITS: AnalyzeLimits = { maxBodyChars: 1_000_000, maxHeaderLines: 1000, timeoutMs: 30_000 };

/** The limits a scanner config sets (its `analysis` section, validated and defaulted). */
export function analyzeLimitsFrom(analysis: { readonly timeoutSeconds: number; readonly maxBodyChars: number; readonly maxHeaderLines: number }): AnalyzeLimits {
  return { maxBodyChars: analysis.maxBodyChars, maxHeaderLines: analysis.maxHeaderLines, timeoutMs: Math.round(analysis.timeoutSeconds * 1000) };
}
const MAX_HEADER_VALUE = 64 * 1024;

/**
 * The message could not be analysed: it is past the parser's structure limits (mailsplit
 * refuses more than 1000 MIME parts, e.g. a multipart nested 1000 deep, or a header block over
 * 1 MiB: `analysis-limit`), or the analysis took longer than `timeoutMs` (`analysis-timeout`).
 * Fallback, decided in acceptMessage: the message is quarantined with this reason, never
 * delivered unchecked and never temp-failed (the sender would only send it again, forever).
 * `partial` holds what mailparser reported before the failure: past the structure limit
 * usually the top-level headers, after a time-out often nothing (it reports headers late).
 */
export class UnanalysableMessage extends Error {
  readonly reason: 'analysis-limit' | 'analysis-timeout';
  readonly partial: ContentFacts;
  constructor(reason: 'analysis-limit' | 'analysis-timeout', detail: string, partial: ContentFacts) {
    super(detail);
    this.name = 'UnanalysableMessage';
    this.reason = reason;
    this.partial = partial;
  }
}

/** Analyze a spooled message file; see analyzeStream. */
export function analyzeMessage(file: string, limits: AnalyzeLimits = DEFAULT_ANALYZE_LIMITS): Promise<ContentFacts> {
  return analyzeStream(readMessageFile(file), limits);
}

/**
 * Parse a message as a stream: headers and text are kept (bounded), attachments are
 * counted and their names inspected, never held in memory. Malformed MIME never throws here:
 * mailparser is lenient, and whatever it cannot parse simply yields fewer facts. Past the
 * parser's limits or the time-out it rejects with UnanalysableMessage; any other error (the
 * file cannot be read) is a local error and is passed on as it is.
 */
export async function analyzeStream(source: Readable, limits: AnalyzeLimits = DEFAULT_ANALYZE_LIMITS): Promise<ContentFacts> {
  const parser = new MailParser({ skipImageLinks: true, skipTextLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: limits.maxBodyChars });
  const facts: { -readonly [K in keyof ContentFacts]: ContentFacts[K] } = { headers: [], subject: '', messageId: '', bodyText: '', attachments: [] };
  const pending: Promise<void>[] = [];

  parser.on('headerLines', (lines: HeaderLines) => {
    if (facts.headers.length > 0) return; // only the top-level message headers
    for (const line of lines.slice(0, limits.maxHeaderLines)) {
      const colon = line.line.indexOf(':');
      const name = colon > 0 ? line.line.slice(0, colon).trim() : line.key;
      const raw = (colon > 0 ? line.line.slice(colon + 1) : '').slice(0, MAX_HEADER_VALUE).replace(/\r?\n[ \t]+/g, ' ').trim();
      facts.headers.push({ name, value: decodeHeader(raw) });
    }
    facts.subject = facts.headers.find((h) => h.name.toLowerCase() === 'subject')?.value ?? '';
    facts.messageId = facts.headers.find((h) => h.name.toLowerCase() === 'message-id')?.value ?? '';
  });

  parser.on('data', (part: AttachmentStream | MessageText) => {
    if (part.type === 'text') {
      const text = [part.text ?? '', typeof part.html === 'string' ? stripTags(part.html) : ''].join('\n');
      facts.bodyText = (facts.bodyText + text).slice(0, limits.maxBodyChars);
      return;
    }
    const inspected = inspectAttachment(part).then((fact) => void facts.attachments.push(fact));
    // Handled here so that a failure is never an unhandled rejection (which ends the process)
    // when the pipeline fails first and nobody reaches Promise.all(pending); otherwise it
    // still rejects the analysis through Promise.all below.
    inspected.catch(() => undefined);
    pending.push(inspected);
  });

  const work = (async () => {
    try {
      await pipeInto(source, parser);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EMAXLEN') throw new UnanalysableMessage('analysis-limit', (err as Error).message, facts);
      throw err;
    }
    await Promise.all(pending);
    return facts;
  })();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = new UnanalysableMessage('analysis-timeout', `analysis took longer than ${limits.timeoutMs} ms`, facts);
      source.destroy(err); // stops reading; the pipeline tears the parser down
      reject(err);
    }, limits.timeoutMs);
  });
  work.catch(() => undefined); // after a time-out nobody awaits it any more
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function inspectAttachment(part: AttachmentStream): Promise<AttachmentFact> {
  // mailparser is lenient and so are its types: an empty `Content-Type: ;` gives
  // `contentType: false` (found by fuzzing, test/fuzz/mime.test.ts), so check, not trust.
  const contentType = typeof part.contentType === 'string' && part.contentType !== '' ? part.contentType.toLowerCase() : 'application/octet-stream';
  const filename = typeof part.filename === 'string' ? part.filename : '';
  let sizeBytes = 0;
  const zip = isZip(filename, contentType) ? new ZipNameCollector() : undefined;
  const head = new HeadBytes();
  const counter = new Writable({
    write(chunk: Buffer, _enc, done) {
      sizeBytes += chunk.length;
      head.push(chunk);
      if (zip) zip.write(chunk, done);
      else done();
    },
  });
  try {
    await pipeInto(part.content as Readable, counter);
  } finally {
    part.release();
  }
  const detected = await sniffType(head.bytes);
  return { filename, contentType, sizeBytes, archiveEntries: zip ? zip.names : undefined, ...(detected ? { detectedType: detected.type, detectedExtension: detected.extension } : {}) };
}

function isZip(filename: string, contentType: string): boolean {
  return /\.zip$/i.test(filename) || contentType === 'application/zip' || contentType === 'application/x-zip-compressed';
}

function decodeHeader(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value; // an undecodable encoded-word is matched as sent
  }
}

/** Crude but bounded: content rules match words, not markup. */
function stripTags(html: string): string {
  return html.replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, ' ').replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ');
}
