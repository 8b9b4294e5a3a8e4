import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { signLink } from '../../apps/master/src/digests/links.ts';
import { createDigestStore } from '../../apps/master/src/digests/settings-repository.ts';
import { startDownstream, type ReceivedMail } from '../helpers/downstream.ts';
import { ADMIN_PASSWORD, apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { CHROMIUM, consoleSkip } from '../helpers/console-browser.ts';

/** The text part of a digest, quoted-printable decoded (the composer encodes long lines). */
function digestText(mail: ReceivedMail, type = 'text/plain'): string {
  const raw = mail.raw.toString('latin1');
  const start = raw.indexOf(`Content-Type: ${type}`);
  const part = raw.slice(start, raw.indexOf('\r\n----', start));
  return Buffer.from(part.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

interface DigestEntry {
  readonly subject: string;
  readonly release: string;
  readonly allow: string;
  readonly del: string;
}

function digestEntries(mail: ReceivedMail): DigestEntry[] {
  const text = digestText(mail);
  return [...text.matchAll(/Subject: (.+)\r?\n[\s\S]*?Release: +(\S+)\r?\n +Release and allow sender: +(\S+)\r?\n +Delete: +(\S+)/g)].map((m) => ({
    subject: m[1]!.trim(), release: m[2]!, allow: m[3]!, del: m[4]!,
  }));
}

const queueId = (response: string) => /queued as (\w+)/.exec(response)![1]!;

/** A browser following a link: GET shows the confirmation (and opens the session), POST acts. */
async function follow(url: string): Promise<{ get: Response; getText: string; cookie: string; post?: Response; postText?: string }> {
  const get = await fetch(url, { redirect: 'manual' });
  const getText = await get.text();
  const cookie = (get.headers.get('set-cookie') ?? '').split(';')[0]!;
  if (get.status !== 200) return { get, getText, cookie };
  const token = new URL(url).searchParams.get('t')!;
  const post = await postForm(new URL('/user/link', url).toString(), { t: token }, cookie);
  return { get, getText, cookie, post, postText: await post.text() };
}

function postForm(url: string, fields: Record<string, string>, cookie = ''): Promise<Response> {
  return fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) }, body: new URLSearchParams(fields).toString() });
}

