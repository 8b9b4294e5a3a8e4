import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineBannerLines, startLocalEngines, type EngineStatus } from './local-engines.ts';

const on = (name: EngineStatus['name'], address: string, note: string): EngineStatus => ({ name, state: 'on', address, note });

test('engineBannerLines: every engine on, with its address; no install hint', () => {
  const lines = engineBannerLines([
    on('rspamd', '127.0.0.1:40001', 'Bayes in redis'),
    on('redis', '127.0.0.1:40002', 'Rspamd\'s Bayes store'),
    on('spamd', '127.0.0.1:40003', 'SpamAssassin'),
    on('clamd', '127.0.0.1:40004', 'the EICAR test signature only'),
  ]);
  assert.match(lines[0]!, /^ {2}engines {13}shared by both scanners/);
  assert.deepEqual(lines.slice(1), [
    '  rspamd              127.0.0.1:40001   (Bayes in redis)',
    '  redis               127.0.0.1:40002   (Rspamd\'s Bayes store)',
    '  spamd               127.0.0.1:40003   (SpamAssassin)',
    '  clamd               127.0.0.1:40004   (the EICAR test signature only)',
  ]);
  assert.ok(!lines.some((l) => /apt-get|setup\.sh/.test(l)));
});

test('engineBannerLines: the missing engines in one apt-get line with their packages, a failed one with the first line of its error', () => {
  const lines = engineBannerLines([
    on('rspamd', '127.0.0.1:40001', 'no Bayes'),
    { name: 'redis', state: 'missing', packages: ['redis-server'] },
    { name: 'spamd', state: 'failed', error: 'spamd exited before it was ready:\nlots of perl output' },
    { name: 'clamd', state: 'missing', packages: ['clamav-daemon'] },
  ]);
  assert.ok(lines.includes('  spamd               FAILED to start, scanners run without it: spamd exited before it was ready:'));
  assert.ok(!lines.some((l) => l.includes('perl output')), 'only the first line of the error');
  assert.ok(lines.includes('  not installed       redis, clamd: sudo apt-get install redis-server clamav-daemon'));
  assert.ok(lines.some((l) => l.includes('sudo bash scripts/setup.sh')));
  assert.ok(!lines.some((l) => /no engine is on/.test(l)));
});

test('engineBannerLines: nothing installed says so, with the whole install command; engines: false prints nothing', () => {
  const lines = engineBannerLines([
    { name: 'rspamd', state: 'missing', packages: ['rspamd'] },
    { name: 'redis', state: 'unused', note: 'only Rspamd uses it' },
    { name: 'spamd', state: 'missing', packages: ['spamassassin', 'spamd', 'spamc'] },
    { name: 'clamd', state: 'missing', packages: ['clamav-daemon'] },
  ]);
  assert.ok(lines.includes('  redis               not started (only Rspamd uses it)'));
  assert.ok(lines.includes('  not installed       rspamd, spamd, clamd: sudo apt-get install rspamd spamassassin spamd spamc clamav-daemon'));
  assert.ok(lines.some((l) => /no engine is on: only Moat's own rules filter mail/.test(l)));
  assert.deepEqual(engineBannerLines([]), []);
});

test('startLocalEngines on a machine with no engine: every one missing (redis too), no analyzers, nothing started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-local-engines-'));
  const said: string[] = [];
  try {
    const engines = await startLocalEngines({ dir, say: (l) => said.push(l), findBinary: () => undefined });
    assert.deepEqual(engines.status.map((s) => [s.name, s.state]), [['rspamd', 'missing'], ['redis', 'missing'], ['spamd', 'missing'], ['clamd', 'missing']]);
    assert.deepEqual(engines.status.find((s) => s.name === 'spamd'), { name: 'spamd', state: 'missing', packages: ['spamassassin', 'spamd', 'spamc'] });
    assert.deepEqual(engines.analyzers, {});
    assert.deepEqual(said, []);
    await engines.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startLocalEngines: an engine whose start fails is a warning and a failed line, not a throw', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-local-engines-'));
  const said: string[] = [];
  try {
    // Only clamd counts as installed, and its folder cannot be made (var/engines is a file).
    const file = join(dir, 'engines');
    writeFileSync(file, 'not a folder');
    const engines = await startLocalEngines({ dir: file, say: (l) => said.push(l), findBinary: (name) => (name === 'clamd' ? '/usr/sbin/clamd' : undefined) });
    const clamd = engines.status.find((s) => s.name === 'clamd')!;
    assert.equal(clamd.state, 'failed');
    assert.deepEqual(engines.analyzers, {});
    assert.equal(said.length, 1);
    assert.match(said[0]!, /^clamd did not start, the scanners run without it: /);
    await engines.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
