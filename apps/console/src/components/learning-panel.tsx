import { api } from '../lib/api.ts';
import { ago, when } from '../lib/format.ts';
import { useData } from '../lib/use-data.ts';

/** GET /api/v1/learn/nodes (docs/detection.md, "Learning"). */
interface LearnNodes {
  lastSeq: number;
  items: Array<{ nodeId: string; name: string; online: boolean; appliedSeq: number; appliedAt: string | null; behind: number; spam: number; ham: number; lastError: string | null; lastErrorAt: string | null }>;
}

/**
 * What each scanner has learned: the last lesson of the cluster's learn log it applied to its
 * own engines, how many spam and ham, when, and what holds it back.
 */
export function LearningPanel({ refreshMs }: { refreshMs: number }) {
  const learn = useData(() => api<LearnNodes>('GET', '/learn/nodes'), [], refreshMs);
  const l = learn.data;
  return (
    <>
      <h2>Learning {l && <small>{l.lastSeq === 0 ? 'nothing taught yet' : `${l.lastSeq} lesson${l.lastSeq === 1 ? '' : 's'} in the log`}</small>}</h2>
      {learn.error && <p class="error" role="alert">{learn.error}</p>}
      {l && (
        <div class="table-wrap">
          <table data-testid="learning">
            <thead>
              <tr><th>Node</th><th>Applied</th><th>Spam</th><th>Ham</th><th>Last applied</th><th>Last error</th></tr>
            </thead>
            <tbody>
              {l.items.map((n) => (
                <tr data-node={n.name}>
                  <td>{n.name} {!n.online && <span class="pill bad">offline</span>}</td>
                  <td class={n.behind > 0 ? 'behind' : ''} data-testid="learn-applied">{n.appliedSeq} of {l.lastSeq}{n.behind > 0 ? ` (${n.behind} behind)` : ''}</td>
                  <td data-testid="learn-spam">{n.spam}</td>
                  <td data-testid="learn-ham">{n.ham}</td>
                  <td>{n.appliedAt ? <span title={when(n.appliedAt)}>{ago(n.appliedAt)}</span> : '—'}</td>
                  <td class={n.lastError ? 'behind' : ''} data-testid="learn-error">{n.lastError ? `${n.lastError}${n.lastErrorAt ? ` (${ago(n.lastErrorAt)})` : ''}` : '—'}</td>
                </tr>
              ))}
              {l.items.length === 0 && <tr><td colSpan={6}>No scanner has joined yet.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
