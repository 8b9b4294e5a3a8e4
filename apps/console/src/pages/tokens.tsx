import { useState } from 'preact/hooks';
import { api, describe } from '../lib/api.ts';
import { fieldErrors } from '../lib/field-errors.ts';
import { when } from '../lib/format.ts';
import { can } from '../lib/roles.ts';
import { useData } from '../lib/use-data.ts';
import { Field } from '../components/field.tsx';
import type { Me } from '../app.tsx';
import type { UserView } from './users.tsx';

interface TokenView {
  id: string;
  name: string;
  userId: number;
  username: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** API tokens: your own (an admin: everyone's, and may create one for another user). */
export function TokensPage({ me }: { me: Me }) {
  const admin = can.manageUsers(me.role);
  const tokens = useData(() => api<{ tokens: TokenView[] }>('GET', '/tokens'), []);
  const users = useData(() => (admin ? api<{ users: UserView[] }>('GET', '/users') : Promise.resolve(undefined)), [admin]);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);

  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const userId = f.get('userId');
    setBusy(true);
    setNotice('');
    try {
      const t = await api<TokenView & { token: string }>('POST', '/tokens', { name: String(f.get('name')), ...(userId ? { userId: Number(userId) } : {}) });
      setErrors({});
      setCreated({ name: t.name, token: t.token });
      form.reset();
      tokens.reload();
    } catch (err) {
      setErrors(fieldErrors(err, ['name', 'userId']));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (t: TokenView) => {
    if (!confirm(`Revoke the token "${t.name}" of ${t.username}? Anything using it stops working at once.`)) return;
    setNotice('');
    try {
      await api('DELETE', `/tokens/${t.id}`);
      setNotice(`Token "${t.name}" revoked.`);
    } catch (err) {
      setNotice(describe(err));
    }
    tokens.reload();
  };
  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.token);
      setNotice('Token copied to the clipboard.');
    } catch {
      setNotice('Select the token and copy it (Ctrl+C / ⌘C).');
    }
  };

  return (
    <section>
      <h1>API tokens {admin && <small>everyone's (you are an admin)</small>}</h1>
      <p class="hint">A token acts with its user's current role: <code>Authorization: Bearer moat_…</code>.</p>
      {tokens.error && <p class="error" role="alert">{tokens.error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      {created && (
        <div class="new-token" role="status" data-testid="new-token">
          <p><strong>Token "{created.name}" created.</strong> Copy it now: it is shown only this once and cannot be read again.</p>
          <label for="new-token-value">Token
            <input id="new-token-value" class="token-value" readOnly value={created.token} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} data-testid="token-value" />
          </label>
          <div class="actions">
            <button type="button" onClick={copy}>Copy</button>
            <button type="button" class="link" onClick={() => setCreated(null)}>I have stored it</button>
          </div>
        </div>
      )}
      <div class="table-wrap">
        <table data-testid="tokens">
          <thead><tr><th>Name</th><th>User</th><th>Id</th><th>Created</th><th>Last used</th><th>State</th><th /></tr></thead>
          <tbody>
            {tokens.data?.tokens.map((t) => (
              <tr data-token={t.name}>
                <td>{t.name}</td><td>{t.username}</td><td><code>{t.id}</code></td><td>{when(t.createdAt)}</td><td>{when(t.lastUsedAt)}</td>
                <td>{t.revokedAt ? <span class="pill bad" title={when(t.revokedAt)}>revoked</span> : <span class="pill ok">active</span>}</td>
                <td>{!t.revokedAt && <button type="button" class="small danger" onClick={() => revoke(t)}>Revoke</button>}</td>
              </tr>
            ))}
            {tokens.data?.tokens.length === 0 && <tr><td colSpan={7}>No tokens yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <form class="card-form" data-testid="create-token" onSubmit={create} noValidate>
        <h2>New token</h2>
        {errors[''] && <p class="error" role="alert">{errors['']}</p>}
        <div class="filters">
          <Field form="new-token" label="What it is for" name="name" error={errors.name}>
            {(a) => <input {...a} name="name" placeholder="prometheus" autocomplete="off" />}
          </Field>
          {admin && (
            <Field form="new-token" label="For user" name="userId" error={errors.userId}>
              {(a) => (
                <select {...a} name="userId">
                  <option value="">myself ({me.username})</option>
                  {users.data?.users.filter((u) => u.username !== me.username).map((u) => <option value={String(u.id)}>{u.username} ({u.role})</option>)}
                </select>
              )}
            </Field>
          )}
          <button type="submit" disabled={busy}>Create token</button>
        </div>
      </form>
    </section>
  );
}
