import { useState } from 'preact/hooks';
import { api, ApiError } from '../lib/api.ts';
import { useData } from '../lib/use-data.ts';
import { Field } from '../components/field.tsx';
import { fieldErrors } from '../lib/field-errors.ts';
import { splitRecipients } from '../lib/recipients.ts';
import { parseText } from '../lib/rules-text.ts';
import { bytes, when } from '../lib/format.ts';
import { visibleText } from '../lib/visible-text.ts';
import { readRulesDraft, scoreBars, thresholdMarks, toBase64, type TestAnswer } from '../lib/message-test.ts';

type Source = 'paste' | 'log';
type RulesChoice = 'current' | 'editor' | 'pasted';
const FIELDS = ['message', 'messageBase64', 'fromLog', 'clientIp', 'helo', 'mailFrom', 'rcptTo', 'rules', 'node'];
const STAGE: Record<string, string> = { connect: 'Connect', mail: 'MAIL FROM', rcpt: 'RCPT TO', data: 'DATA' };

/**
 * "What would happen to this message?": a message pasted, uploaded or taken from the log, with
 * an envelope, run by a scanner through its pipeline as a dry run under the current rules or a
 * draft (the rules editor's unsaved edit, or one pasted here). The answer lists every envelope
 * check, every reason with its score as a bar, and the verdict. Nothing is stored or sent.
 */
