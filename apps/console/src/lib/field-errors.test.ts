import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './api.ts';
import { fieldErrors } from './field-errors.ts';

test('fieldErrors puts each 400 detail next to its field, the rest on top', () => {
  const err = new ApiError(400, 'MOAT_ERR_VALIDATION', 'invalid', [
    { field: 'body.username', message: 'must match pattern' },
    { field: 'body.password', message: 'must NOT have fewer than 8 characters' },
    { field: 'body.extra', message: 'must NOT have additional properties' },
  ]);
  assert.deepEqual(fieldErrors(err, ['username', 'password', 'role']), {
    username: 'must match pattern',
    password: 'must NOT have fewer than 8 characters',
    '': 'body.extra: must NOT have additional properties',
  });
  assert.deepEqual(fieldErrors(new ApiError(409, 'MOAT_ERR_USERNAME_TAKEN', 'user name x is taken', undefined), ['username']), { '': 'user name x is taken (MOAT_ERR_USERNAME_TAKEN)' });
});
