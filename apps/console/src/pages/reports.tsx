import { useState } from 'preact/hooks';
import { api, query } from '../lib/api.ts';
import { useData } from '../lib/use-data.ts';
import { TrafficChart, type TrafficRow } from '../components/traffic-chart.tsx';

/** Kind, title, and how an empty value reads (the null sender; a failure that named no domain). */
const TOPS = [
  ['sender', 'Top senders', '<>'],
  ['sender_domain', 'Top sender domains', '<>'],
  ['recipient', 'Top recipients', '<>'],
  ['blocked_sender', 'Top blocked senders', '<>'],
  ['virus', 'Top viruses', '(unnamed)'],
  ['spf_fail', 'SPF failures by domain', '(no domain)'],
  ['dkim_fail', 'DKIM failures by domain', '(no domain)'],
  ['dmarc_fail', 'DMARC failures by domain', '(no domain)'],
] as const;

/** Traffic over a chosen range and the top tables, each with its CSV from the same API. */
export function ReportsPage() {
  const [range, setRange] = useState({ days: '7', bucket: 'day' });
  const from = new Date(Date.now() - Number(range.days) * 86400_000).toISOString();
  const traffic = useData(() => api<{ rows: TrafficRow[] }>('GET', `/reports/traffic${query({ bucket: range.bucket, from })}`), [range]);
  const change = (e: Event) => {
    const f = new FormData((e.currentTarget as HTMLSelectElement).form!);
    setRange({ days: String(f.get('days')), bucket: String(f.get('bucket')) });
  };
  return (
    <section>
      <h1>Reports</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>Range
          <select name="days" value={range.days} onChange={change}><option value="1">last 24 hours</option><option value="7">last 7 days</option><option value="30">last 30 days</option></select>
        </label>
        <label>Buckets
          <select name="bucket" value={range.bucket} onChange={change}><option value="hour">hour</option><option value="day">day</option></select>
        </label>
        <a class="button" data-testid="traffic-csv" href={`/api/v1/reports/traffic${query({ bucket: range.bucket, from, format: 'csv' })}`} download>Traffic CSV</a>
      </form>
      {traffic.error && <p class="error" role="alert">{traffic.error}</p>}
      {traffic.data && <TrafficChart rows={traffic.data.rows} label={`Messages per ${range.bucket}, by verdict`} />}
      <div class="tops">{TOPS.map(([kind, title, empty]) => <TopTable kind={kind} title={title} empty={empty} from={from} />)}</div>
    </section>
  );
}

function TopTable({ kind, title, empty, from }: { kind: string; title: string; empty: string; from: string }) {
  const top = useData(() => api<{ rows: Array<{ value: string; count: number }> }>('GET', `/reports/top/${kind}${query({ from, limit: 10 })}`), [kind, from.slice(0, 13)]);
  return (
    <div class="top" data-testid={`top-${kind}`}>
      <h2>{title} <a class="small" href={`/api/v1/reports/top/${kind}${query({ from, format: 'csv' })}`} download>CSV</a></h2>
      {top.error && <p class="error">{top.error}</p>}
      <table>
        <tbody>
          {top.data?.rows.map((r) => <tr><td>{r.value || empty}</td><td class="num">{r.count}</td></tr>)}
          {top.data?.rows.length === 0 && <tr><td>None in this range.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}
