import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, validateDocument } from '@moat/config';
import { ScannerConfigSchema } from '../config.ts';
import { analyzeLimitsFrom, DEFAULT_ANALYZE_LIMITS } from './analyze.ts';

const base = { node: { name: 'n1' }, dataDir: '/tmp/x', rules: { file: '/tmp/rules.yaml' } };

function keysOf(analysis: unknown): string[] {
  try {
    validateDocument(ScannerConfigSchema, { ...base, analysis }, 'scanner.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.errors.map((e) => e.key);
  }
  return [];
}

test('analysis limits: the defaults are the pipeline\'s defaults', () => {
  const config = validateDocument(ScannerConfigSchema, base, 'scanner.yaml');
  assert.deepEqual(analyzeLimitsFrom(config.analysis), DEFAULT_ANALYZE_LIMITS);
});

test('analysis limits: configured values reach the pipeline (seconds become ms)', () => {
  const config = validateDocument(ScannerConfigSchema, { ...base, analysis: { timeoutSeconds: 2.5, maxBodyChars: 5000, maxHeaderLines: 50 } }, 'scanner.yaml');
  assert.deepEqual(analyzeLimitsFrom(config.analysis), { timeoutMs: 2500, maxBodyChars: 5000, maxHeaderLines: 50 });
});

test('analysis limits: a value out of range or of the wrong type is refused naming the key', () => {
  const cases: [unknown, string][] = [
    [{ timeoutSeconds: 0 }, 'analysis.timeoutSeconds'],
    [{ timeoutSeconds: 601 }, 'analysis.timeoutSeconds'],
    [{ timeoutSeconds: 'long' }, 'analysis.timeoutSeconds'],
    [{ maxBodyChars: 10 }, 'analysis.maxBodyChars'],
    [{ maxBodyChars: 1.5e3 + 0.5 }, 'analysis.maxBodyChars'],
    [{ maxHeaderLines: 0 }, 'analysis.maxHeaderLines'],
    [{ maxHeaderLines: 1e6 }, 'analysis.maxHeaderLines'],
  ];
  for (const [analysis, key] of cases) assert.ok(keysOf(analysis).includes(key), `${JSON.stringify(analysis)} names ${key}: ${keysOf(analysis).join(', ')}`);
});

test('analysis limits: an unknown key is refused naming it', () => {
  assert.ok(keysOf({ timeout: 5 }).some((k) => k.includes('timeout')), keysOf({ timeout: 5 }).join(', '));
});
