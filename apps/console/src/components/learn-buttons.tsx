import { useState } from 'preact/hooks';
import { api, describe } from '../lib/api.ts';

/** POST /api/v1/messages/{nodeId}/{id}/learn's answer (docs/detection.md, "Learning"). */
export interface Taught {
  event: { seq: number; class: 'spam' | 'ham'; unlearn: 'spam' | 'ham' | null };
  created: boolean;
  complete: boolean;
  applied: string[];
  pending: Array<{ node: string; error?: string }>;
}

const LABEL = { spam: 'spam', ham: 'not spam' } as const;

/** What a lesson did, in a sentence: which nodes applied it, which are still pending and why. */
export function taughtText(t: Taught): string {
  const what = LABEL[t.event.class];
  const head = !t.created ? `Already learned as ${what}: nothing new to teach.` : t.event.unlearn ? `Learned as ${what} (it was ${LABEL[t.event.unlearn]} before: unlearned first).` : `Learned as ${what}.`;
  const applied = t.applied.length > 0 ? ` Applied on ${t.applied.length} node${t.applied.length === 1 ? '' : 's'} (${t.applied.join(', ')}).` : '';
  const pending = t.pending.length > 0 ? ` Pending on ${t.pending.map((p) => (p.error ? `${p.node} (${p.error})` : p.node)).join(', ')}: applied when ${t.pending.length === 1 ? 'it catches' : 'they catch'} up.` : '';
  return `${head}${applied}${pending}`;
}

/**
 * "Mark as spam" / "Not spam" for a logged or quarantined message whose copy is kept: every
 * scanner's engines learn it (admin). Shows progress while the scanners apply it, then what
 * each did.
 */
export function LearnButtons({ nodeId, id }: { nodeId: string; id: string }) {
  const [busy, setBusy] = useState<'spam' | 'ham' | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const learn = async (as: 'spam' | 'ham') => {
    setBusy(as);
    setResult(null);
    try {
      const t = await api<Taught>('POST', `/messages/${encodeURIComponent(nodeId)}/${encodeURIComponent(id)}/learn`, { as });
      setResult({ ok: true, text: taughtText(t) });
    } catch (err) {
      setResult({ ok: false, text: describe(err) });
    } finally {
      setBusy(null);
    }
  };
  return (
    <div data-testid="learn">
      <div class="actions">
        <button type="button" disabled={busy !== null} onClick={() => learn('spam')}>Mark as spam</button>
        <button type="button" disabled={busy !== null} onClick={() => learn('ham')}>Not spam</button>
      </div>
      {busy && <p class="hint" role="status" data-testid="learn-progress">Teaching every scanner that this message is {LABEL[busy]}…</p>}
      {result && <p class={result.ok ? 'notice' : 'error'} role="status" data-testid="learn-result">{result.text}</p>}
    </div>
  );
}
