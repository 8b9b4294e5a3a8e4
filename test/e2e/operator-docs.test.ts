import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, readText, validateByName } from '../helpers/packaging.ts';

// The operator documentation is complete where a test can tell: every example config is real,
// every log event code and metric in the source is documented.

/** Every file under `dir` (recursive), skipping node_modules. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === 'dist') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? filesUnder(path) : [path];
  });
}

/** Production sources: apps/* and packages/*, without tests and test helpers. */
const SOURCES = ['apps', 'packages']
  .flatMap((d) => filesUnder(join(ROOT, d)))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('test-helpers.ts') && !f.includes('/testing/'));

test('every example config under docs/examples validates with the real loaders and is linked from the operator guide', () => {
  const guide = readText('docs/operator-guide.md');
  const examples = filesUnder(join(ROOT, 'docs/examples'));
  assert.ok(examples.length >= 15, 'the topologies have their configs');
  for (const file of examples) {
    validateByName(file);
    const rel = relative(join(ROOT, 'docs'), file);
    assert.ok(guide.includes(`(${rel})`), `docs/operator-guide.md links ${rel}`);
  }
});

test('the README links the operator guide and the container docs', () => {
  const readme = readText('README.md');
  assert.match(readme, /\(docs\/operator-guide\.md\)/);
  assert.match(readme, /\(docs\/containers\.md\)/);
});

test('every log event code in the source is in docs/logging.md', () => {
  const doc = readText('docs/logging.md');
  const codes = new Set<string>();
  for (const file of SOURCES) {
    // `event: 'CODE'`, and both codes of `event: cond ? 'A' : 'B'`.
    for (const m of readFileSync(file, 'utf8').matchAll(/\bevent:\s*([^,}\n]+)/g)) {
      for (const c of m[1]!.matchAll(/'([A-Za-z][A-Za-z0-9_.]*)'/g)) codes.add(c[1]!);
    }
  }
  assert.ok(codes.size > 60, `found ${codes.size} event codes (the scan works)`);
  const missing = [...codes].filter((c) => !doc.includes(`\`${c}\``)).sort();
  assert.deepEqual(missing, [], 'event codes missing from docs/logging.md');
});

test('every Prometheus metric the source registers is in docs/logging.md', () => {
  const doc = readText('docs/logging.md');
  const names = new Set<string>();
  for (const file of SOURCES) {
    const text = readFileSync(file, 'utf8');
    if (!text.includes('prom-client')) continue;
    for (const m of text.matchAll(/'(moat_[a-z0-9_]+)'/g)) names.add(m[1]!);
  }
  assert.ok(names.size >= 10, `found ${names.size} metrics (the scan works)`);
  const missing = [...names].filter((n) => !doc.includes(`\`${n}\``)).sort();
  assert.deepEqual(missing, [], 'metrics missing from docs/logging.md');
});
