import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createIdleSweeper } from './idle-sweeper.ts';
import { waitFor } from './test-helpers.ts';

test('idle sweeper: a quiet session is cut after the time-out, an active one is kept, the timer stops when empty', async () => {
  const sweeper = createIdleSweeper(80);
  const cut: string[] = [];
  const quiet = sweeper.add(() => cut.push('quiet'));
  const busy = sweeper.add(() => cut.push('busy'));
  const keepBusy = setInterval(() => (busy.active = true), 5);
  try {
    assert.ok(await waitFor(() => cut.includes('quiet'), 5000));
    assert.equal(quiet.quietMs >= 80, true);
    assert.deepEqual(cut, ['quiet'], 'the busy one survives');
    assert.equal(sweeper.size(), 1);
  } finally {
    clearInterval(keepBusy);
  }
  assert.ok(await waitFor(() => cut.includes('busy'), 5000), 'once quiet, it goes too');
  assert.equal(sweeper.size(), 0);
  const removed = sweeper.add(() => cut.push('removed'));
  sweeper.remove(removed);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(!cut.includes('removed'), 'a removed session is never cut');
  sweeper.close();
});
