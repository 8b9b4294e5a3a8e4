import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describe, query } from '../lib/api.ts';
import { when } from '../lib/format.ts';
import { can } from '../lib/roles.ts';
import { parseText, toText, type TextFormat } from '../lib/rules-text.ts';
import { useData } from '../lib/use-data.ts';
import { lineDiff, withContext } from '../lib/line-diff.ts';
import type { Me } from '../app.tsx';
import { RulesForm } from './rules-form.tsx';
import type { Doc } from '../lib/rules-form-model.ts';
import { describeStaleRules, isStaleRules } from '../lib/stale-rules.ts';
import { keepRulesDraft, sameDocument } from '../lib/message-test.ts';

interface Stored {
  version: number;
  createdAt: string;
  createdBy: string;
  comment: string;
  document: Record<string, unknown>;
}
type VersionInfo = Omit<Stored, 'document'>;

interface Problem {
  field: string;
  message: string;
  line: number | undefined;
}

type Mode = 'form' | TextFormat;

export function RulesPage({ me }: { me: Me }) {
  const admin = can.editRules(me.role);
  const current = useData(() => api<Stored>('GET', '/rules'), []);
  const history = useData(() => api<{ versions: VersionInfo[] }>('GET', '/rules/versions?limit=20'), []);
  const registry = useData(() => api<{ items: Array<{ name: string }> }>('GET', '/nodes'), []);
  const [mode, setMode] = useState<Mode>('form');
  /** The document being edited: the form edits it directly; the text editor's text is parsed into it on a switch or save. */
  const [draft, setDraft] = useState<Doc>({});
  const [text, setText] = useState('');
  const [comment, setComment] = useState('');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [notice, setNotice] = useState('');
  /** A save refused because the rules changed since this page loaded them (409 MOAT_ERR_STALE_RULES). */
  const [stale, setStale] = useState<{ headline: string; lines: string[] } | undefined>(undefined);

  useEffect(() => {
    if (!current.data) return;
    setStale(undefined);
    const { version: _v, ...doc } = current.data.document;
    setDraft(doc);
    if (mode !== 'form') setText(toText(doc, mode));
  }, [current.data]);

  // Nothing can be typed before the stored rules have loaded: their arrival resets the editor.
  const editable = admin && current.data !== undefined;
  const reload = () => (current.reload(), history.reload());

  /** The document as it stands in whichever editor is showing (or the text's parse error). */
  const edited = (): { doc: Doc } | { error: string } => {
    if (mode === 'form') return { doc: draft };
    const parsed = parseText(text);
    if (parsed.error !== undefined) return { error: parsed.error };
    if (parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) return { error: 'the rules document must be a mapping of keys' };
    return { doc: parsed.value as Doc };
  };

  // The unsaved edit, kept in this tab for "Test a message" (its "draft in the rules editor").
  const [unsaved, setUnsaved] = useState(false);
  useEffect(() => {
    if (!current.data || !admin) return;
    const now = edited();
    if ('error' in now) return;
    const differs = !sameDocument(now.doc, current.data.document);
    keepRulesDraft(sessionStorage, differs ? now.doc : undefined, current.data.version);
    setUnsaved(differs);
  }, [draft, text, mode, current.data]);

  const switchTo = (next: Mode) => {
    const now = edited();
    if ('error' in now) return setProblems([{ field: '(text)', message: `${now.error}: fix the text before switching`, line: undefined }]);
    setDraft(now.doc);
    if (next !== 'form') setText(toText(now.doc, next));
    setMode(next);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setNotice('');
    setStale(undefined);
    const now = edited();
    if ('error' in now) return setProblems([{ field: '(text)', message: now.error, line: undefined }]);
    const lineOf = mode === 'form' ? () => undefined : parseText(text).lineOf;
    try {
      // The version this edit started from: the master keeps end users' list changes made since,
      // and refuses (409) a save over another admin's change instead of undoing it.
      const saved = await api<VersionInfo>('PUT', `/rules${query({ comment, baseVersion: current.data?.version })}`, now.doc);
      setProblems([]);
      setComment('');
      setNotice(`Saved as version ${saved.version}; pushed to the nodes.`);
      reload();
    } catch (err) {
      if (err instanceof ApiError && isStaleRules(err.code, err.details)) {
        setStale(describeStaleRules(err.details));
      } else if (err instanceof ApiError && err.fieldProblems.length > 0) {
        setProblems(err.fieldProblems.map((p) => ({ ...p, line: lineOf(p.field) })));
        setNotice('Nothing was saved: fix the fields marked in red.');
      } else setProblems([{ field: '', message: describe(err), line: undefined }]);
    }
  };

  const rollback = async (version: number) => {
    if (!confirm(`Roll back to version ${version}? It is stored as a new version.`)) return;
    try {
      const saved = await api<VersionInfo>('POST', `/rules/versions/${version}/rollback`);
      setNotice(`Rolled back: version ${saved.version} has the document of version ${version}.`);
      reload();
    } catch (err) {
      setNotice(describe(err));
    }
  };

  return (
    <section>
      <h1>Rules {current.data && <small data-testid="current-version">version {current.data.version}</small>}</h1>
      {current.data && <p class="hint">Stored {when(current.data.createdAt)} by {current.data.createdBy}{current.data.comment ? `: ${current.data.comment}` : ''}</p>}
      {current.error && <p class="error" role="alert">{current.error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      {stale && (
        <div class="error" role="alert" data-testid="stale-rules">
          <p>{stale.headline}</p>
          <ul>{stale.lines.map((l) => <li>{l}</li>)}</ul>
          <button type="button" onClick={reload}>Load the current version</button>
        </div>
      )}
      <form class="rules-editor" onSubmit={save}>
        <div class="row">
          <label>Editor
            <select name="mode" value={mode} onChange={(e) => switchTo((e.currentTarget as HTMLSelectElement).value as Mode)}>
              <option value="form">Form</option><option value="yaml">YAML text</option><option value="json">JSON text</option>
            </select>
          </label>
          {admin && <label class="grow">Comment <input name="comment" value={comment} maxLength={500} onInput={(e) => setComment((e.currentTarget as HTMLInputElement).value)} /></label>}
        </div>
        {mode === 'form' ? (
          <RulesForm doc={draft} problems={problems.filter((p) => p.field !== '(text)')} readOnly={!editable} registry={registry.data?.items.map((n) => n.name) ?? []} onChange={setDraft} />
        ) : (
          <div class="editor">
            <textarea name="document" aria-label="Rules document" spellcheck={false} readOnly={!editable} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} aria-invalid={problems.length > 0} aria-describedby="rules-problems" />
            <ul id="rules-problems" class="problems" data-testid="problems">
              {problems.map((p) => (
                <li><code>{p.field || 'document'}</code>{p.line !== undefined ? ` (line ${p.line})` : ''}: {p.message}</li>
              ))}
            </ul>
          </div>
        )}
        {mode === 'form' && problems.some((p) => p.field === '(text)' || p.field === '') && (
          <ul class="problems">{problems.filter((p) => p.field === '(text)' || p.field === '').map((p) => <li>{p.message}</li>)}</ul>
        )}
        {admin ? (
          <div class="actions">
            <button type="submit">Save new version</button>
            {unsaved && <a class="button secondary" href="#/test" data-testid="test-draft">Test a message with this draft</a>}
          </div>
        ) : <p class="hint">Only an admin can change the rules.</p>}
      </form>
      <h2>History</h2>
      <div class="table-wrap">
        <table data-testid="history">
          <thead><tr><th>Version</th><th>Stored</th><th>By</th><th>Comment</th><th /></tr></thead>
          <tbody>
            {history.data?.versions.map((v) => (
              <tr>
                <td>{v.version}</td><td>{when(v.createdAt)}</td><td>{v.createdBy}</td><td>{v.comment}</td>
                <td>{admin && v.version !== current.data?.version && <button type="button" class="small" onClick={() => rollback(v.version)}>Roll back to {v.version}</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {history.data && history.data.versions.length > 1 && <RulesDiff versions={history.data.versions.map((v) => v.version)} />}
    </section>
  );
}

/** Two versions' documents as pretty JSON, compared line by line. */
function RulesDiff({ versions }: { versions: number[] }) {
  const [from, setFrom] = useState(versions[1] ?? versions[0]!);
  const [to, setTo] = useState(versions[0]!);
  const [shown, setShown] = useState<{ from: number; to: number } | null>(null);
  const diff = useData(async () => {
    if (!shown) return undefined;
    const [a, b] = await Promise.all([shown.from, shown.to].map((v) => api<Stored>('GET', `/rules/versions/${v}`)));
    const lines = (d: Stored) => JSON.stringify(d.document, null, 2).split('\n');
    return withContext(lineDiff(lines(a!), lines(b!)));
  }, [shown]);
  const pick = (set: (v: number) => void) => (e: Event) => set(Number((e.currentTarget as HTMLSelectElement).value));
  return (
    <>
      <h2>Compare versions</h2>
      <form class="filters" onSubmit={(e) => (e.preventDefault(), setShown({ from, to }))}>
        <label>From <select name="from" value={String(from)} onChange={pick(setFrom)}>{versions.map((v) => <option value={String(v)}>{v}</option>)}</select></label>
        <label>To <select name="to" value={String(to)} onChange={pick(setTo)}>{versions.map((v) => <option value={String(v)}>{v}</option>)}</select></label>
        <button type="submit">Show diff</button>
      </form>
      {diff.error && <p class="error" role="alert">{diff.error}</p>}
      {shown && diff.data && (
        <div class="diff" data-testid="rules-diff" aria-label={`Changes from version ${shown.from} to ${shown.to}`} role="region">
          {diff.data.every((l) => l.op === ' ' || l.op === '…') ? <div class="gap">The two versions have the same document.</div> : diff.data.map((l) => (
            <div class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : l.op === '…' ? 'gap' : ''}>{l.op === '…' ? `… ${l.text}` : `${l.op} ${l.text}`}</div>
          ))}
        </div>
      )}
    </>
  );
}
