import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION, RECIPIENT_LISTS_PROTOCOL_VERSION } from '@moat/protocol';
import type { Scanner } from '@moat/scanner';
import { signLink } from '../../apps/master/src/digests/links.ts';
import { createDigestStore } from '../../apps/master/src/digests/settings-repository.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';

// Issue 18: end users' allow and block lists have a store and a version stream of their own on
// the master, pushed to the scanners apart from the rules. An end user's click makes no rules
// version, so an admin's save from a page loaded before it is not stale and cannot undo it.

type Master = Awaited<ReturnType<typeof startTestMaster>>;

/** An end user's session on the master's /user page, as a digest link opens it, and its form value. */
async function endUser(master: Master, recipient: string): Promise<{ cookie: string; csrf: string }> {
  const token = signLink(await createDigestStore(master.database.db).secret(), { action: 'open', nodeId: '', messageId: '', recipient, expiresAt: Date.now() + 600_000 });
  const opened = await fetch(`${master.url}/user/link?t=${encodeURIComponent(token)}`);
  assert.equal(opened.status, 200);
  const cookie = (opened.headers.get('set-cookie') ?? '').split(';')[0]!;
  const page = await (await fetch(`${master.url}/user/`, { headers: { cookie } })).text();
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page)![1]! };
}

