/**
 * The searches the master data benchmark times: varied the way an admin's searches are
 * (a popular sender and a one-off, a common word and a rare one, a page deep in the past),
 * deterministic for a given seed.
 */
import type { MessageSearch } from '../../apps/master/src/data/messages-repository.ts';
import type { QuarantineSearch } from '../../apps/master/src/data/quarantine-repository.ts';
import { DAY_MS } from '../../apps/master/src/data/time-buckets.ts';
import { MAILBOXES, RARE_WORDS, SENDER_DOMAINS, SENDERS, mailbox, rng, senderAddress } from './master-data-generate.ts';
import type { QueryTiming } from './master-data-report.ts';

export interface NamedQuery<Q> {
  readonly kind: string;
  readonly q: Q;
}

interface Range {
  readonly start: number;
  readonly end: number;
  readonly nodes: readonly string[];
}

function picker(seed: number, range: Range) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const dayStart = () => range.start + int(Math.max(1, Math.floor((range.end - range.start) / DAY_MS) - 1)) * DAY_MS;
  const cursorAt = () => `${range.start + int(range.end - range.start)}.9007199254740991`;
  return { r, int, dayStart, cursorAt, pick: <T>(list: readonly T[]): T => list[int(list.length)]! };
}

/** 100 quarantine searches in 12 kinds. */
export function quarantineQueries(seed: number, range: Range): NamedQuery<QuarantineSearch>[] {
  const p = picker(seed, range);
  const kinds: [string, number, () => QuarantineSearch][] = [
    ['held, first page', 8, () => ({})],
    ['held, a page deep in the past (cursor)', 8, () => ({ cursor: p.cursorAt() })],
    ['exact sender, a busy one', 8, () => ({ sender: senderAddress(p.int(50)) })],
    ['exact sender, a rare one', 8, () => ({ sender: senderAddress(SENDERS - 1 - p.int(SENDERS / 2)) })],
    ['sender domain', 8, () => ({ sender: `@dom${p.int(SENDER_DOMAINS)}.example` })],
    ['exact recipient', 12, () => ({ recipient: mailbox(p.int(MAILBOXES)) })],
    ['subject, common word', 8, () => ({ subject: p.pick(['invoice', 'prize', 'winner', 'discount', 'crypto', 'payment']) })],
    ['subject, rare word', 8, () => ({ subject: p.pick(RARE_WORDS) })],
    ['subject, order number prefix', 8, () => ({ subject: `#${100_000 + p.int(900_000)}`.slice(0, 6) })],
    ['node + one day', 8, () => ({ node: p.pick(range.nodes), from: p.dayStart(), to: p.dayStart() + DAY_MS })],
    ['all statuses + one day', 8, () => { const from = p.dayStart(); return { status: 'all', from, to: from + DAY_MS }; }],
    ['sender contains', 8, () => ({ sender: `sender${p.int(SENDERS)}`, match: 'contains' })],
  ];
  return kinds.flatMap(([kind, n, make]) => Array.from({ length: n }, () => ({ kind, q: make() })));
}

/** 55 message log searches in 11 kinds. */
export function messageQueries(seed: number, range: Range): NamedQuery<MessageSearch>[] {
  const p = picker(seed, range);
  const kinds: [string, () => MessageSearch][] = [
    ['newest first page', () => ({})],
    ['a page deep in the past (cursor)', () => ({ cursor: p.cursorAt() })],
    ['exact sender, a busy one', () => ({ sender: senderAddress(p.int(50)) })],
    ['exact sender, a rare one', () => ({ sender: senderAddress(SENDERS - 1 - p.int(SENDERS / 2)) })],
    ['sender domain', () => ({ sender: `@dom${p.int(SENDER_DOMAINS)}.example` })],
    ['exact recipient', () => ({ recipient: mailbox(p.int(MAILBOXES)) })],
    ['action = quarantine', () => ({ action: 'quarantine' })],
    ['subject, common word', () => ({ subject: p.pick(['invoice', 'meeting', 'order', 'prize']) })],
    ['subject, rare word', () => ({ subject: p.pick(RARE_WORDS) })],
    ['subject matching nothing', () => ({ subject: `nomatch${p.int(1000)}` })],
    ['sender contains', () => ({ sender: `sender${p.int(SENDERS)}`, match: 'contains' })],
  ];
  return kinds.flatMap(([kind, make]) => Array.from({ length: 5 }, () => ({ kind, q: make() })));
}

/** Each query's time (ms) and rows, after a warm-up pass over all of them: the figures are for a warm cache. */
export async function timeQueries<Q>(queries: readonly NamedQuery<Q>[], run: (q: Q) => Promise<{ items: unknown[] }>): Promise<QueryTiming[]> {
  for (const { q } of queries) await run(q);
  const out: QueryTiming[] = [];
  for (const { kind, q } of queries) {
    const t = performance.now();
    const rows = (await run(q)).items.length;
    out.push({ kind, ms: performance.now() - t, rows });
  }
  return out;
}
