import { useState } from 'preact/hooks';
import { ApiError } from '../lib/api.ts';
import { api } from '../lib/api.ts';
import { fieldErrors } from '../lib/field-errors.ts';
import { Field } from '../components/field.tsx';
import type { Me } from '../app.tsx';

/**
 * Your own account: change your password (`POST /api/v1/auth/password`). The master checks the
 * current one (a wrong one counts like a failed sign-in), then ends your other sessions and
 * revokes your API tokens, which were trusted under the old password.
 */
export function AccountPage({ me }: { me: Me }) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);

  const change = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const newPassword = String(f.get('newPassword'));
    setNotice('');
    // Typed twice, so a slip of the finger does not lock the user out; the API checks the rest.
    if (newPassword !== String(f.get('repeat'))) return setErrors({ repeat: 'does not match the new password' });
    setBusy(true);
    try {
      await api('POST', '/auth/password', { currentPassword: String(f.get('currentPassword')), newPassword });
      setErrors({});
      form.reset();
      setNotice('Password changed. Your other sessions were ended and your API tokens revoked: sign in again elsewhere, and make new tokens where you need them.');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'MOAT_ERR_BAD_CREDENTIALS') setErrors({ currentPassword: 'this is not your current password' });
      else setErrors(fieldErrors(err, ['currentPassword', 'newPassword']));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>Your account <small>{me.username}, {me.role}</small></h1>
      <h2>Change your password</h2>
      {notice && <p class="notice" role="status" data-testid="notice">{notice}</p>}
      {errors[''] && <p class="error" role="alert">{errors['']}</p>}
      <form class="filters" data-testid="password-form" onSubmit={change}>
        <Field form="password" label="Current password" name="currentPassword" error={errors.currentPassword}>
          {(a) => <input {...a} name="currentPassword" type="password" autocomplete="current-password" required />}
        </Field>
        <Field form="password" label="New password (8 characters or more)" name="newPassword" error={errors.newPassword}>
          {(a) => <input {...a} name="newPassword" type="password" autocomplete="new-password" required />}
        </Field>
        <Field form="password" label="New password again" name="repeat" error={errors.repeat}>
          {(a) => <input {...a} name="repeat" type="password" autocomplete="new-password" required />}
        </Field>
        <button type="submit" disabled={busy}>Change password</button>
      </form>
      <p class="hint">Changing it signs you out everywhere else and revokes your API tokens; this session stays signed in.</p>
    </section>
  );
}
