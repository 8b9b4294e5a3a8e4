import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heuristicFindings, type HeuristicsPolicy } from './heuristics.ts';

const OFF: HeuristicsPolicy = { macros: 'off', encrypted: 'off' };

test('the policy heuristics by name; everything else stays a virus', () => {
  const cases: [string, HeuristicsPolicy, { rule: string; action?: string } | undefined][] = [
    ['Heuristics.OLE2.ContainsMacros', { ...OFF, macros: 'quarantine' }, { rule: 'clamav.macros', action: 'quarantine' }],
    ['Heuristics.OLE2.ContainsMacros.VBA', { ...OFF, macros: 'reject' }, { rule: 'clamav.macros', action: 'reject' }],
    ['Heuristics.OLE2.ContainsMacros.XLM', { ...OFF, macros: 'tag' }, { rule: 'clamav.macros', action: 'tag' }],
    ['Heuristics.OLE2.ContainsMacros.VBA', OFF, { rule: 'clamav.macros' }],
    ['Heuristics.Encrypted.Zip', { ...OFF, encrypted: 'quarantine' }, { rule: 'clamav.encrypted', action: 'quarantine' }],
    ['Heuristics.Encrypted.PDF', { macros: 'reject', encrypted: 'tag' }, { rule: 'clamav.encrypted', action: 'tag' }],
    ['Heuristics.Encrypted.RAR', OFF, { rule: 'clamav.encrypted' }],
    // A virus, whatever the policy.
    ['Moat.Test.EICAR', { macros: 'reject', encrypted: 'reject' }, undefined],
    ['Doc.Dropper.Agent-1', { macros: 'off', encrypted: 'off' }, undefined],
    ['Heuristics.Phishing.Email.SpoofedDomain', { macros: 'reject', encrypted: 'reject' }, undefined],
    ['Heuristics.OLE2.ContainsMacrosX', { macros: 'reject', encrypted: 'reject' }, undefined],
    ['Heuristics.EncryptedZip', { macros: 'reject', encrypted: 'reject' }, undefined],
    ['Win.Heuristics.Encrypted.Zip', { macros: 'reject', encrypted: 'reject' }, undefined],
  ];
  for (const [name, policy, want] of cases) {
    const f = heuristicFindings(name, policy);
    if (!want) {
      assert.equal(f, undefined, name);
      continue;
    }
    assert.equal(f?.virus, undefined, `${name} is not a virus`);
    assert.deepEqual(f?.extraScores, [{ id: want.rule, score: 0, detail: name, ...(want.action ? { action: want.action } : {}) }], name);
    assert.deepEqual(f?.headers, [`X-Moat-Virus-Scan: no virus found; heuristic ${name}`]);
  }
});
