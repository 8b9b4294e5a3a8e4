import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TOP_KINDS } from '../data/rollups.ts';
import { formatBytes, periodLabel, renderReport, TOP_TITLES } from './render.ts';
import type { ReportData } from './report-data.ts';
import { TopKindSchema } from './schedule-schema.ts';

const DAY = 86_400_000;
const start = Date.parse('2026-03-02T00:00:00Z');
const c = (deliver: number, tag: number, quarantine: number, reject: number) => ({ deliver, tag, quarantine, reject, total: deliver + tag + quarantine + reject, bytes: (deliver + tag + quarantine + reject) * 2048 });

const weekly: ReportData = {
  name: 'Weekly <ops>',
  period: { start, end: start + 7 * DAY },
  kind: 'weekly',
  generatedAt: start + 7 * DAY + 6 * 3_600_000,
  traffic: {
    total: c(1200, 30, 45, 7),
    days: Array.from({ length: 7 }, (_, i) => ({ start: start + i * DAY, ...(i === 0 ? c(1200, 30, 45, 7) : c(0, 0, 0, 0)) })),
    nodes: [{ node: 'scanner-a', ...c(1000, 30, 40, 7) }, { node: 'scanner-b', ...c(200, 0, 5, 0) }],
  },
  tops: [
    { kind: 'sender', rows: [{ value: 'news@shop.example', count: 900 }, { value: '', count: 12 }] },
    { kind: 'virus', rows: [] },
  ],
  quarantine: {
    domains: [{ domain: 'example.com', quarantined: 40, held: 30, released: 8, deleted: 2 }, { domain: '<b>evil.example', quarantined: 5, held: 5, released: 0, deleted: 0 }],
    moreDomains: 0,
    only: [],
    heldNow: { count: 321, bytes: 5 * 1024 * 1024 },
  },
};

test('the subject names the report, the period and the main figures', () => {
  assert.equal(renderReport(weekly).subject, 'Weekly <ops>, 2026-03-02 to 2026-03-08: 1,282 messages, 45 quarantined, 7 rejected');
  const { traffic: _t, ...noTraffic } = weekly;
  assert.equal(renderReport({ ...noTraffic, kind: 'daily', period: { start, end: start + DAY } }).subject, 'Weekly <ops>, 2026-03-02');
});

test('the text part: aligned tables with totals, an empty list said in words, the null sender shown as <>', () => {
  const { text } = renderReport(weekly);
  assert.match(text, /^All messages {2,}1,282$/m);
  assert.match(text, /^Quarantined {2,}45 \(3\.5%\)$/m);
  assert.match(text, /^2026-03-02 +1,282 +1,200 +30 +45 +7 +2\.5 MB$/m, 'a row per day');
  assert.match(text, /^Total +1,282 /m);
  assert.match(text, /^scanner-b +205 +200 +0 +5 +0 +410\.0 KB$/m);
  assert.match(text, /^1 +news@shop\.example +900$/m);
  assert.match(text, /^2 +<> +12$/m);
  assert.match(text, /Viruses found\n=+\n\nNone in this period\./);
  assert.match(text, /^example\.com +40 +30 +8 +2$/m);
  assert.match(text, /holds 321 message\(s\), 5\.0 MB, now/);
  // Columns line up: every row of the per-node table is as wide as its header rule.
  const nodeTable = text.slice(text.indexOf('Traffic per node'));
  const lines = nodeTable.split('\n').slice(3, 7);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1, lines.join('\n'));
});

test('the HTML part: tables with escaped values, no remote resources, no script', () => {
  const { html } = renderReport(weekly);
  assert.match(html, /<h1[^>]*>Weekly &#60;ops&#62;<\/h1>/);
  assert.match(html, /<td[^>]*>&#60;b&#62;evil\.example<\/td>/);
  assert.doesNotMatch(html, /<b>evil/);
  assert.doesNotMatch(html, /<img|<script|<link|url\(|src=|href=/i);
  assert.equal((html.match(/<table/g) ?? []).length, 5, 'traffic, per day, per node, senders, quarantine (viruses: none)');
  assert.match(html, /<td style="[^"]*text-align:right[^"]*">1,282<\/td>/);
});

test('a domain filter and domains beyond the limit are said', () => {
  const { text } = renderReport({ ...weekly, quarantine: { ...weekly.quarantine!, only: ['example.com'], moreDomains: 3 } });
  assert.match(text, /Domains: example\.com\. /);
  assert.match(text, /3 more domain\(s\) not listed\./);
  const none = renderReport({ ...weekly, quarantine: { ...weekly.quarantine!, domains: [] } });
  assert.match(none.text, /Nothing was quarantined in this period\./);
});

test('helpers: bytes, period labels; every top kind has a title and the schema lists them all', () => {
  assert.deepEqual([0, 1023, 1024, 1536 * 1024, 3 * 1024 ** 3].map(formatBytes), ['0 B', '1023 B', '1.0 KB', '1.5 MB', '3.0 GB']);
  assert.equal(periodLabel({ start, end: start + DAY }), '2026-03-02');
  assert.equal(periodLabel({ start, end: start + 7 * DAY }), '2026-03-02 to 2026-03-08');
  assert.deepEqual(Object.keys(TOP_TITLES).sort(), [...TOP_KINDS].sort());
  assert.deepEqual(TopKindSchema.anyOf.map((s: { const: string }) => s.const), [...TOP_KINDS]);
});
