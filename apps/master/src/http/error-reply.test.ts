import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeOfflineError, NodeRequestError } from '../app-deps.ts';
import { ApiError } from './api-error.ts';
import { toErrorReply } from './error-reply.ts';

test('maps each kind of error to its status, code and details', () => {
  const cases: [unknown, number, unknown][] = [
    [new ApiError(409, 'MOAT_ERR_LAST_ADMIN', 'no'), 409, { error: 'no', code: 'MOAT_ERR_LAST_ADMIN' }],
    [new NodeOfflineError('scanner-2'), 503, { error: new NodeOfflineError('scanner-2').message, code: 'MOAT_ERR_NODE_OFFLINE', details: { node: 'scanner-2' } }],
    [new NodeRequestError('s1', 'MOAT_ERR_TIMEOUT', 'no answer in 15 s'), 502, { error: 'node s1: no answer in 15 s', code: 'MOAT_ERR_TIMEOUT', details: { node: 's1' } }],
    [new NodeRequestError('s1', 'ENOENT', 'gone'), 502, { error: 'node s1: gone', code: 'MOAT_ERR_NODE_REQUEST', details: { node: 's1' } }],
    [Object.assign(new Error('Body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }), 413, { error: 'Body is too large', code: 'MOAT_ERR_PAYLOAD_TOO_LARGE' }],
    [new Error('SQLITE_CORRUPT: /var/lib/moat/master.sqlite'), 500, { error: 'Internal Server Error', code: 'MOAT_ERR_INTERNAL', details: { requestId: 'req-1' } }],
  ];
  for (const [err, status, body] of cases) {
    const reply = toErrorReply(err, 'req-1');
    assert.equal(reply.status, status, String(err));
    assert.deepEqual(reply.body, body);
  }
});

test('validation errors name each field with its request part', () => {
  const err = Object.assign(new Error('x'), {
    statusCode: 400,
    validationContext: 'body',
    validation: [
      { instancePath: '', keyword: 'required', params: { missingProperty: 'username' }, message: "must have required property 'username'" },
      { instancePath: '/lists/0', keyword: 'minLength', params: {}, message: 'must NOT have fewer than 1 characters' },
      { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'extra' }, message: 'must NOT have additional properties' },
    ],
  });
  const reply = toErrorReply(err, 'r');
  assert.equal(reply.status, 400);
  assert.deepEqual(reply.body, {
    error: 'Bad Request',
    code: 'MOAT_ERR_VALIDATION',
    details: [
      { field: 'body.username', message: 'required key is missing' },
      { field: 'body.lists.0', message: 'must NOT have fewer than 1 characters' },
      { field: 'body.extra', message: 'unknown key' },
    ],
  });
  const query = toErrorReply(Object.assign(new Error('x'), { validationContext: 'querystring', validation: [{ instancePath: '/limit', message: 'must be <= 500' }] }), 'r');
  assert.deepEqual(query.body.details, [{ field: 'query.limit', message: 'must be <= 500' }]);
});
