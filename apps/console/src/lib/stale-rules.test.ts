import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeStaleRules, isStaleRules } from './stale-rules.ts';

test('a stale rules save is told with the versions saved since and what they changed', () => {
  const details = {
    baseVersion: 4, currentVersion: 6, changedKeys: ['content', 'lists', 'recipientLists'],
    content: { added: ['new-rule'], removed: [], changed: ['demo-tag'] },
    versions: [{ version: 6, createdBy: 'bob', createdAt: '2026-01-01T00:00:00.000Z', comment: 'block a domain' }, { version: 5, createdBy: 'carol', createdAt: '2026-01-01T00:00:00.000Z', comment: '' }],
  };
  assert.ok(isStaleRules('MOAT_ERR_STALE_RULES', details));
  assert.ok(!isStaleRules('MOAT_ERR_RULES_INVALID', details));
  assert.ok(!isStaleRules('MOAT_ERR_STALE_RULES', [{ field: 'x', message: 'y' }]));
  const told = describeStaleRules(details);
  assert.match(told.headline, /Nothing was saved: the rules changed since you opened version 4 \(now version 6\)/);
  assert.deepEqual(told.lines, [
    'version 6 by bob: block a domain',
    'version 5 by carol',
    'changed: lists, recipientLists',
    'content rules added: new-rule',
    'content rules changed: demo-tag',
  ]);
});
