import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderGeneratedDocs, CONFIG_DOC_FILE } from '@moat/cli';

test('docs/configuration.md matches the schemas (run `pnpm docs:gen` after changing one)', () => {
  const doc = readFileSync(CONFIG_DOC_FILE, 'utf8');
  assert.equal(doc, renderGeneratedDocs(doc));
  assert.match(doc, /<!-- generated:scanner-config -->/);
});
