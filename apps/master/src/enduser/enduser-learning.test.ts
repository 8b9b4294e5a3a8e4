import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { sql } from 'kysely';
import { createAuditLog } from '../audit/audit-log.ts';
import { addNode, delivery, event, ingestInto, logged, msgId, T0 } from '../data/test-fixtures.ts';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import type { ClusterControl } from '../app-deps.ts';
import type { LearnHub } from '../learn/learn-service.ts';
import { createEnduserLearning } from './enduser-learning.ts';

const NODE = 'aaaaaaaaaaaaaaaa';

for (const engine of ENGINES) {
  test(`${engine}: an end user's delivered mail: delivered to them (an element of the delivered list, not a look-alike), retained, let through; newest first; reported when its latest lesson is spam`, { skip: engineSkip(engine) }, async (t) => {
    const database = await openTestDatabase(engine, t);
    const { db } = database;
    await addNode(db, NODE, 'scanner-a');
    const bob = 'bob@example.test';
    const rcptTo = [bob, 'carol@example.test'];
    let seq = 0;
    const ingest = ingestInto(database);
    const add = (n: number, over: Parameters<typeof logged>[1], delivered: string[]) =>
      ingest.ingestBatch(NODE, [event(++seq, 'message.logged', logged(n, { rcptTo, retainedBytes: 100, ...over })), event(++seq, 'delivery.status', delivery(n, 1, { delivered }))]);
    await add(1, {}, [bob]);
    await add(2, { action: 'tag' }, rcptTo);
    await add(3, {}, ['carol@example.test']); // deferred for bob: not delivered to him
    await add(4, { action: 'quarantine' }, [bob]); // not let through by the filter
    await add(5, { retainedBytes: undefined }, [bob]); // no copy kept
    // A look-alike the LIKE test alone would take: another element holding `"bob@example.test"` after an escaped quote.
    await add(6, {}, ['x"bob@example.test', 'carol@example.test']);
    await add(7, {}, ['Bob@Example.test']); // his too: the index stores addresses lower-cased
    // The learn log: message 1 reported as spam, message 2 as spam then unlearned as ham.
    await sql`INSERT INTO learn_messages (digest, size, data, created_at) VALUES ('d', 1, 'x', 0)`.execute(db);
    for (const [id, cls] of [[msgId(1), 'spam'], [msgId(2), 'spam'], [msgId(2), 'ham']] as const) {
      await sql`INSERT INTO learn_events (id, class, digest, size, source, actor, origin_node, origin_message, created_at) VALUES (${`${id}-${cls}-${++seq}`}, ${cls}, 'd', 1, 'user', 'x', ${NODE}, ${id}, 0)`.execute(db);
    }
    const log = pino({ level: 'silent' });
    const learning = createEnduserLearning({ db, cluster: {} as ClusterControl, learn: {} as LearnHub, auditLog: createAuditLog(db, () => T0), log, now: () => T0 });
    const found = await learning.deliveredFor('Bob@example.test', T0, 10);
    assert.deepEqual(found.map((m) => [m.id, m.reported]), [[msgId(7), false], [msgId(2), false], [msgId(1), true]]);
    assert.deepEqual(found[2], { nodeId: NODE, id: msgId(1), receivedAt: logged(1).receivedAt, mailFrom: logged(1).mailFrom, subject: logged(1).subject, reported: true });
    assert.deepEqual((await learning.deliveredFor(bob, logged(7).receivedAt + 1, 10)).map((m) => m.id), [], 'only since');
    assert.deepEqual((await learning.deliveredFor('carol@example.test', T0, 10)).map((m) => m.id), [msgId(6), msgId(3), msgId(2)]);
    assert.deepEqual((await learning.deliveredFor('carol@example.test', T0, 2)).map((m) => m.id), [msgId(6), msgId(3)], 'at most limit');
  });
}