test('digests: one per recipient across scanners, signed links release, allow and refuse; per-recipient lists reach the scanners', async () => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const s1 = await startClusterScanner('scanner-a', master.wsUrl, downstream.port);
  const s2 = await startClusterScanner('scanner-b', master.wsUrl, downstream.port);
  let scanners = [s1, s2];
  try {
    const api = await apiClient(master.url);
    // The only new routes without console auth are the end users' pages, and the digest API is admin-only.
    type Route = { readonly method: string; readonly url: string; readonly public: boolean; readonly role?: string | undefined };
    const routes = (master.app as unknown as { routeTable: readonly Route[] }).routeTable;
    const publicUser = routes.filter((r) => r.public && r.url.startsWith('/user')).map((r) => `${r.method} ${r.url}`).sort();
    assert.deepEqual(publicUser, ['GET /user/', 'GET /user/link', 'GET /user/style.css', 'HEAD /user/', 'HEAD /user/link', 'HEAD /user/style.css', 'POST /user/delivered/:node/:id/report', 'POST /user/link', 'POST /user/lists/:list/:op', 'POST /user/logout', 'POST /user/messages/:node/:id/:action']);
    assert.ok(routes.filter((r) => r.url.startsWith('/api/v1/digests')).every((r) => !r.public && r.role === 'admin'));
    assert.equal((await fetch(`${master.url}/api/v1/digests/settings`)).status, 401);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.filter((n: { online: boolean }) => n.online).length === 2, 'both nodes online');
    const put = await api.put('/api/v1/digests/settings', { senders: { 'example.test': 'quarantine@example.test' }, linkHours: 2 });
    assert.equal(put.status, 200, put.text);
    const bad = await api.put('/api/v1/digests/settings', { templates: { text: '{{#messages}}{{nope}}' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, 'MOAT_ERR_DIGEST_SETTINGS_INVALID');
    assert.equal(bad.json.details[0].field, 'templates.text');

    // Two messages for bob, held on two different scanners; one for carol.
    const held1 = await sendMail(s1.smtpPort, { from: 'news@shop.example', to: ['bob@example.test'] }, message({ subject: 'QUARANTINE-ME one <b>', to: 'bob@example.test' }));
    const held2 = await sendMail(s2.smtpPort, { from: 'deals@market.example', to: ['bob@example.test'] }, message({ subject: 'QUARANTINE-ME two', to: 'bob@example.test' }));
    const held3 = await sendMail(s2.smtpPort, { from: 'x@other.example', to: ['carol@example.test'] }, message({ subject: 'QUARANTINE-ME three', to: 'carol@example.test' }));
    assert.ok(held1.ok && held2.ok && held3.ok);
    await waitUntil(async () => (await api.get('/api/v1/quarantine')).json.items.length === 3, 'three held messages indexed');

    const round = await api.post('/api/v1/digests/run');
    assert.equal(round.status, 200, round.text);
    assert.deepEqual(round.json, { queued: 2, messages: 3, waiting: 0 });
    await downstream.waitFor(2);
    const bobDigest = downstream.received.find((m) => m.to[0] === 'bob@example.test')!;
    assert.ok(bobDigest, 'bob got one digest');
    assert.equal(bobDigest.from, 'quarantine@example.test', 'the domain\'s digest sender');
    assert.match(bobDigest.raw.toString(), /^Auto-Submitted: auto-generated/m);
    const entries = digestEntries(bobDigest);
    assert.deepEqual(entries.map((e) => e.subject).sort(), ['QUARANTINE-ME one <b>', 'QUARANTINE-ME two'], 'both scanners\' messages in one digest');
    assert.match(digestText(bobDigest, 'text/html'), /<td>QUARANTINE-ME one &#60;b&#62;<\/td>/, 'the HTML part escapes the subject');
    assert.equal(downstream.received.filter((m) => m.to[0] === 'bob@example.test').length, 1);

    // Each held message appears in one digest only.
    assert.deepEqual((await api.post('/api/v1/digests/run')).json, { queued: 0, messages: 0, waiting: 0 });

    // A tampered link and an expired one are refused with a page that says so; nothing released.
    const one = entries.find((e) => e.subject.startsWith('QUARANTINE-ME one'))!;
    const token = new URL(one.release).searchParams.get('t')!;
    const [payload, signature] = token.split('.') as [string, string];
    const forgedPayload = Buffer.from(Buffer.from(payload, 'base64url').toString().replace('bob@', 'eve@')).toString('base64url');
    for (const tampered of [`${forgedPayload}.${signature}`, `${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`, 'junk']) {
      const res = await fetch(`${master.url}/user/link?t=${encodeURIComponent(tampered)}`);
      assert.equal(res.status, 403, tampered);
      assert.match(await res.text(), /This link is not valid/);
      assert.equal((await postForm(`${master.url}/user/link`, { t: tampered })).status, 403);
    }
    const secret = await createDigestStore(master.database.db).secret();
    const fields = JSON.parse(Buffer.from(payload, 'base64url').toString()) as [string, string, string, string, number];
    const expired = signLink(secret, { action: 'release', nodeId: fields[1], messageId: fields[2], recipient: fields[3], expiresAt: Date.now() - 1000 });
    const expiredRes = await fetch(`${master.url}/user/link?t=${expired}`);
    assert.equal(expiredRes.status, 410);
    assert.match(await expiredRes.text(), /This link has expired/);
    assert.equal(downstream.received.length, 2, 'nothing released by refused links');

    // The release link: the GET only confirms (strict CSP, no referrer); the POST releases to the sink.
    const released = await follow(one.release);
    assert.equal(released.get.status, 200);
    assert.match(released.get.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(released.get.headers.get('referrer-policy'), 'no-referrer');
    assert.match(released.getText, /QUARANTINE-ME one &#60;b&#62;/);
    assert.equal(released.post!.status, 200, released.postText);
    assert.match(released.postText!, /released/);
    await downstream.waitFor(3);
    assert.match(downstream.received[2]!.raw.toString(), /Subject: QUARANTINE-ME one <b>/);
    assert.deepEqual(downstream.received[2]!.to, ['bob@example.test']);
    // Idempotent: the second click says so and sends nothing.
    const again = await postForm(`${master.url}/user/link`, { t: token });
    assert.equal(again.status, 200);
    assert.match(await again.text(), /already released/);
    const audit = await api.get('/api/v1/audit?action=quarantine.release');
    assert.equal(audit.json.entries[0].username, 'enduser:bob@example.test', audit.text);
    assert.equal(audit.json.entries[0].via, 'digest-link');

    // "Release and allow the sender": released, and the sender is on bob's own allow list (an end-user lists version, not a rules version).
    const two = entries.find((e) => e.subject === 'QUARANTINE-ME two')!;
    const versionBefore = s1.rules.current().version;
    const allowed = await follow(two.allow);
    assert.equal(allowed.post!.status, 200, allowed.postText);
    assert.match(allowed.postText!, /deals@market\.example/);
    await downstream.waitFor(4);
    await waitUntil(() => scanners.every((s) => s.rules.current().ownLists('bob@example.test')?.allow('deals@market.example') !== undefined), 'bob\'s allow list on both scanners');
    assert.equal(s1.rules.current().version, versionBefore, 'no rules version');
    const lists = (await api.get('/api/v1/recipient-lists')).json.lists;
    assert.deepEqual(lists['bob@example.test'], { allow: ['deals@market.example'], block: [] });
    const rulesAudit = await api.get('/api/v1/audit?action=rules.recipient-lists');
    assert.match(rulesAudit.text, /enduser:bob@example\.test/);

    // The next message from that sender passes for bob only; carol still gets it quarantined.
    const toBob = await sendMail(s2.smtpPort, { from: 'deals@market.example', to: ['bob@example.test'] }, message({ subject: 'QUARANTINE-ME again for bob' }));
    assert.equal(toBob.ok, true);
    await downstream.waitFor(5);
    assert.match(downstream.received[4]!.raw.toString(), /QUARANTINE-ME again for bob/);
    const toCarol = await sendMail(s1.smtpPort, { from: 'deals@market.example', to: ['carol@example.test'] }, message({ subject: 'QUARANTINE-ME again for carol' }));
    assert.equal(toCarol.ok, true);
    assert.equal((s1.db.prepare('SELECT status FROM quarantine WHERE id = ?').get(queueId(toCarol.response)) as { status: string } | undefined)?.status, 'held');

    // bob's page (the session the link opened): his messages only, and his lists; he blocks a sender.
    const page = await fetch(`${master.url}/user/`, { headers: { cookie: allowed.cookie } });
    const pageText = await page.text();
    assert.equal(page.status, 200);
    assert.match(pageText, /deals@market\.example/);
    assert.doesNotMatch(pageText, /QUARANTINE-ME three|carol/, 'nothing of another recipient');
    const csrf = /name="csrf" value="([^"]+)"/.exec(pageText)![1]!;
    assert.equal((await postForm(`${master.url}/user/lists/block/add`, { csrf: 'wrong', pattern: 'pest@annoying.example' }, allowed.cookie)).status, 403);
    assert.equal((await postForm(`${master.url}/user/lists/block/add`, { csrf, pattern: 'not an address' }, allowed.cookie)).status, 400);
    assert.equal((await postForm(`${master.url}/user/lists/allow/add`, { csrf, pattern: '*' }, allowed.cookie)).status, 400);
    const blocked = await postForm(`${master.url}/user/lists/block/add`, { csrf, pattern: 'pest@annoying.example' }, allowed.cookie);
    assert.equal(blocked.status, 200, await blocked.text());
    await waitUntil(() => scanners.every((s) => s.rules.current().ownLists('bob@example.test')?.block('pest@annoying.example') !== undefined), 'the block list on both scanners');
    const refused = await sendMail(s1.smtpPort, { from: 'pest@annoying.example', to: ['bob@example.test'] }, message());
    assert.equal(refused.code, 550);
    assert.match(refused.response, /5\.7\.1/);
    assert.equal((await sendMail(s1.smtpPort, { from: 'pest@annoying.example', to: ['carol@example.test'] }, message())).ok, true, 'carol still takes it');
    // Without the session the page is closed; an unknown session is too.
    assert.equal((await fetch(`${master.url}/user/`)).status, 401);
    assert.equal((await fetch(`${master.url}/user/`, { headers: { cookie: 'moat_enduser=forged' } })).status, 401);
    // A message of someone else cannot be acted on from bob's session.
    const carolHeld = (await api.get('/api/v1/quarantine?recipient=carol@example.test')).json.items[0] as { id: string; nodeId: string };
    const other = await postForm(`${master.url}/user/messages/${carolHeld.nodeId}/${carolHeld.id}/release`, { csrf }, allowed.cookie);
    assert.equal(other.status, 404);

    // A message held for two recipients: each releases or removes only their own copy.
    const shared = await sendMail(s2.smtpPort, { from: 'promo@list.example', to: ['erin@example.test', 'frank@example.test'] }, message({ subject: 'QUARANTINE-ME shared' }));
    const sharedId = queueId(shared.response);
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${sharedId}`)).status === 200, 'the shared message indexed');
    const base = downstream.received.length;
    // (carol's digest of the message allowed for bob only goes out in this round too)
    assert.deepEqual((await api.post('/api/v1/digests/run')).json, { queued: 3, messages: 3, waiting: 0 });
    await downstream.waitFor(base + 3);
    assert.match(digestText(downstream.received.slice(base).find((m) => m.to[0] === 'carol@example.test')!), /QUARANTINE-ME again for carol/);
    const digestOf = (rcpt: string) => downstream.received.slice(base).find((m) => m.to[0] === rcpt)!;
    const erinLinks = digestEntries(digestOf('erin@example.test'))[0]!;
    const erin = await follow(erinLinks.release);
    assert.equal(erin.post!.status, 200, erin.postText);
    await downstream.waitFor(base + 4);
    const copy = downstream.received[base + 3]!;
    assert.deepEqual(copy.to, ['erin@example.test'], 'released to erin only');
    assert.match(copy.raw.toString(), /QUARANTINE-ME shared/);
    assert.match(await (await postForm(`${master.url}/user/link`, { t: new URL(erinLinks.release).searchParams.get('t')! })).text(), /already released/);
    assert.equal((await api.get(`/api/v1/quarantine/${sharedId}`)).json.status, 'held', 'still held for frank');
    assert.doesNotMatch(await (await fetch(`${master.url}/user/`, { headers: { cookie: erin.cookie } })).text(), /QUARANTINE-ME shared/);
    const frankPortal = /Your quarantine and your allow and block lists: (\S+)/.exec(digestText(digestOf('frank@example.test')))![1]!;
    const frankOpen = await fetch(frankPortal, { redirect: 'manual' });
    assert.equal(frankOpen.status, 200, 'a page that steps to /user/ on its own site');
    const frankCookie = (frankOpen.headers.get('set-cookie') ?? '').split(';')[0]!;
    const frankPage = await (await fetch(`${master.url}/user/`, { headers: { cookie: frankCookie } })).text();
    assert.match(frankPage, /QUARANTINE-ME shared/);
    const frankCsrf = /name="csrf" value="([^"]+)"/.exec(frankPage)![1]!;
    const removed = await postForm(`${master.url}/user/messages/${(await api.get(`/api/v1/quarantine/${sharedId}`)).json.nodeId}/${sharedId}/delete`, { csrf: frankCsrf }, frankCookie);
    assert.match(await removed.text(), /removed from your quarantine/);
    assert.doesNotMatch(await (await fetch(`${master.url}/user/`, { headers: { cookie: frankCookie } })).text(), /QUARANTINE-ME shared/);
    assert.equal(downstream.received.length, base + 4, 'nothing delivered to frank');

    // No scanner online: the round waits and says so; the next round after one is back sends it.
    const late = await sendMail(s1.smtpPort, { from: 'x@other.example', to: ['carol@example.test'] }, message({ subject: 'QUARANTINE-ME while down' }));
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${queueId(late.response)}`)).status === 200, 'the last one indexed');
    await Promise.all(scanners.map((s) => s.close()));
    scanners = [];
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.every((n: { online: boolean }) => !n.online), 'both nodes offline');
    const waiting = await api.post('/api/v1/digests/run');
    assert.equal(waiting.json.queued, 0);
    assert.ok(waiting.json.waiting >= 1, waiting.text);
    const back = await startClusterScanner('scanner-a', master.wsUrl, downstream.port, { dataDir: s1.dataDirPath });
    scanners = [back];
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.some((n: { online: boolean }) => n.online), 'a node back');
    const before = downstream.received.length;
    const resumed = await api.post('/api/v1/digests/run');
    assert.equal(resumed.json.waiting, 0, resumed.text);
    assert.ok(resumed.json.queued >= 1);
    await downstream.waitFor(before + resumed.json.queued);
    assert.ok(downstream.received.slice(before).some((m) => m.to[0] === 'carol@example.test' && /QUARANTINE-ME while down/.test(digestText(m))));
  } finally {
    await Promise.all(scanners.map((s) => s.close()));
    await master.close();
    await downstream.close();
  }
});

