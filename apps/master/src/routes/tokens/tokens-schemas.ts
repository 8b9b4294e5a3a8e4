import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.ts';
import { RoleSchema } from '../auth/auth-schemas.ts';

export const TokenSchema = Type.Object({
  id: Type.String({ description: 'Public token id (the `<id>` in `moat_<id>_<secret>`).' }),
  name: Type.String({ description: 'What the token is for.' }),
  userId: Type.Integer({ description: 'The user the token acts as.' }),
  role: Type.String({ description: 'The most the token may do: it acts with the lower of this and its user\'s current role.' }),
  expiresAt: Timestamp('When it stops working.'),
  parentId: Type.Union([Type.String(), Type.Null()], { description: 'The token it was made with (revoking that one revokes this one); null when made from a signed-in session.' }),
  username: Type.String({ description: 'That user\'s name.' }),
  createdAt: Timestamp('When the token was created.'),
  lastUsedAt: NullableTimestamp('Last use, to the minute; null if never used.'),
  revokedAt: NullableTimestamp('When it was revoked; null while it works.'),
});

export const CreatedTokenSchema = Type.Object({
  ...TokenSchema.properties,
  token: Type.String({ description: 'The token itself, `moat_<id>_<secret>`. Shown only in this answer: store it now.' }),
});

export const CreateTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'What the token is for, e.g. `prometheus`.' }),
    userId: Type.Optional(Type.Integer({ minimum: 1, description: 'Admins only: create the token for this user (e.g. an auditor account for Prometheus). Default: yourself.' })),
    role: Type.Optional(Type.Union([Type.Literal('auditor'), Type.Literal('operator'), Type.Literal('admin')], { description: 'The most the token may do; at most your own role (else 403). Default: the lower of yours and its user\'s. `auditor` is read-only (e.g. a metrics scraper).' })),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 1825, description: 'Its life in days: default 90; at most 90 for an operator or admin token, 1825 for an auditor (read-only) token. A token made with a token never outlives it.' })),
  },
  { additionalProperties: false },
);

export const TokenParams = Type.Object(
  { id: Type.String({ pattern: '^[a-f0-9]{16}$', description: 'Token id.' }) },
  { additionalProperties: false },
);
