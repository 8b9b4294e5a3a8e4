import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileAddressList, compileDomainList, patternProblem, splitAddress } from './address-match.ts';

describe('compileAddressList', () => {
  const cases: [pattern: string, address: string, matches: boolean][] = [
    ['user@example.com', 'user@example.com', true],
    ['user@example.com', 'USER@Example.COM', true],
    ['User@Example.com', 'user@example.com', true],
    ['user@example.com', 'other@example.com', false],
    ['user@example.com', 'user@sub.example.com', false],
    ['example.com', 'anyone@example.com', true],
    ['example.com', 'anyone@EXAMPLE.com.', true],
    ['example.com', 'anyone@sub.example.com', false],
    ['example.com', 'anyone@badexample.com', false],
    ['*.example.com', 'a@sub.example.com', true],
    ['*.example.com', 'a@deep.sub.example.com', true],
    ['*.example.com', 'a@example.com', false],
    ['*.example.com', 'a@evil-example.com', false],
    ['*@example.com', 'anyone@example.com', true],
    ['*@example.com', 'anyone@sub.example.com', false],
    ['user@*', 'user@anywhere.example', true],
    ['user@*', 'user2@anywhere.example', false],
    ['bounce-*@lists.example', 'bounce-1234@lists.example', true],
    ['bounce-*@lists.example', 'bounces@lists.example', false],
    ['user?@example.com', 'user1@example.com', true],
    ['user?@example.com', 'user@example.com', false],
    ['user?@example.com', 'user12@example.com', false],
    ['*', 'a@b.example', true],
    ['*@*', 'a@b.example', true],
    ['a.b@example.com', 'axb@example.com', false],
    ['"odd@local"@example.com', '"odd@local"@example.com', true],
    ['*@example.com', '', false],
    ['*', '', false],
  ];
  for (const [pattern, address, matches] of cases) {
    it(`${pattern} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(address)}`, () => {
      assert.equal(compileAddressList([pattern])(address), matches ? pattern : undefined);
    });
  }
  it('returns the pattern that matched, exact ones first', () => {
    const match = compileAddressList(['*@example.com', 'boss@example.com', 'other.example']);
    assert.equal(match('boss@example.com'), 'boss@example.com');
    assert.equal(match('x@example.com'), '*@example.com');
    assert.equal(match('x@other.example'), 'other.example');
    assert.equal(match('x@nowhere.example'), undefined);
  });
  it('stays fast on a pathological wildcard pattern', () => {
    const match = compileAddressList([`${'*a'.repeat(20)}*b@*`]);
    const started = performance.now();
    assert.equal(match(`${'a'.repeat(5000)}@x.example`), undefined);
    assert.ok(performance.now() - started < 50);
  });
});

describe('compileDomainList', () => {
  const match = compileDomainList(['example.test', '*.sub.example.test']);
  const cases: [string, string | undefined][] = [
    ['example.test', 'example.test'],
    ['EXAMPLE.TEST.', 'example.test'],
    ['a.sub.example.test', '*.sub.example.test'],
    ['sub.example.test', undefined],
    ['other.test', undefined],
    ['', undefined],
  ];
  for (const [domain, expected] of cases) it(`${JSON.stringify(domain)} → ${expected}`, () => assert.equal(match(domain), expected));
});

describe('splitAddress', () => {
  it('splits on the last @ and lower-cases', () => {
    assert.deepEqual(splitAddress('"a@b"@Example.COM'), { local: '"a@b"', domain: 'example.com' });
    assert.deepEqual(splitAddress('postmaster'), { local: 'postmaster', domain: '' });
  });
});

describe('patternProblem', () => {
  const cases: [string, boolean, RegExp | undefined][] = [
    ['user@example.com', false, undefined],
    ['*.example.com', false, undefined],
    ['*.example.com', true, undefined],
    ['user@example.com', true, /without @/],
    ['a@b@c', false, /at most one @/],
    ['@example.com', false, /both sides/],
    ['user@', false, /both sides/],
    ['user @example.com', false, /spaces/],
    ['<user@example.com>', false, /angle brackets/],
  ];
  for (const [pattern, domainOnly, problem] of cases) {
    it(`${pattern}${domainOnly ? ' (domain)' : ''}: ${problem ?? 'ok'}`, () => {
      const found = patternProblem(pattern, domainOnly);
      if (problem === undefined) assert.equal(found, undefined);
      else assert.match(found ?? '', problem);
    });
  }
});
