import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRules } from '@moat/rules';
import { startDownstream } from '../helpers/downstream.ts';
import { startTestMaster, startClusterScanner } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { sendMail, message, type SendResult } from '../helpers/smtp-client.ts';
import { sleep, waitUntil } from '../helpers/wait.ts';

const DELAY_SECONDS = 3;

const RULES = validateRules({
  ...BASE_RULES,
  lists: { ...BASE_RULES.lists, senderAllow: ['*@friend.test'] },
  greylisting: { enabled: true, delaySeconds: DELAY_SECONDS, expirySeconds: 120, passSeconds: 600, lookupTimeoutMs: 2000 },
});

/**
 * Greylisting is about time: wait until the configured delay since `since` has passed (not a
 * guess). `since` is taken when the first attempt was answered: the triplet was first seen before
 * that, so the delay has surely run out (a time taken before sending is too early: on a loaded
 * machine the first attempt reached the greylist check about a second after it).
 */
async function delayServed(since: number): Promise<void> {
  const left = since + DELAY_SECONDS * 1000 + 50 - Date.now();
  if (left > 0) await sleep(left);
}

function assertGreylisted(r: SendResult, what: string): void {
  assert.equal(r.code, 451, `${what}: ${r.response}`);
  assert.match(r.response, /4\.7\.1 <user@example\.test>: Greylisted: .* please retry in \d+ seconds/, what);
}

test('greylisting is shared through the master: deferred on one scanner, accepted on the other after the delay; allow-lists skip it; master down: each scanner decides from its own state', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster({ seed: RULES });
  const a = await startClusterScanner('grey-a', master.wsUrl, downstream.port);
  const b = await startClusterScanner('grey-b', master.wsUrl, downstream.port);
  try {
    await waitUntil(() => a.link?.isConnected && b.link?.isConnected, 'both scanners linked');
    assert.equal(a.rules.current().rules.greylisting.enabled, true);
    const send = (port: number, from: string) => sendMail(port, { from, to: ['user@example.test'] }, message({ from }));

    // First attempt on A, and a retry on A before the delay: both 451 4.7.1.
    const first = await send(a.smtpPort, 'first@origin.test');
    const t0 = Date.now();
    assertGreylisted(first, 'first attempt');
    assertGreylisted(await send(a.smtpPort, 'first@origin.test'), 'retry before the delay');
    assert.equal(downstream.received.length, 0);

    // After the delay the retry lands on B, which has never seen this triplet: the master's state lets it in.
    await delayServed(t0);
    const onB = await send(b.smtpPort, 'first@origin.test');
    assert.equal(onB.code, 250, onB.response);
    await downstream.waitFor(1);
    // Known-good now: A takes it too (from the master, or its cache).
    assert.equal((await send(a.smtpPort, 'first@origin.test')).code, 250);

    // An allow-listed sender is never greylisted.
    const friend = await send(a.smtpPort, 'pal@friend.test');
    assert.equal(friend.code, 250, friend.response);

    // The master goes down: each scanner falls back to its own table.
    await master.close();
    await waitUntil(() => !a.link?.isConnected && !b.link?.isConnected, 'both links down');
    const firstOnA = await send(a.smtpPort, 'second@origin.test');
    const t1 = Date.now();
    assertGreylisted(firstOnA, 'master down, first attempt on A');
    await delayServed(t1);
    assertGreylisted(await send(b.smtpPort, 'second@origin.test'), 'master down, the retry on B: B never saw it');
    const retryOnA = await send(a.smtpPort, 'second@origin.test');
    assert.equal(retryOnA.code, 250, `master down, the retry on A passes from A's own table: ${retryOnA.response}`);
    // A triplet that passed while the master was up passes on from the local cache.
    assert.equal((await send(b.smtpPort, 'first@origin.test')).code, 250);
  } finally {
    await a.close();
    await b.close();
    await master.close();
    await downstream.close();
  }
});
