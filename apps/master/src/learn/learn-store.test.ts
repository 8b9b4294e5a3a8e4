import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MAX_LEARN_BYTES, type LearnEvent } from '@moat/protocol';
import { ENGINES, engineSkip, openTestDatabase } from '../testing/databases.ts';
import { createLearnStore, learnMessageOf } from './learn-store.ts';
import { LearnDispatcher } from './learn-dispatcher.ts';

const mail = (n: number) => Buffer.from(`From: a@example.test\r\nSubject: message ${n}\r\n\r\nbody ${n}\r\n`);
const by = { source: 'admin', actor: 'admin' } as const;

for (const engine of ENGINES) {
  test(`${engine}: the same message and class again is no new event; the other class reverses it, naming what to forget`, { skip: engineSkip(engine) }, async (t) => {
    const store = createLearnStore((await openTestDatabase(engine, t)).db);
    const first = await store.record({ message: learnMessageOf(mail(1)), class: 'spam', ...by }, 1000);
    assert.equal(first.created, true);
    assert.equal(first.event.seq, 1);
    assert.equal(first.event.unlearn, null);
    const again = await store.record({ message: learnMessageOf(mail(1)), class: 'spam', source: 'cli', actor: 'other' }, 2000);
    assert.equal(again.created, false);
    assert.equal(again.event.seq, 1);
    const reversed = await store.record({ message: learnMessageOf(mail(1)), class: 'ham', ...by }, 3000);
    assert.equal(reversed.created, true);
    assert.equal(reversed.event.seq, 2);
    assert.equal(reversed.event.unlearn, 'spam');
    const back = await store.record({ message: learnMessageOf(mail(1)), class: 'spam', ...by }, 4000);
    assert.equal(back.event.unlearn, 'ham');
    assert.equal(await store.lastSeq(), 3);
    assert.deepEqual(await store.counts(3), { spam: 2, ham: 1 });
    assert.deepEqual(await store.counts(1), { spam: 1, ham: 0 });
  });

  test(`${engine}: the log is read in order with each message, whose first MAX_LEARN_BYTES are kept`, { skip: engineSkip(engine) }, async (t) => {
    const store = createLearnStore((await openTestDatabase(engine, t)).db);
    const big = Buffer.concat([mail(2), Buffer.alloc(MAX_LEARN_BYTES, 'x')]);
    await store.record({ message: learnMessageOf(mail(1)), class: 'ham', ...by, origin: { nodeId: '0123456789abcdef', messageId: 'A'.repeat(20) } }, 1);
    await store.record({ message: learnMessageOf(big), class: 'spam', ...by }, 2);
    const one = (await store.next(0))!;
    assert.equal(one.seq, 1);
    assert.equal(one.originNode, '0123456789abcdef');
    assert.deepEqual(Buffer.from(one.data, 'base64'), mail(1));
    const two = (await store.next(1))!;
    assert.equal(two.size, big.length);
    assert.equal(Buffer.from(two.data, 'base64').length, MAX_LEARN_BYTES);
    assert.equal(await store.next(2), undefined);
  });

  test(`${engine}: the dispatcher sends one event at a time from where a node stopped, holds a failed one, and tells waiters when every node applied`, { skip: engineSkip(engine) }, async (t) => {
    const store = createLearnStore((await openTestDatabase(engine, t)).db);
    for (let i = 1; i <= 3; i++) await store.record({ message: learnMessageOf(mail(i)), class: 'spam', ...by }, i);
    const d = new LearnDispatcher({ store, log: pino({ level: 'silent' }), now: () => 5 });
    const sent: { a: LearnEvent[]; b: LearnEvent[] } = { a: [], b: [] };
    d.attach('a', 'scanner-a', (f) => sent.a.push(f));
    d.attach('b', 'scanner-b', (f) => sent.b.push(f));
    assert.equal(sent.a.length, 0, 'nothing before the node says where it stands');
    const waiting = d.waitApplied(3, 60_000);
    await d.acked('a', 1, undefined);
    await d.acked('b', 3, undefined);
    assert.deepEqual(sent.a.map((f) => f.seq), [2]);
    assert.equal(sent.b.length, 0);
    await d.acked('a', 1, 'spamassassin: spamd: ECONNREFUSED');
    assert.deepEqual(sent.a.map((f) => f.seq), [2], 'a failed event is not sent again, nor passed');
    assert.equal((await store.node('a'))?.error, 'spamassassin: spamd: ECONNREFUSED');
    await d.acked('a', 2, undefined);
    assert.deepEqual(sent.a.map((f) => f.seq), [2, 3]);
    assert.equal((await store.node('a'))?.error, null);
    await d.acked('a', 3, undefined);
    const outcome = await waiting;
    assert.equal(outcome.complete, true);
    assert.deepEqual(outcome.applied.sort(), ['scanner-a', 'scanner-b']);
    assert.equal((await store.node('a'))?.seq, 3);
    // A wait that runs out names who is behind; a node that goes offline no longer counts.
    await store.record({ message: learnMessageOf(mail(4)), class: 'ham', ...by }, 6);
    d.published();
    const timedOut = await d.waitApplied(4, 1);
    assert.equal(timedOut.complete, false);
    assert.deepEqual(timedOut.pending.map((p) => p.node).sort(), ['scanner-a', 'scanner-b']);
    const afterDetach = d.waitApplied(4, 60_000);
    await d.acked('a', 4, undefined);
    d.detach('b');
    assert.deepEqual((await afterDetach).applied, ['scanner-a']);
    // A publish while a node's next event is being read sends it once, not twice.
    const c: LearnEvent[] = [];
    d.attach('c', 'scanner-c', (f) => c.push(f));
    const ack = d.acked('c', 0, undefined);
    d.published();
    d.published();
    await ack;
    assert.deepEqual(c.map((f) => f.seq), [1]);
    d.close();
  });
}
