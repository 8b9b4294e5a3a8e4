import { useState } from 'preact/hooks';
import { api, describe } from '../lib/api.ts';
import { ago, when } from '../lib/format.ts';
import { go } from '../lib/router.ts';
import { can } from '../lib/roles.ts';
import { useData } from '../lib/use-data.ts';
import type { Me } from '../app.tsx';

interface NodeView {
  readonly id: string;
  readonly name: string;
  readonly online: boolean;
  readonly queueDepth: number;
}

/** One entry of a node's relay queue as the scanner lists it (`queue.list`; times in epoch ms). */
export interface QueueEntryView {
  readonly id: string;
  readonly messageId: string;
  readonly kind: 'message' | 'dsn' | 'injected';
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly attempts: number;
  readonly createdAt: number;
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
}

interface QueueView {
  readonly count: number;
  readonly oldest: number | null;
  readonly entries: readonly QueueEntryView[];
}

const REFRESH_MS = 10_000;
const LIMIT = 200;
const KIND: Record<QueueEntryView['kind'], string> = { message: 'mail', dsn: 'bounce', injected: 'digest' };
const isoOf = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Each node's relay queue, live over the link: what waits, why, when it is tried next; retry, bounce, delete. */
export function QueuePage({ me, nodeId }: { me: Me; nodeId: string | undefined }) {
  const operator = can.handleQuarantine(me.role);
  const nodes = useData(() => api<{ items: NodeView[] }>('GET', '/nodes'), [], REFRESH_MS);
  const chosen = nodes.data?.items.find((n) => n.id === nodeId) ?? nodes.data?.items.find((n) => n.online) ?? nodes.data?.items[0];
  const queue = useData(
    () => (chosen?.online ? api<QueueView>('GET', `/nodes/${chosen.id}/queue?limit=${LIMIT}`) : Promise.resolve(undefined)),
    [chosen?.id, chosen?.online],
    REFRESH_MS,
  );
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState('');

  const act = async (e: QueueEntryView, action: 'retry' | 'bounce' | 'delete') => {
    if (!chosen) return;
    const who = e.rcptTo.join(', ');
    if (action === 'bounce' && !confirm(`Bounce the message from ${e.mailFrom || 'the null sender'} to ${who}? Its recipients fail now${e.kind === 'message' && e.mailFrom ? ' and its sender gets a bounce' : ''}.`)) return;
    if (action === 'delete' && !confirm(`Delete the message from ${e.mailFrom || 'the null sender'} to ${who}? It is dropped without telling its sender.`)) return;
    setBusy(e.id);
    setNotice('');
    try {
      if (action === 'delete') await api('DELETE', `/nodes/${chosen.id}/queue/${e.id}`);
      else await api('POST', `/nodes/${chosen.id}/queue/${e.id}/${action}`);
      setNotice(action === 'retry' ? `Retrying the message to ${who} now.` : action === 'bounce' ? `Bounced the message to ${who}.` : `Deleted the message to ${who}.`);
    } catch (err) {
      setNotice(describe(err));
    } finally {
      setBusy('');
    }
    queue.reload();
  };

  return (
    <section>
      <h1>Relay queue</h1>
      <p class="hint">Mail each scanner accepted and could not hand downstream yet, read live from the node. Deferred mail is retried with growing pauses until it is delivered, refused, or too old.</p>
      {nodes.error && <p class="error" role="alert">{nodes.error}</p>}
      <div class="actions" role="group" aria-label="Nodes">
        {nodes.data?.items.map((n) => (
          <button type="button" class="toggle" aria-pressed={n.id === chosen?.id} data-node={n.name} onClick={() => go(`queue/${n.id}`)}>
            {n.name} <span class={n.online ? 'pill ok' : 'pill bad'}>{n.online ? `${n.queueDepth} queued` : 'offline'}</span>
          </button>
        ))}
      </div>
      {nodes.data?.items.length === 0 && <p>No scanner has joined yet.</p>}
      {chosen && !chosen.online && <p class="notice" role="status">{chosen.name} is offline: its queue is on its own disk and shows here when it reconnects.</p>}
      {queue.error && <p class="error" role="alert">{queue.error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      {chosen?.online && queue.data && (
        <>
          <p data-testid="queue-summary">
            <strong>{queue.data.count}</strong> message{queue.data.count === 1 ? '' : 's'} queued on {chosen.name}
            {queue.data.oldest !== null && <>, the oldest since {when(isoOf(queue.data.oldest))}</>}
            {queue.data.count > queue.data.entries.length && <> (the oldest {queue.data.entries.length} shown)</>}
          </p>
          <div class="table-wrap">
            <table data-testid="queue">
              <thead>
                <tr><th class="wide">Queued</th><th>From</th><th>Recipients</th><th>Why</th><th class="wide">Attempts</th><th>Next attempt</th>{operator && <th><span class="visually-hidden">Actions</span></th>}</tr>
              </thead>
              <tbody>
                {queue.data.entries.map((e) => (
                  <tr data-queue-id={e.id}>
                    <td class="wide" title={when(isoOf(e.createdAt))}>{ago(isoOf(e.createdAt))}</td>
                    <td>{e.mailFrom || <em>null sender</em>} {e.kind !== 'message' && <span class="pill">{KIND[e.kind]}</span>}</td>
                    <td>{e.rcptTo.join(', ')}</td>
                    <td class="why">{e.lastError ?? <em>not tried yet</em>}</td>
                    <td class="wide">{e.attempts}</td>
                    <td title={when(isoOf(e.nextAttemptAt))}>{e.nextAttemptAt <= Date.now() ? 'due now' : `in ${until(e.nextAttemptAt)}`}</td>
                    {operator && (
                      <td class="row-actions">
                        <button type="button" class="small" disabled={busy === e.id} aria-label={`Retry now: to ${e.rcptTo.join(', ')}`} onClick={() => void act(e, 'retry')}>Retry now</button>
                        <button type="button" class="small secondary" disabled={busy === e.id} aria-label={`Bounce: to ${e.rcptTo.join(', ')}`} onClick={() => void act(e, 'bounce')}>Bounce…</button>
                        <button type="button" class="small danger" disabled={busy === e.id} aria-label={`Delete: to ${e.rcptTo.join(', ')}`} onClick={() => void act(e, 'delete')}>Delete…</button>
                      </td>
                    )}
                  </tr>
                ))}
                {queue.data.entries.length === 0 && <tr><td colSpan={operator ? 7 : 6}>Nothing waiting: every message was handed downstream.</td></tr>}
              </tbody>
            </table>
          </div>
        </>
      )}
      <p class="hint">Refreshed every {REFRESH_MS / 1000} s. <em>Bounce</em> tells the sender (not for mail released from the quarantine, whose sender is usually forged); <em>Delete</em> drops the message silently.</p>
    </section>
  );
}

function until(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((ms - now) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}