export function MessageTestPage({ logRef }: { logRef: { nodeId: string; id: string } | undefined }) {
  const rules = useData(() => api<{ version: number }>('GET', '/rules'), []);
  const nodes = useData(() => api<{ items: Array<{ id: string; name: string; online: boolean }> }>('GET', '/nodes'), []);
  const editorDraft = readRulesDraft(sessionStorage);
  const [source, setSource] = useState<Source>(logRef ? 'log' : 'paste');
  const [text, setText] = useState('');
  const [upload, setUpload] = useState<{ name: string; base64: string; size: number } | undefined>(undefined);
  const [fromLog, setFromLog] = useState(logRef ? `${logRef.nodeId}/${logRef.id}` : '');
  const [env, setEnv] = useState({ clientIp: logRef ? '' : '192.0.2.1', helo: logRef ? '' : 'client.example', mailFrom: '', rcptTo: '' });
  const [rulesChoice, setRulesChoice] = useState<RulesChoice>('current');
  const [pasted, setPasted] = useState('');
  const [node, setNode] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState<TestAnswer | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const onFile = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return setUpload(undefined);
    setUpload({ name: file.name, size: file.size, base64: toBase64(new Uint8Array(await file.arrayBuffer())) });
  };

  const run = async (e: Event) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    const body: Record<string, unknown> = {};
    if (source === 'paste') {
      if (upload) body['messageBase64'] = upload.base64;
      else if (text.trim() !== '') body['message'] = text.replace(/\r?\n/g, '\r\n');
      else local['message'] = 'paste a message or choose a file';
    } else {
      const [nodeId, id] = fromLog.trim().split('/');
      if (!nodeId || !id) local['fromLog'] = 'node id / message id, as in the message\'s address (#/messages/<node>/<id>)';
      else body['fromLog'] = { nodeId, id };
    }
    const envelope: Record<string, unknown> = {};
    if (env.clientIp.trim()) envelope['clientIp'] = env.clientIp.trim();
    if (env.helo.trim()) envelope['helo'] = env.helo.trim();
    if (env.mailFrom.trim() || source === 'paste') envelope['mailFrom'] = env.mailFrom.trim().replace(/^<|>$/g, '');
    if (env.rcptTo.trim()) envelope['rcptTo'] = splitRecipients(env.rcptTo);
    body['envelope'] = envelope;
    if (rulesChoice === 'editor') {
      if (!editorDraft) local['rules'] = 'the rules editor has no unsaved draft in this tab';
      else body['rules'] = editorDraft.document;
    } else if (rulesChoice === 'pasted') {
      const parsed = parseText(pasted);
      if (parsed.error !== undefined) local['rules'] = parsed.error;
      else if (parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) local['rules'] = 'the rules document must be a mapping of keys';
      else body['rules'] = parsed.value;
    }
    if (node) body['node'] = node;
    if (Object.keys(local).length > 0) return setErrors(local);
    setBusy(true);
    setAnswer(undefined);
    try {
      setAnswer(await api<TestAnswer>('POST', '/messages/test', body));
      setErrors({});
    } catch (err) {
      const byField = fieldErrors(err, FIELDS.concat('envelope'));
      // `body.envelope.rcptTo` → the RCPT TO input; `body.rules.content.0.regex` → under the rules choice, with its key.
      if (err instanceof ApiError) {
        for (const p of err.fieldProblems) {
          const m = /^body\.envelope\.(\w+)/.exec(p.field);
          if (m) byField[m[1]!] = p.message;
          const r = /^body\.rules\.(.+)$/.exec(p.field);
          if (r) byField['rules'] = `${byField['rules'] && byField['rules'] !== p.message ? `${byField['rules']}; ` : ''}${r[1]}: ${p.message}`;
        }
        delete byField['envelope'];
      }
      setErrors(byField);
    } finally {
      setBusy(false);
    }
  };

  const input = (key: keyof typeof env, placeholder: string) => (a: { id: string; 'aria-invalid': boolean }) => (
    <input {...a} name={key} value={env[key]} placeholder={placeholder} onInput={(e) => setEnv({ ...env, [key]: (e.currentTarget as HTMLInputElement).value })} />
  );

  return (
    <section>
      <h1>Test a message</h1>
      <p class="hint">What would happen to this message: a scanner runs it through every check, rule, list and engine as a dry run (nothing is stored, delivered, quarantined, logged or learned) and says why. Greylisting and recipient verification are not run (<a href="#/domains">test an address</a> there).</p>
      <form class="card-form message-test" onSubmit={run} data-testid="message-test-form">
        {errors[''] && <p class="error" role="alert">{errors['']}</p>}
        <fieldset>
          <legend>Message</legend>
          <div class="choices">
            <label class="choice"><input type="radio" name="source" checked={source === 'paste'} onChange={() => setSource('paste')} /> Paste or upload</label>
            <label class="choice"><input type="radio" name="source" checked={source === 'log'} onChange={() => setSource('log')} /> From the message log</label>
          </div>
          {source === 'paste' ? (
            <>
              <Field label="Message (headers, a blank line, the body)" name="message" error={errors['message'] ?? errors['messageBase64']} form="mt">
                {(a) => <textarea {...a} name="message" rows={10} value={text} disabled={upload !== undefined} placeholder={'From: someone@example.net\nTo: user@example.com\nSubject: Hello\n\nHi!'} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />}
              </Field>
              <div class="filters">
                <label>Or upload a file (.eml)<input type="file" name="upload" accept=".eml,message/rfc822,text/plain" onChange={onFile} /></label>
                {upload && <span class="hint" data-testid="upload">{upload.name}, {bytes(upload.size)} <button type="button" class="link" onClick={() => setUpload(undefined)}>use the text instead</button></span>}
              </div>
            </>
          ) : (
            <Field label="Logged message (node id / message id): its kept copy, and its envelope unless you give one" name="fromLog" error={errors['fromLog']} form="mt">
              {(a) => <input {...a} name="fromLog" value={fromLog} size={44} placeholder="a1b2c3d4e5f60718/0123456789ABCDEFGHIJ" onInput={(e) => setFromLog((e.currentTarget as HTMLInputElement).value)} />}
            </Field>
          )}
        </fieldset>
        <fieldset>
          <legend>Envelope{source === 'log' ? ' (empty: as logged)' : ''}</legend>
          <div class="filters">
            <Field label="Client address" name="clientIp" error={errors['clientIp']} form="mt">{input('clientIp', '192.0.2.1')}</Field>
            <Field label="HELO" name="helo" error={errors['helo']} form="mt">{input('helo', 'mail.example.net')}</Field>
            <Field label="MAIL FROM (empty: <>)" name="mailFrom" error={errors['mailFrom']} form="mt">{input('mailFrom', 'sender@example.net')}</Field>
            <Field label="RCPT TO (one or more)" name="rcptTo" error={errors['rcptTo']} form="mt">{input('rcptTo', 'user@example.com')}</Field>
          </div>
        </fieldset>
        <fieldset>
          <legend>Rules</legend>
          <div class="choices">
            <label class="choice"><input type="radio" name="rules" checked={rulesChoice === 'current'} onChange={() => setRulesChoice('current')} /> The current rules{rules.data ? ` (version ${rules.data.version})` : ''}</label>
            <label class="choice"><input type="radio" name="rules" checked={rulesChoice === 'editor'} disabled={!editorDraft} onChange={() => setRulesChoice('editor')} /> The draft in the rules editor{editorDraft ? ` (edited from version ${editorDraft.baseVersion ?? '?'}, ${when(editorDraft.at)})` : ' (none: edit the rules without saving)'}</label>
            <label class="choice"><input type="radio" name="rules" checked={rulesChoice === 'pasted'} onChange={() => setRulesChoice('pasted')} /> A draft pasted here</label>
          </div>
          {rulesChoice === 'pasted' && (
            <Field label="Rules document (YAML or JSON, as the rules editor's text)" name="rules" error={errors['rules']} form="mt">
              {(a) => <textarea {...a} name="rules-text" rows={8} value={pasted} onInput={(e) => setPasted((e.currentTarget as HTMLTextAreaElement).value)} />}
            </Field>
          )}
          {rulesChoice !== 'pasted' && errors['rules'] && <p class="field-error" data-field-error="rules">{errors['rules']}</p>}
        </fieldset>
        <div class="filters">
          <Field label="Scanner" name="node" error={errors['node']} form="mt">
            {(a) => (
              <select {...a} name="node" value={node} onChange={(e) => setNode((e.currentTarget as HTMLSelectElement).value)}>
                <option value="">Any online scanner</option>
                {nodes.data?.items.map((n) => <option value={n.id} disabled={!n.online}>{n.name}{n.online ? '' : ' (offline)'}</option>)}
              </select>
            )}
          </Field>
          <button type="submit" disabled={busy} data-testid="run-test">{busy ? 'Testing…' : 'Test'}</button>
        </div>
      </form>
      {answer && <TestResult answer={answer} />}
    </section>
  );
}

