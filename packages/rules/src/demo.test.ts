import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRules } from './compile.ts';
import { demoRules } from './demo.ts';
import { checkRecipient, checkSender } from './envelope.ts';
import { evaluateMessage } from './evaluate.ts';
import { facts } from './test-fixtures.ts';
import { validateRules } from './validate.ts';

describe('demoRules', () => {
  const c = compileRules(demoRules());
  it('is a valid, frozen version 1', () => {
    assert.equal(c.version, 1);
    assert.ok(Object.isFrozen(c.rules));
    assert.deepEqual(validateRules(structuredClone(demoRules())), demoRules());
  });
  it('shows every verdict', () => {
    assert.equal(checkSender(c, '127.0.0.1', 'anyone@blocked.example').ok, false);
    assert.equal(checkRecipient(c, '127.0.0.1', 'a@b.example', 'x@elsewhere.example').ok, false);
    assert.equal(checkRecipient(c, '127.0.0.1', 'a@b.example', 'x@example.test').ok, true);
    assert.equal(evaluateMessage(c, facts({ subject: 'please QUARANTINE-ME' })).action, 'quarantine');
    assert.equal(evaluateMessage(c, facts({ subject: 'TAG-ME' })).action, 'tag');
    assert.equal(evaluateMessage(c, facts({ subject: 'hello' })).action, 'deliver');
  });
});
