/** The console benchmark's markdown report, pure. */
import { upperMedian } from './stats.ts';

/** The 300 ms bar of issue 20: from the API answering to the page showing its data. */
export const RENDER_BUDGET_MS = 300;

/** One page's loads at one database size (milliseconds, one entry per timed load). */
export interface PageSamples {
  readonly calls: number;
  /** First data request's start → last answer. */
  readonly api: readonly number[];
  /** Last answer → data on screen. */
  readonly render: readonly number[];
  /** Navigation (or the click) → data on screen. */
  readonly total: readonly number[];
  /** Each of the page's data requests made alone from the bench (start → last byte), by `callKey`. */
  readonly byCall: Readonly<Record<string, readonly number[]>>;
}

/** A request named without its origin, API prefix or query values: `/reports/top/sender?from&limit`. */
export function callKey(url: string): string {
  const u = new URL(url);
  const keys = [...new Set(u.searchParams.keys())];
  return u.pathname.replace(/^\/api\/v1/, '').replace(/\/[0-9A-Z]{16,}(?=\/|$)/g, '/ID').replace(/\/[0-9a-f]{16}(?=\/|$)/g, '/NODE') + (keys.length > 0 ? `?${keys.join('&')}` : '');
}

/** The call that took longest (upper median over the loads), or undefined for a page without calls. */
export function slowestCall(s: PageSamples): { call: string; ms: number } | undefined {
  return Object.entries(s.byCall).map(([call, xs]) => ({ call, ms: upperMedian(xs) })).sort((a, b) => b.ms - a.ms)[0];
}

/** Pages whose API part takes longer than this get a line saying which call it is. */
const SLOW_API_MS = 100;

export interface PageRow {
  readonly title: string;
  readonly baseline: PageSamples;
  readonly large: PageSamples;
}

export interface ReportHead {
  readonly date: string;
  readonly machine: string;
  readonly runs: number;
  readonly baselineMessages: number;
  readonly baselineQuarantine: number;
  readonly largeMessages: number;
  readonly largeQuarantine: number;
  readonly largeDbMiB: number;
  readonly command: string;
}

const ms = (xs: readonly number[]): string => {
  const v = upperMedian(xs);
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
};
const ratio = (a: readonly number[], b: readonly number[]): string => {
  const d = upperMedian(b);
  return d > 0 ? `${(upperMedian(a) / d).toFixed(2)}×` : '—';
};
const count = (n: number) => n.toLocaleString('en-US');

/** The pages that miss the budget at the large size (their titles). */
export function overBudget(rows: readonly PageRow[]): string[] {
  return rows.filter((r) => upperMedian(r.large.render) > RENDER_BUDGET_MS).map((r) => r.title);
}

export function consoleReport(head: ReportHead, rows: readonly PageRow[]): string {
  const misses = overBudget(rows);
  return [
    '# Console: from the API answering to the page showing its data',
    '',
    `${head.date}, ${head.machine}; headless Chromium (1280×800) against a real master with two real scanners on loopback. `
      + `Large: ${count(head.largeMessages)} logged messages and ${count(head.largeQuarantine)} quarantine entries over 30 days (master database ${count(head.largeDbMiB)} MiB); `
      + `baseline: the same pages in the same run with ${count(head.baselineMessages)} messages and ${count(head.baselineQuarantine)} quarantine entries. `
      + `Median (upper) of ${head.runs} loads of each page after one warm-up load. Command: \`${head.command}\`.`,
    '',
    `*After API*: from the last byte of the page's last API answer (Resource Timing \`responseEnd\`) to the end of the first frame in which every answer has been read and the page's data are on screen (layout and paint done); `
      + `the bar is ${RENDER_BUDGET_MS} ms at the large size. *API*: from the page's first data request to that last answer (queries, and answers a node gives through the master). `
      + '*Total*: from navigation (the click, for Reports 30 days) to the data on screen, JS bundle and sign-in check included. Ratios: large ÷ baseline.',
    '',
    `| page | API calls | after API (ms) | baseline: after API (ms) | after API ÷ baseline | API (ms) | baseline: API (ms) | API ÷ baseline | total (ms) | baseline: total (ms) | within ${RENDER_BUDGET_MS} ms |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |',
    ...rows.map((r) => `| ${r.title} | ${r.large.calls} | ${ms(r.large.render)} | ${ms(r.baseline.render)} | ${ratio(r.large.render, r.baseline.render)} | `
      + `${ms(r.large.api)} | ${ms(r.baseline.api)} | ${ratio(r.large.api, r.baseline.api)} | ${ms(r.large.total)} | ${ms(r.baseline.total)} | ${upperMedian(r.large.render) <= RENDER_BUDGET_MS ? 'yes' : '**no**'} |`),
    '',
    misses.length === 0 ? `Every page shows its data within ${RENDER_BUDGET_MS} ms of the API answering.` : `Over ${RENDER_BUDGET_MS} ms: ${misses.join(', ')}.`,
    '',
    ...slowApi(rows),
  ].join('\n');
}

/** Where the API part goes, for the pages whose API part at the large size is over SLOW_API_MS. */
function slowApi(rows: readonly PageRow[]): string[] {
  const slow = rows.flatMap((r) => {
    const call = upperMedian(r.large.api) > SLOW_API_MS ? slowestCall(r.large) : undefined;
    const sum = Object.values(r.large.byCall).reduce((a, xs) => a + upperMedian(xs), 0);
    return call ? [`| ${r.title} | ${ms(r.large.api)} | \`${call.call}\` | ${ms([call.ms])} | ${ms([sum])} |`] : [];
  });
  if (slow.length === 0) return [];
  return [
    `## Pages whose API part is over ${SLOW_API_MS} ms at the large size`,
    '',
    'The page\'s costliest request, fetched alone from the bench process (upper median); the master answers from SQLite one query at a time, so the requests a page makes together wait for each other and its API part is about their sum.',
    '',
    '| page | API (ms) | costliest call | alone (ms) | calls alone, summed (ms) |',
    '| --- | ---: | --- | ---: | ---: |',
    ...slow,
    '',
  ];
}
