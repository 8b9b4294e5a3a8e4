import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createIngest } from '../data/ingest.ts';
import { listLogPartitions } from '../data/log-partitions.ts';
import { searchMessages } from '../data/messages-repository.ts';
import { event, logged, T0 } from '../data/test-fixtures.ts';
import { DAY_MS } from '../data/time-buckets.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { logRetention, logRetentionBoundary } from './log-retention.ts';

const NODE = 'aaaaaaaaaaaaaaaa';

test('the boundary is the start of a whole UTC day, `days` before today\'s', () => {
  assert.equal(logRetentionBoundary(T0 + 10 * DAY_MS + 5_000, 7), T0 + 3 * DAY_MS);
  assert.equal(logRetentionBoundary(T0 + 10 * DAY_MS, 0), T0 + 10 * DAY_MS);
});

for (const engine of ENGINES) {
  test(`${engine}: retention removes the log's days past messageLog.retentionDays, keeps the rest, and keeps everything at 0`, { skip: engineSkip(engine) }, async (t) => {
    const { db } = await openTestDatabase(engine, t);
    // One message on each of 10 days; "now" is an hour into the tenth.
    const now = T0 + 9 * DAY_MS + 3_600_000;
    await createIngest(db, engine, { now: () => now }).ingestBatch(NODE, Array.from({ length: 10 }, (_, d) => event(d + 1, 'message.logged', logged(d + 1, { receivedAt: T0 + d * DAY_MS + 60_000 }))));
    const kept = async () => (await searchMessages(db, engine, { limit: 100 })).items.map((m) => m.receivedAt).sort((a, b) => a - b);
    assert.equal((await kept()).length, 10);

    await logRetention(db, engine, 0, pino({ level: 'silent' }), () => now)();
    assert.equal((await kept()).length, 10, 'retentionDays 0 keeps the log for ever');

    await logRetention(db, engine, 3, pino({ level: 'silent' }), () => now)();
    // Today (day 9) and the three whole days before it (6, 7, 8) stay.
    assert.deepEqual(await kept(), [6, 7, 8, 9].map((d) => T0 + d * DAY_MS + 60_000));
    if (engine === 'postgres') {
      const days = (await listLogPartitions(db, engine)).map((p) => p.day);
      assert.ok(days.every((d) => d >= T0 + 6 * DAY_MS), 'the older days\' partitions are dropped, not emptied');
    }
  });
}