function TestResult({ answer }: { answer: TestAnswer }) {
  const v = answer.verdict;
  const bars = scoreBars(v.reasons, v.thresholds.reject);
  const marks = thresholdMarks(v.thresholds, v.reasons);
  const ended = answer.refusedAt ? answer.envelope.find((s) => !s.ok && s.stage === answer.refusedAt) : undefined;
  const pill = (action: string) => (action === 'deliver' ? 'pill ok' : action === 'tag' ? 'pill' : 'pill bad');
  return (
    <div class="test-result" data-testid="test-result">
      <h2>Verdict</h2>
      <dl class="facts">
        {ended && (<><dt>Refused at</dt><dd data-testid="refused-at"><strong>{STAGE[ended.stage]}</strong>: <code>{ended.reply}</code> — the message would never reach the content checks below</dd></>)}
        <dt>Verdict</dt>
        <dd><span class={pill(v.action)} data-testid="test-verdict">{v.action}</span> score <strong data-testid="test-score">{v.score}</strong> (tag at {v.thresholds.tag}, quarantine at {v.thresholds.quarantine}, reject at {v.thresholds.reject}){v.allowed ? ', decided by an allow-list' : ''}</dd>
        <dt>After DATA</dt><dd><code data-testid="test-reply">{v.reply}</code></dd>
        {answer.tempFail && (<><dt>Engine down</dt><dd class="behind">{answer.tempFail.analyzer}: {answer.tempFail.detail}</dd></>)}
        <dt>Rules</dt><dd data-testid="test-rules">{answer.rules === 'draft' ? 'the draft (not saved)' : `version ${answer.rules}`}</dd>
        <dt>Detection model</dt><dd>{answer.modelVersion}</dd>
        <dt>Run on</dt><dd>{answer.node}; analyzers: {answer.analyzers.length > 0 ? answer.analyzers.join(', ') : 'none configured'}</dd>
        <dt>Message</dt><dd>{answer.message.subject || '(no subject)'}, {bytes(answer.message.size)}, {answer.message.attachments} attachment{answer.message.attachments === 1 ? '' : 's'}</dd>
      </dl>
      <h2>What fired</h2>
      {bars.length === 0 ? <p class="hint" data-testid="no-reasons">No rule, list or engine fired: nothing counted against this message.</p> : (
        <div class="table-wrap">
          <table data-testid="test-reasons">
            <thead><tr><th>Filter</th><th>Rule or signal</th><th>Matched</th><th>Asked for</th><th class="score-col">Score</th></tr></thead>
            <tbody>
              {bars.map(({ reason: r, percent, negative }) => (
                <tr data-rule={r.rule}>
                  <td>{r.kind}</td>
                  <td>{visibleText(r.rule)}</td>
                  <td class="why">{visibleText(r.match)}</td>
                  <td>{r.action ?? '—'}</td>
                  <td class="score-col">
                    {r.score === undefined ? <span class="hint">no score</span> : (
                      <div class="score-bar" title={`${r.score} of the reject threshold ${v.thresholds.reject}`}>
                        <span class={negative ? 'fill negative' : 'fill'} style={{ width: `${percent}%` }} data-testid="score-fill" />
                        <span class="value">{r.score > 0 ? `+${r.score}` : r.score}</span>
                      </div>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="hint thresholds">Bars are to one scale: {marks.map((m) => `${m.name} at ${m.at}`).join(', ')}; a green bar lowers the score.</p>
        </div>
      )}
      <h2>Envelope checks</h2>
      <div class="table-wrap">
        <table data-testid="test-envelope">
          <thead><tr><th>Stage</th><th>Checked</th><th>Reply</th><th>Why</th></tr></thead>
          <tbody>
            {answer.envelope.map((s) => (
              <tr data-stage={s.stage}>
                <td>{STAGE[s.stage] ?? s.stage}</td>
                <td>{visibleText(s.subject)}</td>
                <td><span class={s.ok ? 'pill ok' : 'pill bad'}>{s.ok ? 'accepted' : 'refused'}</span> <code>{s.reply}</code></td>
                <td class="why">{s.reason ? `${s.reason.rule}: ${visibleText(s.reason.match)}` : s.allowed ? 'allow-listed' : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

