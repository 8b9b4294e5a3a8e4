import { useState } from 'preact/hooks';
import { api, query } from '../lib/api.ts';
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

export function QuarantineList(_props: { me: Me }) {
  const [filters, setFilters] = useState<Filters>({ status: 'held' });
  const list = useData(() => api<{ items: QuarantineEntry[]; next: string | null }>('GET', `/quarantine${query({ ...filters, match: filters.sender || filters.recipient ? 'contains' : undefined })}`), [filters]);
  const search = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setFilters({ sender: String(f.get('sender')), recipient: String(f.get('recipient')), subject: String(f.get('subject')), status: String(f.get('status')) });
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
      <div class="table-wrap">
        <table data-testid="quarantine">
          <thead><tr><th>Quarantined</th><th>From</th><th>To</th><th>Subject</th><th>Node</th><th>Score</th><th>Size</th><th>Status</th></tr></thead>
          <tbody>
            {list.data?.items.map((q) => (
              <tr data-id={q.id}>
                <td>{when(q.createdAt)}</td>
                <td>{q.mailFrom || '<>'}</td>
                <td>{q.firstRcpt}{q.rcptCount > 1 ? ` +${q.rcptCount - 1}` : ''}</td>
                <td><a href={`#/quarantine/${q.id}`}>{q.subject || '(no subject)'}</a></td>
                <td>{q.nodeName ?? q.nodeId}</td>
                <td>{q.score}</td>
                <td>{bytes(q.size)}</td>
                <td>{q.status}</td>
              </tr>
            ))}
            {list.data?.items.length === 0 && <tr><td colSpan={8}>Nothing matches.</td></tr>}
          </tbody>
        </table>
      </div>
      {list.data?.next && <button type="button" onClick={() => setFilters({ ...filters, cursor: list.data!.next! })}>Older</button>}
    </section>
  );
}