const SHOTS = fileURLToPath(new URL('../../docs/console/', import.meta.url));

test('in a browser: the console\'s Digests page saves settings and names a bad template; the end-user page runs under its CSP', { skip: consoleSkip, timeout: 120_000 }, async (t) => {
  const downstream = await startDownstream();
  const master = await startTestMaster();
  const scanner = await startClusterScanner('scanner-a', master.wsUrl, downstream.port);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  t.after(async () => {
    await browser.close();
    await scanner.close();
    await master.close();
    await downstream.close();
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  await page.goto(master.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  await page.click('nav >> text=Digests');
  await page.waitForSelector('form.digests-form');
  await page.fill('#digests-baseUrl', 'not a url');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-field-error=baseUrl]');
  await page.fill('#digests-baseUrl', master.url);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=notice]');
  assert.match(await page.textContent('[data-testid=notice]') ?? '', /Saved/);
  await page.screenshot({ path: `${SHOTS}digests.png`, fullPage: true });
  const api = await apiClient(master.url);
  assert.equal((await api.get('/api/v1/digests/settings')).json.settings.baseUrl, master.url);

  // A held message, its digest, and the recipient's page opened from it.
  assert.ok((await sendMail(scanner.smtpPort, { from: 'news@shop.example', to: ['bob@example.test'] }, message({ subject: 'QUARANTINE-ME in a browser' }))).ok);
  await waitUntil(async () => (await api.get('/api/v1/quarantine')).json.items.length === 1, 'indexed');
  await page.click('text=Send digests now');
  await downstream.waitFor(1);
  const portal = /Your quarantine and your allow and block lists: (\S+)/.exec(digestText(downstream.received[0]!))![1]!;
  const user = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  user.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  await user.goto(portal);
  await user.waitForSelector('text=QUARANTINE-ME in a browser');
  assert.match(String(await user.evaluate('getComputedStyle(document.body).fontFamily')), /system-ui/, 'the stylesheet loaded');
  await user.fill('input[name=pattern] >> nth=0', 'friend@partner.example');
  await user.click('form[action="/user/lists/allow/add"] button');
  await user.waitForSelector('text=is now on your accepted senders');
  await user.goto(`${master.url}/user/`);
  await user.waitForSelector('li:has-text("friend@partner.example")');
  await user.screenshot({ path: `${SHOTS}enduser.png`, fullPage: true });
  await user.click('button:has-text("Release") >> nth=0');
  await user.waitForSelector('text=released');
  await downstream.waitFor(2);
  assert.deepEqual(violations, []);
});
