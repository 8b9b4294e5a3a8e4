import { useState } from 'preact/hooks';
import { api, describe, type Role } from '../lib/api.ts';
import { fieldErrors } from '../lib/field-errors.ts';
import { when } from '../lib/format.ts';
import { can } from '../lib/roles.ts';
import { useData } from '../lib/use-data.ts';
import { Field } from '../components/field.tsx';
import type { Me } from '../app.tsx';

export interface UserView {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
}

const ROLES: Role[] = ['auditor', 'operator', 'admin'];

/** Shown instead of a page the signed-in role may not open (the API refuses it anyway). */
export function NeedsRole({ role, me, what }: { role: Role; me: Me; what: string }) {
  return (
    <section>
      <h1>{what}</h1>
      <p class="error" role="alert" data-testid="needs-role">
        This page needs the {role} role. You are signed in as {me.username} with the {me.role} role.
      </p>
      <p><a href="#/dashboard">Back to the dashboard</a></p>
    </section>
  );
}

/** Users (admin only): list, create with a role, change role, reset password, disable/enable, delete. */
export function UsersPage({ me }: { me: Me }) {
  return can.manageUsers(me.role) ? <UsersAdmin me={me} /> : <NeedsRole role="admin" me={me} what="Users" />;
}

function UsersAdmin({ me }: { me: Me }) {
  const users = useData(() => api<{ users: UserView[] }>('GET', '/users'), []);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState('');
  const [resetFor, setResetFor] = useState<UserView | null>(null);

  const change = async (u: UserView, body: Partial<{ role: Role; disabled: boolean }>, what: string) => {
    setNotice('');
    setError('');
    try {
      await api('PATCH', `/users/${u.id}`, body);
      setNotice(`${u.username}: ${what}.`);
    } catch (err) {
      setError(`${u.username}: ${describe(err)}`);
    }
    users.reload();
  };
  const remove = async (u: UserView) => {
    if (!confirm(`Delete user ${u.username}, with their sessions and tokens? The audit log keeps the name.`)) return;
    setNotice('');
    setError('');
    try {
      await api('DELETE', `/users/${u.id}`);
      setNotice(`${u.username} deleted.`);
    } catch (err) {
      setError(`${u.username}: ${describe(err)}`);
    }
    users.reload();
  };

  return (
    <section>
      <h1>Users</h1>
      {users.error && <p class="error" role="alert">{users.error}</p>}
      {error && <p class="error" role="alert" data-testid="error">{error}</p>}
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      <div class="table-wrap">
        <table data-testid="users">
          <thead><tr><th>User</th><th>Role</th><th>State</th><th>Created</th><th>Actions</th></tr></thead>
          <tbody>
            {users.data?.users.map((u) => (
              <tr data-user={u.username}>
                <td>{u.username}{u.username === me.username ? ' (you)' : ''}</td>
                <td>
                  <select aria-label={`Role of ${u.username}`} name="role" value={u.role} onChange={(e) => change(u, { role: (e.currentTarget as HTMLSelectElement).value as Role }, `role changed to ${(e.currentTarget as HTMLSelectElement).value}`)}>
                    {ROLES.map((r) => <option value={r}>{r}</option>)}
                  </select>
                </td>
                <td><span class={u.disabled ? 'pill bad' : 'pill ok'}>{u.disabled ? 'disabled' : 'enabled'}</span></td>
                <td>{when(u.createdAt)}</td>
                <td class="row-actions">
                  <button type="button" class="small" onClick={() => setResetFor(u)}>Reset password</button>
                  <button type="button" class="small" onClick={() => change(u, { disabled: !u.disabled }, u.disabled ? 'enabled' : 'disabled; their sessions ended')}>{u.disabled ? 'Enable' : 'Disable'}</button>
                  {u.username !== me.username && <button type="button" class="small danger" onClick={() => remove(u)}>Delete</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {resetFor && <ResetPassword key={resetFor.id} user={resetFor} onDone={(msg) => (setResetFor(null), msg && setNotice(msg))} />}
      <CreateUser onCreated={(u) => (setNotice(`Created ${u.username} (${u.role}).`), users.reload())} />
    </section>
  );
}

function CreateUser({ onCreated }: { onCreated: (u: UserView) => void }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    setBusy(true);
    try {
      const u = await api<UserView>('POST', '/users', { username: String(f.get('username')), password: String(f.get('password')), role: String(f.get('role')) });
      setErrors({});
      form.reset();
      onCreated(u);
    } catch (err) {
      setErrors(fieldErrors(err, ['username', 'password', 'role']));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card-form" data-testid="create-user" onSubmit={submit} noValidate>
      <h2>New user</h2>
      {errors[''] && <p class="error" role="alert">{errors['']}</p>}
      <div class="filters">
        <Field form="new-user" label="User name" name="username" error={errors.username}>
          {(a) => <input {...a} name="username" autocomplete="off" />}
        </Field>
        <Field form="new-user" label="Password (8 characters or more)" name="password" error={errors.password}>
          {(a) => <input {...a} name="password" type="password" autocomplete="new-password" />}
        </Field>
        <Field form="new-user" label="Role" name="role" error={errors.role}>
          {(a) => <select {...a} name="role">{ROLES.map((r) => <option value={r}>{r}</option>)}</select>}
        </Field>
        <button type="submit" disabled={busy}>Create user</button>
      </div>
    </form>
  );
}

function ResetPassword({ user, onDone }: { user: UserView; onDone: (notice?: string) => void }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    const password = String(new FormData(e.currentTarget as HTMLFormElement).get('password'));
    try {
      await api('PATCH', `/users/${user.id}`, { password });
      onDone(`${user.username}: password reset; their sessions ended.`);
    } catch (err) {
      setErrors(fieldErrors(err, ['password']));
    }
  };
  return (
    <form class="card-form" data-testid="reset-password" onSubmit={submit} noValidate>
      <h2>Reset the password of {user.username}</h2>
      {errors[''] && <p class="error" role="alert">{errors['']}</p>}
      <div class="filters">
        <Field form="reset" label="New password" name="password" error={errors.password}>
          {(a) => <input {...a} name="password" type="password" autocomplete="new-password" autofocus />}
        </Field>
        <button type="submit">Set password</button>
        <button type="button" class="link" onClick={() => onDone()}>Cancel</button>
      </div>
    </form>
  );
}
