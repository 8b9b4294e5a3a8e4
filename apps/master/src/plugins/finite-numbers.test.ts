import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../testing/harness.ts';
import { nonFiniteFields } from './finite-numbers.ts';

test('a query number that ajv coerced to ±Infinity is refused with the field named, not passed to the handler', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  for (const url of ['/api/v1/rules/versions?limit=Infinity', '/api/v1/rules/versions?limit=-Infinity', '/api/v1/rules/versions?limit=1e999', '/api/v1/audit?limit=Infinity', '/api/v1/rules/versions?before=1e999']) {
    const res = await h.app.inject({ method: 'GET', url, headers: h.bearer.admin });
    assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
    const body = res.json() as { code: string; details: { field: string; message: string }[] };
    assert.equal(body.code, 'MOAT_ERR_VALIDATION', url);
    assert.deepEqual(body.details, [{ field: `query.${/[?&](\w+)=/.exec(url)![1]}`, message: 'must be a finite number' }], url);
  }
  // Finite values are untouched.
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions?limit=5&before=1e3', headers: h.bearer.admin })).statusCode, 200);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions?limit=501', headers: h.bearer.admin })).json().details[0].message, 'must be <= 500');
});

test('a path parameter coerced to Infinity is refused the same way', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const res = await h.app.inject({ method: 'GET', url: '/api/v1/rules/versions/Infinity', headers: h.bearer.admin });
  assert.equal(res.statusCode, 400, res.body);
  assert.deepEqual(res.json().details, [{ field: 'params.version', message: 'must be a finite number' }]);
});

test('nonFiniteFields: top-level values and array items; strings, finite numbers and non-objects pass', () => {
  assert.deepEqual(nonFiniteFields({ a: Infinity, b: [1, -Infinity], c: 'Infinity', d: 5, e: NaN }).map((f) => f.instancePath), ['/a', '/b/1', '/e']);
  assert.deepEqual(nonFiniteFields(undefined), []);
  assert.deepEqual(nonFiniteFields('x'), []);
});
