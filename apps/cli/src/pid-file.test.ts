import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishPid, readPid } from './pid-file.ts';

test('a pid file holds the id while the role runs and is gone after it stops', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-pid-'));
  try {
    const file = join(dir, 'scanner.pid');
    const remove = await publishPid(file, 4242);
    assert.equal(readFileSync(file, 'utf8'), '4242\n');
    assert.equal(readPid(file), 4242);
    await remove();
    assert.equal(existsSync(file), false);
    await remove(); // twice is harmless
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stopping role leaves a pid file that another process has taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-pid-'));
  try {
    const file = join(dir, 'scanner.pid');
    const remove = await publishPid(file, 4242);
    writeFileSync(file, '4343\n'); // its successor started meanwhile
    await remove();
    assert.equal(readPid(file), 4343);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no MOAT_PID_FILE: nothing is written; a missing or garbled file has no id', async () => {
  const remove = await publishPid(undefined, 4242);
  await remove();
  const dir = mkdtempSync(join(tmpdir(), 'moat-pid-'));
  try {
    assert.equal(readPid(join(dir, 'none.pid')), undefined);
    writeFileSync(join(dir, 'bad.pid'), 'x\n');
    assert.equal(readPid(join(dir, 'bad.pid')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
