import { useState } from 'preact/hooks';
import { api, apiText, ApiError, describe } from '../lib/api.ts';
import { bytes, when } from '../lib/format.ts';
import { useParsedMessage } from '../lib/mime.ts';
import { splitRecipients } from '../lib/recipients.ts';
import { useData } from '../lib/use-data.ts';
import { MessageView } from './message-view.tsx';

export interface Retained {
  status: 'kept' | 'expired';
  size: number;
  expiredAt: string | null;
  reason: string | null;
}

/**
 * A log entry's retained copy on its node: the same safe viewer as the quarantine, a download,
 * and re-delivery to the original or typed recipients. Operators only (the API agrees); an
 * auditor is told the copy exists.
 */
export function RetainedCopy({ path, nodeName, retained, operator }: { path: string; nodeName: string; retained: Retained | null; operator: boolean }) {
  if (!retained) return <p class="hint" data-testid="retained-none">No copy of this message was kept (retention was off for its verdict, or it was rejected).</p>;
  if (retained.status === 'expired') {
    const why = retained.reason === 'budget' ? 'removed to stay within the disk budget' : 'past the retention period';
    return <p class="hint" data-testid="retained-expired">Copy expired: {why}{retained.expiredAt ? `, ${when(retained.expiredAt)}` : ''}. It can no longer be viewed or re-delivered.</p>;
  }
  if (!operator) return <p class="hint" data-testid="retained-kept">A copy ({bytes(retained.size)}) is kept on {nodeName}; an operator can view and re-deliver it.</p>;
  return <KeptCopy path={path} nodeName={nodeName} size={retained.size} />;
}

function KeptCopy({ path, nodeName, size }: { path: string; nodeName: string; size: number }) {
  const raw = useData(() => apiText(`${path}/raw`), [path]);
  const [others, setOthers] = useState('');
  const [notice, setNotice] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);
  const redeliver = async (rcptTo?: string[]) => {
    setBusy(true);
    setNotice('');
    setProblem('');
    try {
      const done = await api<{ queueId: string; rcptTo: string[] }>('POST', `${path}/redeliver`, rcptTo ? { rcptTo } : {});
      setNotice(`Queued again on ${nodeName} for ${done.rcptTo.join(', ')} (queue id ${done.queueId}).`);
      if (rcptTo) setOthers('');
    } catch (err) {
      setProblem(explain(err, rcptTo ?? []));
    } finally {
      setBusy(false);
    }
  };
  const typed = splitRecipients(others);
  const msg = useParsedMessage(typeof raw.data === 'string' ? raw.data : undefined);
  return (
    <div data-testid="retained-copy">
      <p class="hint">A copy ({bytes(size)}, as it arrived) is kept on {nodeName}.</p>
      <div class="actions">
        <button type="button" disabled={busy} onClick={() => redeliver()} data-testid="redeliver-original">Re-deliver to the original recipients</button>
        <a class="button" href={`/api/v1${path}/raw`} download={`${path.split('/').at(-1)}.eml`}>Download .eml</a>
      </div>
      <form class="actions" onSubmit={(e) => (e.preventDefault(), typed.length > 0 && redeliver(typed))}>
        <label for="redeliver-to">Re-deliver to</label>
        <input id="redeliver-to" name="rcptTo" placeholder="someone@example.test, …" value={others} onInput={(e) => setOthers((e.target as HTMLInputElement).value)} aria-invalid={problem !== ''} data-testid="redeliver-to" />
        <button type="submit" disabled={busy || typed.length === 0} data-testid="redeliver-other">Re-deliver</button>
      </form>
      {notice && <p class="notice" role="status" data-testid="redeliver-notice">{notice}</p>}
      {problem && <p class="error" role="alert" data-testid="redeliver-error">{problem}</p>}
      {raw.error && <p class="error" role="alert" data-testid="raw-error">{raw.error}</p>}
      {msg && <MessageView msg={msg} />}
    </div>
  );
}

/** A refused re-delivery in words; a bad recipient is named by what was typed. */
function explain(err: unknown, typed: string[]): string {
  if (err instanceof ApiError && err.fieldProblems.length > 0) {
    return err.fieldProblems.map((p) => {
      const i = /^body\.rcptTo\.(\d+)$/.exec(p.field);
      return i ? `${typed[Number(i[1])] ?? p.field}: ${p.message}` : `${p.field}: ${p.message}`;
    }).join('; ');
  }
  return describe(err);
}