async function click(master: Master, user: { cookie: string; csrf: string }, path: string, pattern: string): Promise<void> {
  const res = await fetch(`${master.url}/user/lists/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: user.cookie },
    body: new URLSearchParams({ csrf: user.csrf, pattern }).toString(),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Does this scanner's list check refuse `from` for `rcpt` right now (what RCPT TO will answer)? */
const blocks = (s: Scanner, rcpt: string, from: string) => s.rules.current().ownLists(rcpt)?.block(from) !== undefined;

test('an end user\'s block reaches the scanners on its own stream; an admin\'s save from a page loaded before the click keeps it, without a 409; a scanner offline meanwhile gets it when it reconnects', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const online = await startClusterScanner('lists-online', master.wsUrl, downstream.port);
  let offline: Scanner & { dataDirPath: string } = await startClusterScanner('lists-offline', master.wsUrl, downstream.port);
  try {
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json?.items?.filter((n: { online: boolean }) => n.online).length === 2, 'both scanners online');
    // The admin opens the rules editor now, before the end user's click.
    const loaded = (await api.get('/api/v1/rules')).json as { version: number; document: Record<string, unknown> & { content: unknown[] } };

    // One scanner is down while the end user clicks and while the admin saves.
    const offlineDir = offline.dataDirPath;
    await offline.close();
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json?.items?.find((n: { name: string }) => n.name === 'lists-offline')?.online === false, 'the scanner offline');

    const bob = await endUser(master, 'bob@example.test');
    await click(master, bob, 'block/add', 'pest@annoying.example');
    const lists = (await api.get('/api/v1/recipient-lists')).json;
    assert.equal(lists.version, 1, 'an end-user lists version');
    assert.deepEqual(lists.lists['bob@example.test'], { allow: [], block: ['pest@annoying.example'] });
    assert.equal((await api.get('/api/v1/rules')).json.version, loaded.version, 'no rules version');

    // (a) it takes effect on the scanner: 550 5.7.1 at RCPT TO for bob, and only for bob.
    await waitUntil(() => blocks(online, 'bob@example.test', 'pest@annoying.example'), 'the block on the online scanner');
    const refused = await sendMail(online.smtpPort, { from: 'pest@annoying.example', to: ['bob@example.test'] }, message());
    assert.equal(refused.code, 550, refused.response);
    assert.match(refused.response, /5\.7\.1 .*does not accept mail from this sender/);
    assert.equal((await sendMail(online.smtpPort, { from: 'pest@annoying.example', to: ['carol@example.test'] }, message())).ok, true, 'carol still takes it');

    // (b) the admin saves from the page loaded before the click: not stale, and the entry stays in force.
    const edited = { ...loaded.document, content: [...loaded.document.content, { id: 'admin-edit', target: 'subject', contains: 'ADMIN-EDIT', action: 'tag' }] };
    const saved = await api.put(`/api/v1/rules?baseVersion=${loaded.version}`, edited);
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.json.version, loaded.version + 1);
    assert.deepEqual(saved.json.document.recipientLists, {}, 'the end user\'s entry is not in the rules to be undone');
    await waitUntil(() => online.rules.current().version === saved.json.version, 'the admin\'s rules on the online scanner');
    assert.ok(online.rules.current().rules.content.some((r) => r.id === 'admin-edit'));
    assert.equal(blocks(online, 'bob@example.test', 'pest@annoying.example'), true, 'the block survived the admin\'s save');
    assert.equal((await sendMail(online.smtpPort, { from: 'pest@annoying.example', to: ['bob@example.test'] }, message())).code, 550);
    assert.deepEqual((await api.get('/api/v1/recipient-lists')).json.lists['bob@example.test'], { allow: [], block: ['pest@annoying.example'] });

    // (c) the scanner that was down comes back with its old lists on disk and is pushed the current ones.
    assert.equal(blocks(offline, 'bob@example.test', 'pest@annoying.example'), false, 'it never saw the click');
    offline = await startClusterScanner('lists-offline', master.wsUrl, downstream.port, { dataDir: offlineDir });
    await waitUntil(() => blocks(offline, 'bob@example.test', 'pest@annoying.example') && offline.rules.current().version === saved.json.version, 'the click and the admin\'s save on the reconnected scanner');
    const again = await sendMail(offline.smtpPort, { from: 'pest@annoying.example', to: ['bob@example.test'] }, message());
    assert.equal(again.code, 550, again.response);

    // Removing it is another end-user version, pushed the same way; the rules stay at the admin's version.
    await click(master, bob, 'block/remove', 'pest@annoying.example');
    await waitUntil(() => !blocks(online, 'bob@example.test', 'pest@annoying.example') && !blocks(offline, 'bob@example.test', 'pest@annoying.example'), 'the removal on both scanners');
    assert.equal((await sendMail(offline.smtpPort, { from: 'pest@annoying.example', to: ['bob@example.test'] }, message())).ok, true);
    assert.equal((await api.get('/api/v1/recipient-lists')).json.version, 2);
    assert.equal((await api.get('/api/v1/rules')).json.version, saved.json.version);
  } finally {
    await offline.close();
    await online.close();
    await master.close();
    await downstream.close();
  }
});

test('a scanner one protocol version behind gets the end users\' lists inside its rules, at its hello and at each click', async () => {
  assert.equal(PROTOCOL_VERSION, RECIPIENT_LISTS_PROTOCOL_VERSION, 'this test plays a scanner of the version before the lists\' own frame');
  const downstream = await startDownstream();
  const master = await startTestMaster();
  let older: Scanner | undefined;
  try {
    const bob = await endUser(master, 'bob@example.test');
    await click(master, bob, 'block/add', 'early@annoying.example');
    const scanner = await startClusterScanner('lists-older', master.wsUrl, downstream.port, { protocolVersion: PROTOCOL_VERSION - 1 });
    older = scanner;
    // Pushed at its hello inside the rules (its rules version alone would not say it lacks them).
    await waitUntil(() => scanner.rules.current().rules.recipientLists['bob@example.test']?.block.includes('early@annoying.example') === true, 'the lists inside the rules at the hello');
    await click(master, bob, 'block/add', 'pest@annoying.example');
    await waitUntil(() => blocks(scanner, 'bob@example.test', 'pest@annoying.example'), 'the click inside the rules');
    const refused = await sendMail(scanner.smtpPort, { from: 'pest@annoying.example', to: ['bob@example.test'] }, message());
    assert.equal(refused.code, 550, refused.response);
    const api = await apiClient(master.url);
    assert.deepEqual((await api.get('/api/v1/rules')).json.document.recipientLists, {}, 'the stored rules still carry none');
  } finally {
    await older?.close();
    await master.close();
    await downstream.close();
  }
});
