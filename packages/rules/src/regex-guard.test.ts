import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasNestedQuantifier, regexProblem } from './regex-guard.ts';

describe('hasNestedQuantifier', () => {
  const flagged = ['(a+)+', '(a*)*', '(\\w+\\s?)+', '((ab)+)+', '(a|a+)+', '(.*.)+', '(a{2,})+', '(x+x+)+y', '(?<n>a+)*', '(?:\\d+)+', '^(([a-z])+.)+[A-Z]([a-z])+$', '(a*?)+?', '((a+)?)+'];
  const passed = ['(\\w+\\.)+com', '(\\s*,\\s*)+', '(?:a|b)*', '(\\d{1,3}\\.){3}\\d{1,3}', '[(a+)]+', '\\(a+\\)+', '(foo|ba+)+', 'a+b+c*', '(a+){3}', 'free money', '(a+)', 'viagra|cialis'];
  for (const source of flagged) it(`flags ${source}`, () => assert.equal(hasNestedQuantifier(source), true));
  for (const source of passed) it(`passes ${source}`, () => assert.equal(hasNestedQuantifier(source), false));
});

describe('regexProblem', () => {
  it('reports a syntax error with the engine message', () => assert.match(regexProblem('a(', '') ?? '', /does not compile/));
  it('refuses sources over 1000 characters', () => assert.match(regexProblem('a'.repeat(1001), '') ?? '', /longer than 1000/));
  it('accepts a plain expression', () => assert.equal(regexProblem('^free (money|cash)$', 'i'), undefined));
});
