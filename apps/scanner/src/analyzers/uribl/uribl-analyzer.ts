import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MailParser, type AttachmentStream, type MessageText } from 'mailparser';
import type { Analyzer, Findings } from '../analyzer.ts';
import type { ResolveFn } from '../dns-resolver.ts';
import { lookUp, type DnsblZone } from '../dnsbl/dnsbl-analyzer.ts';
import { readMessageFile } from '../../memory/buffer-garbage.ts';

export interface UriblSettings {
  readonly zones: readonly DnsblZone[];
  readonly timeoutMs: number;
  /** Most distinct domains looked up per message (the first found, in order). */
  readonly maxDomains: number;
  /** Characters of text and of HTML read for links per message. */
  readonly maxTextChars: number;
  /** Domains never looked up (the organisation's own, big providers), with their subdomains. */
  readonly skipDomains: readonly string[];
}

/**
 * URI blocklists (Spamhaus DBL, SURBL, URIBL): the domains of links in the text and HTML
 * parts (`http(s)://`, `www.` and `href=`), at most `maxDomains` per message, each looked up
 * as `<domain>.<zone>` through the shared resolver. Each domain is queried as the link names
 * it and, when longer, as its registrable part (the last two labels, three under a two-letter
 * TLD with a generic second level such as `co.uk`; an approximation of the public suffix list).
 * A listing is an extra score `uribl.<zone>`; like DNSBL, a zone that fails counts as not
 * listed and the fallback after the time-out is to go on without it.
 */
export function uriblAnalyzer(settings: UriblSettings, resolve: ResolveFn): Analyzer {
  const skip = settings.skipDomains.map((d) => d.toLowerCase().replace(/\.$/, ''));
  return {
    name: 'uribl',
    timeoutMs: settings.timeoutMs,
    fallback: { policy: 'pass' },
    async run(input, signal): Promise<Findings> {
      const texts = await readTexts(readMessageFile(input.spoolFile), settings.maxTextChars, signal);
      const domains = linkDomains(texts, settings.maxDomains).filter((d) => !skip.some((s) => d === s || d.endsWith(`.${s}`)));
      const names = [...new Set(domains.flatMap((d) => [d, registrable(d)]))];
      const found = await Promise.all(
        settings.zones.map(async (z) => {
          const hits = await Promise.all(names.map((d) => lookUp(z, `${d}.${z.zone}`, resolve, `uribl.${z.zone}`, `${d} `)));
          const listed = hits.filter((h) => h !== undefined);
          if (listed.length === 0) return undefined;
          // One reason per zone: the strongest listing scores, every listed domain is named.
          return { id: `uribl.${z.zone}`, score: Math.max(...listed.map((h) => h.score)), detail: listed.map((h) => h.detail).join('; ') };
        }),
      );
      return { extraScores: found.filter((f) => f !== undefined) };
    },
  };
}

/** The text and HTML of the text parts, each bounded; attachments are drained unread. */
export async function readTexts(source: Readable, maxChars: number, signal?: AbortSignal): Promise<string[]> {
  const parser = new MailParser({ skipImageLinks: true, skipTextLinks: true, skipTextToHtml: true, skipHtmlToText: true, maxHtmlLengthToParse: maxChars });
  const texts: string[] = [];
  let used = 0;
  parser.on('data', (part: AttachmentStream | MessageText) => {
    if (part.type !== 'text') {
      part.content.pipe(new Writable({ write: (_c, _e, done) => done() })).on('finish', () => part.release());
      return;
    }
    for (const t of [part.text, typeof part.html === 'string' ? part.html : undefined]) {
      if (!t || used >= maxChars) continue;
      texts.push(t.slice(0, maxChars - used));
      used += Math.min(t.length, maxChars - used);
    }
  });
  await pipeline(source, parser, { signal });
  return texts;
}

const LINK = /\b(?:https?:\/\/|www\.)([^\s/?#"'<>()[\]\\@:]+(?::\d+)?)|\bhref\s*=\s*["']?(?:https?:)?\/\/([^\s/?#"'<>()[\]\\@:]+)/gi;

/** The distinct host names of links, lower-case ASCII (IDNA), in order of appearance, at most `max`. */
export function linkDomains(texts: readonly string[], max: number): string[] {
  const out = new Set<string>();
  for (const text of texts) {
    for (const m of text.matchAll(LINK)) {
      if (out.size >= max) return [...out];
      let host = (m[1] ?? m[2] ?? '').replace(/:\d+$/, '').replace(/\.+$/, '');
      if (m[0].toLowerCase().startsWith('www.')) host = `www.${host}`;
      if (!host || isIP(host) || /^\d+(\.\d+)*$/.test(host)) continue;
      const ascii = domainToASCII(host.toLowerCase());
      if (ascii && ascii.includes('.') && ascii.length <= 253 && /^[a-z0-9.-]+$/.test(ascii)) out.add(ascii);
    }
  }
  return [...out];
}

const GENERIC_SECOND_LEVEL = new Set(['co', 'com', 'net', 'org', 'ac', 'gov', 'edu', 'ne', 'or', 'go']);

/** The registrable part of a host name, approximately (see uriblAnalyzer). */
export function registrable(host: string): string {
  const labels = host.split('.');
  const keep = labels.length >= 3 && labels.at(-1)!.length === 2 && GENERIC_SECOND_LEVEL.has(labels.at(-2)!) ? 3 : 2;
  return labels.slice(-keep).join('.');
}
