import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { checkRecipient, compileRules, demoRules, validateRules, type CompiledRules } from '@moat/rules';
import { createPushedRecipientLists } from './pushed-recipient-lists.ts';
import { withRecipientLists } from './with-recipient-lists.ts';
import type { RulesSource } from './rules-source.ts';

const log = pino({ level: 'silent' });
const refused = (rules: CompiledRules, from: string, rcpt: string) => !checkRecipient(rules, '203.0.113.1', from, rcpt).ok;

test('pushed end-user lists are checked, kept on disk across a restart, and read by the list checks beside the rules', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-lists-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let compiled = compileRules(validateRules({ ...demoRules(), acceptedDomains: ['example.test'] }));
  const listeners: ((r: CompiledRules) => void)[] = [];
  const rules: RulesSource = { current: () => compiled, onChange: (l) => void listeners.push(l), close: () => undefined };
  const lists = createPushedRecipientLists(dir, log);
  const effective = withRecipientLists(rules, lists);
  assert.equal(lists.version(), 0);
  assert.equal(refused(effective.current(), 'x@spam.example', 'bob@example.test'), false);
  assert.equal(effective.current(), effective.current(), 'composed once, not per message');

  const bad = await lists.apply(3, { 'bob@example.test': { block: ['*e*'] } });
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.error, /lists\.bob@example\.test\.block\.0/);
  assert.equal(lists.version(), 0, 'a bad push changes nothing');

  assert.deepEqual(await lists.apply(4, { 'bob@example.test': { block: ['*@spam.example'] } }), { ok: true });
  assert.equal(lists.version(), 4);
  assert.equal(refused(effective.current(), 'x@spam.example', 'bob@example.test'), true, 'the block holds at once');
  assert.equal(refused(effective.current(), 'x@spam.example', 'carol@example.test'), false, 'for bob only');

  // A rules change (the admin's save) keeps the end users' lists in force.
  const heard: number[] = [];
  effective.onChange((r) => heard.push(r.version));
  compiled = compileRules(validateRules({ ...demoRules(), version: 9, acceptedDomains: ['example.test'] }));
  for (const l of listeners) l(compiled);
  assert.deepEqual(heard, [9]);
  assert.equal(effective.current().version, 9);
  assert.equal(refused(effective.current(), 'x@spam.example', 'bob@example.test'), true);

  // After a restart the last push is in force before the master is reached.
  const again = createPushedRecipientLists(dir, log);
  assert.equal(again.version(), 4);
  assert.equal(refused(withRecipientLists(rules, again).current(), 'x@spam.example', 'bob@example.test'), true);
});
