import { useState } from 'preact/hooks';
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
  status?: string;
  cursor?: string;
}

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
  const operator = can.handleQuarantine(me.role);
  const search = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setSelected(new Set());
    setFilters({ sender: String(f.get('sender')), recipient: String(f.get('recipient')), subject: String(f.get('subject')), status: String(f.get('status')) });
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
