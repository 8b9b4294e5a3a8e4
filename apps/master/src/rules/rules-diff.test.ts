import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRules } from '@moat/rules';
import { summarizeRulesChange } from './rules-diff.ts';

const base = {
  version: 1,
  acceptedDomains: ['example.test'],
  content: [
    { id: 'keep', target: 'subject', contains: 'a', action: 'tag' },
    { id: 'edit', target: 'subject', contains: 'b', action: 'tag' },
    { id: 'drop', target: 'subject', contains: 'c', action: 'tag' },
  ],
};

test('names the top-level keys that changed and the content rules added, removed, changed', () => {
  const before = validateRules(base);
  const after = validateRules({
    ...base,
    version: 2,
    lists: { senderBlock: ['*@spam.example'] },
    content: [base.content[0], { ...base.content[1], contains: 'B' }, { id: 'new', target: 'body', contains: 'd', action: 'quarantine' }],
  });
  assert.deepEqual(summarizeRulesChange(before, after), {
    changedKeys: ['content', 'lists'],
    content: { added: ['new'], removed: ['drop'], changed: ['edit'] },
  });
});

test('the version alone and key order are not changes', () => {
  const before = validateRules(base);
  const reordered = Object.fromEntries(Object.entries({ ...base, version: 9 }).reverse());
  assert.deepEqual(summarizeRulesChange(before, validateRules(reordered)), { changedKeys: [] });
});

test('against nothing (the first version) every key is new', () => {
  const summary = summarizeRulesChange(undefined, validateRules(base));
  assert.ok(summary.changedKeys.includes('acceptedDomains'));
  assert.deepEqual(summary.content, { added: ['keep', 'edit', 'drop'], removed: [], changed: [] });
});
