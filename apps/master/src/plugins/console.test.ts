import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness } from '../testing/harness.ts';
import { CONSOLE_CSP } from './console.ts';

function fakeBuild(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'moat-console-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Moat</title><script src="/assets/app.js"></script>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'app.css'), 'body{}');
  writeFileSync(join(dir, 'assets', 'notes.txt'), 'not a served type');
  return dir;
}

test('the console page and its files load without a session, with a strict CSP and nosniff', async (t) => {
  const h = await startHarness({ consoleDir: fakeBuild(t) });
  t.after(() => h.close());
  for (const [url, type] of [['/', 'text/html'], ['/assets/app.js', 'text/javascript'], ['/assets/app.css', 'text/css']] as const) {
    const res = await h.app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 200, url);
    assert.ok(String(res.headers['content-type']).startsWith(type), url);
    assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
  }
  assert.match(CONSOLE_CSP, /script-src 'self';/);
  assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
});

test('only built files of known types are served; the API behind it still needs a session', async (t) => {
  const h = await startHarness({ consoleDir: fakeBuild(t) });
  t.after(() => h.close());
  assert.equal((await h.app.inject({ method: 'GET', url: '/assets/notes.txt' })).statusCode, 404);
  assert.equal((await h.app.inject({ method: 'GET', url: '/assets/..%2Findex.html' })).statusCode, 404);
  assert.equal((await h.app.inject({ method: 'GET', url: '/assets/../../etc/passwd' })).statusCode, 401);
  assert.equal((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me' })).statusCode, 401);
});

test('without a build, / says how to build the console', async (t) => {
  const h = await startHarness({ consoleDir: join(tmpdir(), 'moat-no-such-console') });
  t.after(() => h.close());
  const res = await h.app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /pnpm build/);
});
