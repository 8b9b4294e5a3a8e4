import { useEffect, useState } from 'preact/hooks';
import { api, describe, query } from '../lib/api.ts';
import { can } from '../lib/roles.ts';
import { bytes, when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';
import type { Me } from '../app.tsx';

export interface QuarantineEntry {
  id: string;
  nodeId: string;
  nodeName: string | null;
  createdAt: string;
  mailFrom: string;
  firstRcpt: string;
  rcptCount: number;
  subject: string;
  size: number;
  score: number;
  status: string;
}

interface Filters {
  sender?: string;
  recipient?: string;
  subject?: string;
  node?: string;
  status?: string;
  cursor?: string;
}

/** A bulk job on the master (`GET /api/v1/quarantine/bulk/{id}`). */
interface BulkJob {
  id: string;
  action: 'release' | 'delete' | 'spam';
  state: 'running' | 'done';
  total: number;
  done: number;
  ok: number;
  failed: number;
  failures: Array<{ id: string; node: string; subject: string; error: string }>;
}

const JOB_WORDS = {
  release: { running: 'Releasing', done: 'Released', button: 'Release all matching' },
  delete: { running: 'Deleting', done: 'Deleted', button: 'Delete all matching' },
  spam: { running: 'Marking as spam', done: 'Marked as spam', button: 'Mark all matching as spam' },
} as const;

interface Bulk {
  action: 'release' | 'delete';
  total: number;
  done: number;
  failed: Array<{ id: string; subject: string; error: string }>;
  running: boolean;
}

export function QuarantineList({ me }: { me: Me }) {
  const [filters, setFilters] = useState<Filters>({ status: 'held' });
  const list = useData(() => api<{ items: QuarantineEntry[]; next: string | null }>('GET', `/quarantine${query({ ...filters, match: filters.sender || filters.recipient ? 'contains' : undefined })}`), [filters]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [bulk, setBulk] = useState<Bulk | null>(null);
  const [job, setJob] = useState<BulkJob | null>(null);
  const [jobError, setJobError] = useState('');
  const operator = can.handleQuarantine(me.role);
  const search = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setSelected(new Set());
    setFilters({ sender: String(f.get('sender')), recipient: String(f.get('recipient')), subject: String(f.get('subject')), node: String(f.get('node')), status: String(f.get('status')) });
  };
  // A running job is followed until it ends; then the list shows what it left.
  useEffect(() => {
    if (!job || job.state !== 'running') return;
    const timer = setTimeout(() => {
      api<BulkJob>('GET', `/quarantine/bulk/${encodeURIComponent(job.id)}`).then((j) => {
        setJob(j);
        if (j.state === 'done') list.reload();
      }, (err) => setJobError(describe(err)));
    }, 250);
    return () => clearTimeout(timer);
  }, [job]);
  /** Every held message matching the search shown (not only this page): a job on the master. */
  const runAll = async (action: BulkJob['action']) => {
    const search = Object.fromEntries(Object.entries({ sender: filters.sender, recipient: filters.recipient, subject: filters.subject, node: filters.node }).filter(([, v]) => v !== undefined && v !== ''));
    const described = Object.keys(search).length === 0 ? 'every held message' : 'every held message matching this search';
    const verb = action === 'spam' ? 'Mark as spam' : action === 'release' ? 'Release' : 'Delete for good';
    if (!confirm(`${verb}: ${described}?`)) return;
    setJobError('');
    try {
      setJob(await api<BulkJob>('POST', '/quarantine/bulk', { action, search: { ...search, ...(search.sender || search.recipient ? { match: 'contains' } : {}) } }));
    } catch (err) {
      setJobError(describe(err));
    }
  };
  const selectable = (list.data?.items ?? []).filter((q) => q.status === 'held');
  const toggle = (id: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    setSelected(next);
  };
  // Only what is shown and still held counts (a failed or vanished message drops out).
  const chosen = selectable.filter((q) => selected.has(q.id));
  const allSelected = selectable.length > 0 && chosen.length === selectable.length;
  /** One request per message, one after another, so the progress is real and one failure stops nothing. */
  const run = async (action: 'release' | 'delete') => {
    const items = chosen;
    if (items.length === 0) return;
    if (action === 'delete' && !confirm(`Delete ${items.length} message${items.length === 1 ? '' : 's'} for good?`)) return;
    const state: Bulk = { action, total: items.length, done: 0, failed: [], running: true };
    setBulk({ ...state });
    for (const q of items) {
      try {
        await api(action === 'release' ? 'POST' : 'DELETE', action === 'release' ? `/quarantine/${encodeURIComponent(q.id)}/release` : `/quarantine/${encodeURIComponent(q.id)}`);
      } catch (err) {
        state.failed.push({ id: q.id, subject: q.subject, error: describe(err) });
      }
      state.done++;
      setBulk({ ...state, failed: [...state.failed] });
    }
    state.running = false;
    setBulk({ ...state, failed: [...state.failed] });
    setSelected(new Set(state.failed.map((f) => f.id)));
    list.reload();
  };
  return (
    <section>
      <h1>Quarantine</h1>
      <form class="filters" onSubmit={search}>
        <label>Sender <input name="sender" /></label>
        <label>Recipient <input name="recipient" /></label>
        <label>Subject <input name="subject" /></label>
        <label>Node <input name="node" /></label>
        <label>Status
          <select name="status">
            <option value="held">held</option><option value="released">released</option><option value="deleted">deleted</option><option value="all">all</option>
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      {list.error && <p class="error" role="alert">{list.error}</p>}
      {operator && (
        <div class="actions" data-testid="bulk-actions">
          <button type="button" disabled={chosen.length === 0 || bulk?.running} onClick={() => run('release')}>Release selected ({chosen.length})</button>
          <button type="button" class="danger" disabled={chosen.length === 0 || bulk?.running} onClick={() => run('delete')}>Delete selected ({chosen.length})</button>
        </div>
      )}
      {operator && (
        <div class="actions" data-testid="bulk-all" role="group" aria-labelledby="bulk-all-label">
          <span id="bulk-all-label" class="hint">Every held message matching the search, on every page:</span>
          {(['release', 'delete', ...(can.learn(me.role) ? ['spam' as const] : [])] as const).map((a) => (
            <button type="button" class={a === 'delete' ? 'danger' : undefined} data-action={a} disabled={job?.state === 'running' || (filters.status ?? 'held') !== 'held'} onClick={() => runAll(a)}>{JOB_WORDS[a].button}</button>
          ))}
        </div>
      )}
      {jobError && <p class="error" role="alert" data-testid="bulk-job-error">{jobError}</p>}
      {job && <JobProgress job={job} />}
      {bulk && <BulkProgress bulk={bulk} />}
      <div class="table-wrap">
        <table data-testid="quarantine">
          <thead><tr>
            {operator && <th><input type="checkbox" aria-label="Select every held message shown" checked={allSelected} disabled={selectable.length === 0} onChange={(e) => setSelected(new Set((e.currentTarget as HTMLInputElement).checked ? selectable.map((q) => q.id) : []))} /></th>}
            <th class="wide">Quarantined</th><th>From</th><th class="wide">To</th><th>Subject</th><th class="wide">Node</th><th class="wide">Score</th><th class="wide">Size</th><th>Status</th></tr></thead>
          <tbody>
            {list.data?.items.map((q) => (
              <tr data-id={q.id}>
                {operator && <td>{q.status === 'held' && <input type="checkbox" aria-label={`Select ${q.subject || q.id}`} checked={selected.has(q.id)} onChange={(e) => toggle(q.id, (e.currentTarget as HTMLInputElement).checked)} />}</td>}
                <td class="wide">{when(q.createdAt)}</td>
                <td>{q.mailFrom || '<>'}</td>
                <td class="wide">{q.firstRcpt}{q.rcptCount > 1 ? ` +${q.rcptCount - 1}` : ''}</td>
                <td><a href={`#/quarantine/${q.id}`}>{q.subject || '(no subject)'}</a></td>
                <td class="wide">{q.nodeName ?? q.nodeId}</td>
                <td class="wide">{q.score}</td>
                <td class="wide">{bytes(q.size)}</td>
                <td>{q.status}</td>
              </tr>
            ))}
            {list.data?.items.length === 0 && <tr><td colSpan={operator ? 9 : 8}>Nothing matches.</td></tr>}
          </tbody>
        </table>
      </div>
      {list.data?.next && <button type="button" onClick={() => setFilters({ ...filters, cursor: list.data!.next! })}>Older</button>}
    </section>
  );
}

function BulkProgress({ bulk }: { bulk: Bulk }) {
  const verb = bulk.action === 'release' ? 'Releasing' : 'Deleting';
  const ok = bulk.done - bulk.failed.length;
  return (
    <div class="bulk" data-testid="bulk-progress">
      <label for="bulk-bar">
        {bulk.running ? `${verb} ${bulk.done} of ${bulk.total}…` : `${bulk.action === 'release' ? 'Released' : 'Deleted'} ${ok} of ${bulk.total}${bulk.failed.length > 0 ? `; ${bulk.failed.length} failed` : ''}.`}
      </label>
      <progress id="bulk-bar" max={bulk.total} value={bulk.done} data-testid="bulk-bar" />
      <p role="status" class="visually-hidden">{bulk.running ? '' : `Done: ${ok} of ${bulk.total}`}</p>
      {bulk.failed.length > 0 && (
        <ul class="problems" data-testid="bulk-errors">
          {bulk.failed.map((f) => <li data-id={f.id}><a href={`#/quarantine/${encodeURIComponent(f.id)}`}>{f.subject || f.id}</a>: {f.error}</li>)}
        </ul>
      )}
    </div>
  );
}

/** A job on the master: its bar fills as the master works through the matching messages. */
function JobProgress({ job }: { job: BulkJob }) {
  const words = JOB_WORDS[job.action];
  return (
    <div class="bulk" data-testid="bulk-job" data-state={job.state}>
      <label for="bulk-job-bar">
        {job.state === 'running'
          ? `${words.running} ${job.done} of ${job.total}…`
          : `${words.done} ${job.ok} of ${job.total}${job.failed > 0 ? `; ${job.failed} failed` : ''}.`}
      </label>
      <progress id="bulk-job-bar" max={Math.max(job.total, 1)} value={job.total === 0 ? 1 : job.done} data-testid="bulk-job-bar" />
      <p role="status" class="visually-hidden">{job.state === 'running' ? '' : `Done: ${job.ok} of ${job.total}`}</p>
      {job.failures.length > 0 && (
        <ul class="problems" data-testid="bulk-job-errors">
          {job.failures.map((f) => <li data-id={f.id}><a href={`#/quarantine/${encodeURIComponent(f.id)}`}>{f.subject || f.id}</a> ({f.node}): {f.error}</li>)}
        </ul>
      )}
    </div>
  );
}
