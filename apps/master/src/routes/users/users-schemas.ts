import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.ts';
import { NewPassword, RoleSchema, Username } from '../auth/auth-schemas.ts';

export const UserSchema = Type.Object({
  id: Type.Integer({ description: 'User id.' }),
  username: Type.String({ description: 'Sign-in name.' }),
  role: RoleSchema,
  disabled: Type.Boolean({ description: 'A disabled user cannot sign in; its sessions and tokens stop working.' }),
  createdAt: Timestamp('When the user was created.'),
});

export const UserParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'User id.' }) }, { additionalProperties: false });

export const CreateUserBody = Type.Object(
  { username: Username, password: NewPassword, role: RoleSchema },
  { additionalProperties: false },
);

export const PatchUserBody = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    disabled: Type.Optional(Type.Boolean({ description: 'Disable (true) or re-enable (false); disabling ends the user\'s sessions.' })),
    password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024, description: 'A new password (reset by an admin); ends the user\'s sessions.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
