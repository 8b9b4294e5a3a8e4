import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitRecipients } from './recipients.ts';

test('recipients typed in one box: commas, semicolons, spaces and new lines separate them', () => {
  assert.deepEqual(splitRecipients(''), []);
  assert.deepEqual(splitRecipients('  a@example.test  '), ['a@example.test']);
  assert.deepEqual(splitRecipients('a@example.test, b@example.test;c@example.test\nd@example.test'), ['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test']);
  assert.deepEqual(splitRecipients(',;,'), []);
});
