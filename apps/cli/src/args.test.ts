import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from './args.ts';

test('options, flags, rest and repeated --set overrides (with = in the value)', () => {
  const p = parseArgs(['scanner', '--config', 'a.yaml', '--set', 'smtp.listen.port=0', '--set=dataDir=/tmp/x', 'extra', '--print-config']);
  assert.equal(p.command, 'scanner');
  assert.deepEqual(p.options, { config: 'a.yaml', 'print-config': true });
  assert.deepEqual(p.rest, ['extra']);
  assert.deepEqual(p.sets, ['smtp.listen.port=0', 'dataDir=/tmp/x']);
  assert.deepEqual(parseArgs(['x', '--out=a=b']).options, { out: 'a=b' });
});
