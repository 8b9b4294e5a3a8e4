import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { globToRegExp } from './glob.ts';

/** The obvious, backtracking translation: the reference the linear-time one must agree with. */
function naive(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\/-]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${source}$`, 'i');
}

describe('globToRegExp', () => {
  it('agrees with the naive translation on arbitrary patterns and texts', () => {
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '?', '\\', '('), maxLength: 8 });
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '.', 'A', '\\', '('), maxLength: 10 });
    fc.assert(fc.property(glob, text, (g, t) => globToRegExp(g).test(t) === naive(g).test(t)), { numRuns: 800 });
  });
  it('treats regular-expression characters literally', () => {
    assert.equal(globToRegExp('a.b').test('axb'), false);
    assert.equal(globToRegExp('a+b').test('a+b'), true);
    assert.equal(globToRegExp('(x)|y').test('(x)|y'), true);
  });
});
