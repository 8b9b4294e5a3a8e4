import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameForgedVerdicts, untrustedName } from './forged-verdicts.ts';

test('a received field is renamed or kept, name by name', () => {
  const cases: [string, string][] = [
    ['X-Spam-Flag: NO', 'X-Moat-Untrusted-Spam-Flag: NO'],
    ['X-Spam-Status: No, score=-100.0 required=5.0', 'X-Moat-Untrusted-Spam-Status: No, score=-100.0 required=5.0'],
    ['X-Spam-Score: -100', 'X-Moat-Untrusted-Spam-Score: -100'],
    ['X-Spam-Level: ', 'X-Moat-Untrusted-Spam-Level: '],
    ['X-Spam: No', 'X-Moat-Untrusted-Spam: No'],
    ['X-Spamd-Result: default: False [0.00 / 15.00]', 'X-Moat-Untrusted-Spamd-Result: default: False [0.00 / 15.00]'],
    ['x-spam-flag:NO', 'X-Moat-Untrusted-spam-flag:NO'],
    ['X-Spam-Flag : NO', 'X-Moat-Untrusted-Spam-Flag : NO'],
    ['X-Moat-Verdict: deliver', 'X-Moat-Untrusted-Moat-Verdict: deliver'],
    ['X-Moat-Score: -50.0', 'X-Moat-Untrusted-Moat-Score: -50.0'],
    ['X-MOAT-Virus-Scan: clean', 'X-Moat-Untrusted-MOAT-Virus-Scan: clean'],
    // Already marked untrusted (a second gateway, or a sender who wrote it): left as it is.
    ['X-Moat-Untrusted-Spam-Flag: NO', 'X-Moat-Untrusted-Spam-Flag: NO'],
    ['x-moat-untrusted-moat-verdict: deliver', 'x-moat-untrusted-moat-verdict: deliver'],
    // Not verdict fields.
    ['X-Spamming: yes', 'X-Spamming: yes'],
    ['X-Moatish: yes', 'X-Moatish: yes'],
    ['X-Virus-Scanned: clamav', 'X-Virus-Scanned: clamav'],
    ['Subject: X-Spam-Flag: NO', 'Subject: X-Spam-Flag: NO'],
    ['XX-Spam-Flag: NO', 'XX-Spam-Flag: NO'],
  ];
  for (const [line, want] of cases) assert.equal(renameForgedVerdicts(`${line}\r\n`).block, `${want}\r\n`, line);
});

test('a renamed name never starts with X-Spam and is never one Moat writes', () => {
  for (const name of ['X-Spam-Flag', 'X-Spam', 'X-Spamd-Bar', 'X-Moat-Verdict', 'X-Moat-Reasons', 'X-Moat-Node']) {
    const renamed = untrustedName(name);
    assert.doesNotMatch(renamed, /^x-spam/i, name);
    assert.match(renamed, /^X-Moat-Untrusted-/, name);
    assert.equal(renameForgedVerdicts(`${renamed}: x\r\n`).renamed, 0, `${renamed} is not renamed again`);
  }
});

test('folded fields keep their continuation lines; a continuation is never taken for a field; bare LF too', () => {
  const block = [
    'Received: from x by y',
    'X-Spam-Status: No, score=-3.0 required=5.0 tests=ALL_TRUSTED,',
    '\tX-Spam-Flag: inside a folded value',
    ' autolearn=ham',
    'From: a@b',
    'X-Moat-Verdict: deliver (allow-listed)',
    '',
  ].join('\r\n');
  const { block: out, renamed } = renameForgedVerdicts(block);
  assert.equal(renamed, 2);
  assert.equal(out, [
    'Received: from x by y',
    'X-Moat-Untrusted-Spam-Status: No, score=-3.0 required=5.0 tests=ALL_TRUSTED,',
    '\tX-Spam-Flag: inside a folded value',
    ' autolearn=ham',
    'From: a@b',
    'X-Moat-Untrusted-Moat-Verdict: deliver (allow-listed)',
    '',
  ].join('\r\n'));
  assert.deepEqual(renameForgedVerdicts('X-Spam-Flag: YES\nFrom: a@b\n'), { block: 'X-Moat-Untrusted-Spam-Flag: YES\nFrom: a@b\n', renamed: 1 });
  assert.deepEqual(renameForgedVerdicts('From: a@b\r\n'), { block: 'From: a@b\r\n', renamed: 0 });
});
