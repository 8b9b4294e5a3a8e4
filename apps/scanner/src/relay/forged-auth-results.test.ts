import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authservId, renameForgedAuthResults } from './forged-auth-results.ts';

test('authserv-id: the first token after white space, folding and comments; quoted strings too', () => {
  const cases: [string, string | undefined][] = [
    [' mx.example.test; spf=pass', 'mx.example.test'],
    [' MX.Example.Test 1; none', 'MX.Example.Test'],
    ['\r\n\tmx.example.test;\r\n\tdkim=pass', 'mx.example.test'],
    [' (a comment (nested) \\) here) mx.example.test; none', 'mx.example.test'],
    [' "mx.example.test"; none', 'mx.example.test'],
    [' ; none', undefined],
    ['', undefined],
  ];
  for (const [value, id] of cases) assert.equal(authservId(value), id, JSON.stringify(value));
});

test('renames only the fields that claim our id, byte for byte otherwise, folded fields whole', () => {
  const block = [
    'Received: from x by y',
    'Authentication-Results: gateway.example.test;',
    '\tspf=pass smtp.mailfrom=ceo@example.test;',
    '\tdmarc=pass header.from=example.test',
    'authentication-results :  (forged) GATEWAY.example.test 1; dkim=pass',
    'Authentication-Results: mx.google.com; spf=fail',
    'X-Authentication-Results: gateway.example.test; spf=pass',
    'Subject: Authentication-Results: gateway.example.test; in a subject',
    '',
  ].join('\r\n');
  const { block: out, renamed } = renameForgedAuthResults(block, ['gateway.example.test']);
  assert.equal(renamed, 2);
  assert.equal(out, [
    'Received: from x by y',
    'X-Moat-Untrusted-Authentication-Results: gateway.example.test;',
    '\tspf=pass smtp.mailfrom=ceo@example.test;',
    '\tdmarc=pass header.from=example.test',
    'X-Moat-Untrusted-Authentication-Results :  (forged) GATEWAY.example.test 1; dkim=pass',
    'Authentication-Results: mx.google.com; spf=fail',
    'X-Authentication-Results: gateway.example.test; spf=pass',
    'Subject: Authentication-Results: gateway.example.test; in a subject',
    '',
  ].join('\r\n'));
});

test('bare LF header blocks, and nothing to do', () => {
  assert.equal(renameForgedAuthResults('Authentication-Results: gw.test; none\nFrom: a@b\n', ['gw.test']).block, 'X-Moat-Untrusted-Authentication-Results: gw.test; none\nFrom: a@b\n');
  assert.deepEqual(renameForgedAuthResults('From: a@b\r\n', ['gw.test']), { block: 'From: a@b\r\n', renamed: 0 });
  assert.deepEqual(renameForgedAuthResults('Authentication-Results: gw.test; none\r\n', []), { block: 'Authentication-Results: gw.test; none\r\n', renamed: 0 });
});
