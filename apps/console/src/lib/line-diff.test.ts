import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineDiff, withContext } from './line-diff.ts';

test('lineDiff marks removed and added lines and keeps the rest', () => {
  const d = lineDiff(['a', 'b', 'c', 'd'], ['a', 'c', 'x', 'd']);
  assert.deepEqual(d.map((l) => l.op + l.text), [' a', '-b', ' c', '+x', ' d']);
  assert.deepEqual(lineDiff([], ['x']).map((l) => l.op + l.text), ['+x']);
  assert.deepEqual(lineDiff(['x'], []).map((l) => l.op + l.text), ['-x']);
  assert.deepEqual(lineDiff(['same'], ['same']).map((l) => l.op), [' ']);
});

test('withContext folds long unchanged runs', () => {
  const a = Array.from({ length: 20 }, (_, i) => `l${i}`);
  const b = [...a];
  b[10] = 'changed';
  const folded = withContext(lineDiff(a, b), 2);
  assert.deepEqual(folded.map((l) => l.op + l.text), ['…8 unchanged lines', ' l8', ' l9', '-l10', '+changed', ' l11', ' l12', '…7 unchanged lines']);
});
