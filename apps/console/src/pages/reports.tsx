import { useMemo, useState } from 'preact/hooks';
import { api, query } from '../lib/api.ts';
import { useData } from '../lib/use-data.ts';
import { TrafficChart, type TrafficRow } from '../components/traffic-chart.tsx';
import { bucketFor, localInput, reportRange, type RangeChoice } from '../lib/report-range.ts';

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

const VERDICTS = ['deliver', 'tag', 'quarantine', 'reject'] as const;
type NodeRow = TrafficRow & { nodeId: string };

/**
 * Traffic over a chosen range (a preset or from/to), for the whole cluster or one node, a
 * per-node breakdown, and the top tables; each with its CSV from the same API.
 */
export function ReportsPage() {
  const [choice, setChoice] = useState<RangeChoice>({ preset: '7', from: '', to: '', bucket: 'auto', node: '' });
  const nodes = useData(() => api<{ items: Array<{ id: string; name: string }> }>('GET', '/nodes'), []);
  // "Now" is taken when the choice changes, not on every render: the range (and the requests) stay put.
  const [range, bucket] = useMemo(() => {
    const now = Date.now();
    const r = reportRange(choice, now);
    return [r, 'error' in r ? 'day' : bucketFor(choice, r, now)] as const;
  }, [choice]);
  const key = JSON.stringify([range, bucket, choice.node]);
  const traffic = useData(() => ('error' in range ? Promise.resolve(undefined) : api<{ rows: TrafficRow[] }>('GET', `/reports/traffic${query({ bucket, ...range, node: choice.node || undefined })}`)), [key]);
  // The whole cluster per node and bucket: the per-node table and the chart's per-node split.
  const byNode = useData(() => ('error' in range ? Promise.resolve(undefined) : api<{ rows: NodeRow[] }>('GET', `/reports/traffic${query({ bucket, ...range, byNode: true })}`)), [key]);
  const change = (e: Event) => {
    const f = new FormData((e.currentTarget as HTMLElement).closest('form')!);
    setChoice({ preset: String(f.get('days')), from: String(f.get('from') ?? ''), to: String(f.get('to') ?? ''), bucket: String(f.get('bucket')) as RangeChoice['bucket'], node: String(f.get('node') ?? '') });
  };
  /** A range dragged across the chart becomes the custom range (to the minute, widened to take in the last one). */
  const zoom = (from: number, to: number) => setChoice((c) => ({ ...c, preset: 'custom', from: localInput(from), to: localInput(to + 59_999) }));
  const nodeName = useMemo(() => (id: string) => nodes.data?.items.find((n) => n.id === id)?.name ?? id, [nodes.data]);
  const totals = new Map<string, Record<string, number>>();
  for (const r of byNode.data?.rows ?? []) {
    const t = totals.get(r.nodeId) ?? { deliver: 0, tag: 0, quarantine: 0, reject: 0, total: 0 };
    for (const k of [...VERDICTS, 'total'] as const) t[k] = (t[k] ?? 0) + r[k];
    totals.set(r.nodeId, t);
  }
  const csvRange = 'error' in range ? {} : range;
  return (
    <section>
      <h1>Reports</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>Range
          <select name="days" value={choice.preset} onChange={change}>
            <option value="1">last 24 hours</option><option value="7">last 7 days</option><option value="30">last 30 days</option><option value="custom">custom…</option>
          </select>
        </label>
        {choice.preset === 'custom' && (
          <>
            <label>From <input type="datetime-local" name="from" value={choice.from} onInput={change} /></label>
            <label>To <input type="datetime-local" name="to" value={choice.to} onInput={change} /></label>
          </>
        )}
        <label>Buckets
          <select name="bucket" value={choice.bucket} onChange={change}><option value="auto">automatic</option><option value="hour">hour</option><option value="day">day</option></select>
        </label>
        <label>Node
          <select name="node" value={choice.node} onChange={change}>
            <option value="">all nodes</option>
            {nodes.data?.items.map((n) => <option value={n.name}>{n.name}</option>)}
          </select>
        </label>
        <a class="button" data-testid="traffic-csv" href={`/api/v1/reports/traffic${query({ bucket, ...csvRange, node: choice.node || undefined, format: 'csv' })}`} download>Traffic CSV</a>
      </form>
      {'error' in range && <p class="error" role="alert" data-testid="range-error">{range.error}</p>}
      {traffic.error && <p class="error" role="alert">{traffic.error}</p>}
      {traffic.data && (
        <TrafficChart
          rows={traffic.data.rows}
          nodeRows={choice.node ? undefined : byNode.data?.rows}
          nameOf={nodeName}
          bucket={bucket}
          onRange={zoom}
          label={`Messages per ${bucket}${choice.node ? `, node ${choice.node}` : ''}`}
        />
      )}
      <h2>Per node <a class="small" href={`/api/v1/reports/traffic${query({ bucket, ...csvRange, byNode: true, format: 'csv' })}`} download>CSV</a></h2>
      {byNode.error && <p class="error">{byNode.error}</p>}
      <div class="table-wrap">
        <table data-testid="per-node">
          <thead><tr><th>Node</th><th class="num">Accepted</th><th class="num">Tagged</th><th class="num">Quarantined</th><th class="num">Rejected</th><th class="num">Total</th></tr></thead>
          <tbody>
            {[...totals].map(([id, t]) => (
              <tr data-node={nodeName(id)}><td>{nodeName(id)}</td>{[...VERDICTS, 'total'].map((k) => <td class="num">{t[k]}</td>)}</tr>
            ))}
            {byNode.data && totals.size === 0 && <tr><td colSpan={6}>No traffic in this range.</td></tr>}
          </tbody>
        </table>
      </div>
      {!('error' in range) && <div class="tops">{TOPS.map(([kind, title, empty]) => <TopTable kind={kind} title={title} empty={empty} range={range} node={choice.node} />)}</div>}
    </section>
  );
}

/** One top list over the range, for the cluster or the node the filter names (like the chart). */
function TopTable({ kind, title, empty, range, node }: { kind: string; title: string; empty: string; range: { from: string; to?: string }; node: string }) {
  const params = { ...range, node: node || undefined };
  const top = useData(() => api<{ rows: Array<{ value: string; count: number }> }>('GET', `/reports/top/${kind}${query({ ...params, limit: 10 })}`), [kind, range.from, range.to, node]);
  return (
    <div class="top-card" data-testid={`top-${kind}`} data-node={node}>
      <h2>{title} <a class="small" href={`/api/v1/reports/top/${kind}${query({ ...params, format: 'csv' })}`} download>CSV</a></h2>
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
