import { Type } from 'typebox';
import { NullableTimestamp, Timestamp } from '../../http/schemas.ts';

export const TokenSchema = Type.Object({
  id: Type.String({ description: 'Public token id (the `<id>` in `moat_<id>_<secret>`).' }),
  name: Type.String({ description: 'What the token is for.' }),
  userId: Type.Integer({ description: 'The user the token acts as (with that user\'s current role).' }),
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
  },
  { additionalProperties: false },
);

export const TokenParams = Type.Object(
  { id: Type.String({ pattern: '^[a-f0-9]{16}$', description: 'Token id.' }) },
  { additionalProperties: false },
);
