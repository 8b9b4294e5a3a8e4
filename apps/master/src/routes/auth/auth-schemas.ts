import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.ts';

export const RoleSchema = Type.Enum(['auditor', 'operator', 'admin'], {
  description: 'auditor: reads everything; operator: also handles quarantine and queues; admin: also rules, users and all tokens.',
});

export const Username = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9._@-]+$',
  description: 'Sign-in name: letters, digits and `. _ @ -`; case-insensitive.',
});

/** The login route takes any name the first admin may have been given in the config file. */
export const LoginUsername = Type.String({ minLength: 1, maxLength: 64, description: 'Sign-in name (case-insensitive).' });

export const NewPassword = Type.String({ minLength: 8, maxLength: 1024, description: 'At least 8 characters; stored only as a scrypt hash.' });

export const LoginBody = Type.Object(
  {
    username: LoginUsername,
    password: Type.String({ minLength: 1, maxLength: 1024, description: 'The password; never logged or audited.' }),
  },
  { additionalProperties: false },
);

export const LoginResult = Type.Object({
  username: Type.String({ description: 'The signed-in user, as stored.' }),
  role: RoleSchema,
  expiresAt: Timestamp('When the session ends (absolute; no renewal).'),
});

export const MeResult = Type.Object({
  userId: Type.Integer({ description: 'The user id.' }),
  username: Type.String({ description: 'The user name.' }),
  role: RoleSchema,
  via: Type.String({ description: '`session`, or `token:<id>` for an API token.' }),
});

export const PasswordChangeBody = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 1024, description: 'The password in use now.' }),
    newPassword: NewPassword,
  },
  { additionalProperties: false },
);
