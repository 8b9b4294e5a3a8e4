import { escapeHtml, plainText } from '../digests/template.ts';
import type { TopKind } from '../data/rollups.ts';
import { DAY_MS } from '../data/time-buckets.ts';
import type { Counts, ReportData } from './report-data.ts';

/**
 * A report as a subject, a plain-text part and an HTML part (pure). The HTML has inline styles
 * only and no remote images (mail clients block them, and they would tell a tracker who read
 * it); every value is escaped, since addresses and domains come from the mail itself.
 */
export interface RenderedReport {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export const TOP_TITLES: Readonly<Record<TopKind, [title: string, column: string]>> = {
  sender: ['Top senders', 'Sender'],
  sender_domain: ['Top sender domains', 'Domain'],
  recipient: ['Top recipients', 'Recipient'],
  blocked_sender: ['Top blocked senders', 'Sender'],
  virus: ['Viruses found', 'Virus'],
  spf_fail: ['Domains failing SPF', 'Domain'],
  dkim_fail: ['Domains failing DKIM', 'Domain'],
  dmarc_fail: ['Domains failing DMARC', 'Domain'],
};

const number = (n: number) => n.toLocaleString('en-US');
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `2026-03-03` for one day, `2026-02-23 to 2026-03-01` (both included) for more. */
export function periodLabel(period: { start: number; end: number }): string {
  const last = period.end - DAY_MS;
  return last <= period.start ? day(period.start) : `${day(period.start)} to ${day(last)}`;
}

const percent = (part: number, total: number) => (total === 0 ? '' : `${((100 * part) / total).toFixed(1)}%`);

/** A table as data, rendered twice: aligned text and HTML. Columns after the first `textColumns` (1) are numbers, right-aligned. */
interface Table {
  readonly title: string;
  readonly textColumns?: number;
  readonly note?: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** A last row set apart (the totals). */
  readonly footer?: readonly string[];
  readonly empty?: string;
}

const countCells = (c: Counts) => [number(c.total), number(c.deliver), number(c.tag), number(c.quarantine), number(c.reject), formatBytes(c.bytes)];
const COUNT_HEADER = ['Messages', 'Delivered', 'Tagged', 'Quarantined', 'Rejected', 'Volume'];

function tables(data: ReportData): Table[] {
  const out: Table[] = [];
  if (data.traffic) {
    const t = data.traffic;
    const share = (n: number) => `${number(n)} (${percent(n, t.total.total) || '0%'})`;
    out.push({
      title: 'Traffic',
      header: ['', 'Messages'],
      rows: [['All messages', number(t.total.total)], ['Delivered', share(t.total.deliver)], ['Tagged and delivered', share(t.total.tag)], ['Quarantined', share(t.total.quarantine)], ['Rejected', share(t.total.reject)], ['Volume', formatBytes(t.total.bytes)]],
    });
    if (t.days.length > 1) out.push({ title: 'Traffic per day', header: ['Day (UTC)', ...COUNT_HEADER], rows: t.days.map((d) => [day(d.start), ...countCells(d)]), footer: ['Total', ...countCells(t.total)] });
    out.push({ title: 'Traffic per node', header: ['Node', ...COUNT_HEADER], rows: t.nodes.map((n) => [n.node, ...countCells(n)]), empty: 'No mail in this period.' });
  }
  for (const list of data.tops) {
    const [title, column] = TOP_TITLES[list.kind];
    out.push({ title, textColumns: 2, header: ['#', column, 'Messages'], rows: list.rows.map((r, i) => [String(i + 1), r.value === '' ? '<>' : r.value, number(r.count)]), empty: 'None in this period.' });
  }
  if (data.quarantine) {
    const q = data.quarantine;
    const sum = (k: 'quarantined' | 'held' | 'released' | 'deleted') => q.domains.reduce((a, d) => a + d[k], 0);
    out.push({
      title: 'Quarantine per recipient domain',
      note: `${q.only.length > 0 ? `Domains: ${q.only.join(', ')}. ` : ''}Messages put in quarantine in this period, and what became of them. The whole quarantine holds ${number(q.heldNow.count)} message(s), ${formatBytes(q.heldNow.bytes)}, now.${q.moreDomains > 0 ? ` ${number(q.moreDomains)} more domain(s) not listed.` : ''}`,
      header: ['Domain', 'Quarantined', 'Still held', 'Released', 'Deleted'],
      rows: q.domains.map((d) => [d.domain, number(d.quarantined), number(d.held), number(d.released), number(d.deleted)]),
      ...(q.domains.length > 1 ? { footer: ['Total', number(sum('quarantined')), number(sum('held')), number(sum('released')), number(sum('deleted'))] } : {}),
      empty: 'Nothing was quarantined in this period.',
    });
  }
  return out;
}

function textTable(t: Table): string {
  const all = [t.header, ...t.rows, ...(t.footer ? [t.footer] : [])].map((r) => r.map(plainText));
  const widths = t.header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const left = t.textColumns ?? 1;
  const line = (r: readonly string[]) => r.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const body = t.rows.length === 0 ? [t.empty ?? ''] : [line(all[0]!), rule, ...all.slice(1, 1 + t.rows.length).map(line), ...(t.footer ? [rule, line(all.at(-1)!)] : [])];
  return [t.title, '='.repeat(t.title.length), ...(t.note ? [plainText(t.note)] : []), '', ...body].join('\n');
}

const CELL = 'padding:4px 10px;border-bottom:1px solid #d0d7de';
function htmlTable(t: Table): string {
  const left = t.textColumns ?? 1;
  const cell = (tag: 'td' | 'th', c: string, i: number, extra = '') => `<${tag} style="${CELL};text-align:${i < left ? 'left' : 'right'}${extra}">${escapeHtml(c)}</${tag}>`;
  const head = `<tr style="background:#eef1f4">${t.header.map((c, i) => cell('th', c, i)).join('')}</tr>`;
  const rows = t.rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('\n');
  const foot = t.footer ? `<tr>${t.footer.map((c, i) => cell('td', c, i, ';font-weight:bold;border-top:2px solid #57606a')).join('')}</tr>` : '';
  const note = t.note ? `<p style="margin:4px 0 8px;color:#444">${escapeHtml(t.note)}</p>` : '';
  const table = t.rows.length === 0 ? `<p style="color:#444">${escapeHtml(t.empty ?? '')}</p>` : `<table style="border-collapse:collapse;font-size:14px">\n${head}\n${rows}\n${foot}</table>`;
  return `<h2 style="font-size:17px;margin:24px 0 4px">${escapeHtml(t.title)}</h2>\n${note}\n${table}`;
}

export function renderReport(data: ReportData): RenderedReport {
  const label = periodLabel(data.period);
  const t = data.traffic?.total;
  const summary = t ? `: ${number(t.total)} messages, ${number(t.quarantine)} quarantined, ${number(t.reject)} rejected` : '';
  const subject = plainText(`${data.name}, ${label}${summary}`).slice(0, 900);
  const intro = `${data.kind === 'weekly' ? 'Weekly' : 'Daily'} report "${data.name}" for ${label} (UTC days), made ${new Date(data.generatedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
  const parts = tables(data);
  const text = `${plainText(intro)}\n\n${parts.map(textTable).join('\n\n')}\n\n-- \nMoat scheduled report. An admin changes or stops it in the console (Scheduled reports).\n`;
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;color:#1f2328;background:#ffffff;margin:16px">
<h1 style="font-size:20px;margin:0 0 4px">${escapeHtml(data.name)}</h1>
<p style="margin:0 0 8px;color:#444">${escapeHtml(intro)}</p>
${parts.map(htmlTable).join('\n')}
<p style="margin-top:24px;color:#57606a;font-size:12px">Moat scheduled report. An admin changes or stops it in the console (Scheduled reports).</p>
</body></html>
`;
  return { subject, text, html };
}
