import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDnsStub, startRedis, startRspamd, startSpamd, type DnsStub, type Redis, type Rspamd, type Spamd } from '@moat/engines';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { engineSkip } from '../helpers/engines.ts';
import { sendMail } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

// Issue 17's end-to-end learning test: a master and two scanners, each with its own spamd
// (--allow-tell), Redis and Rspamd with fuzzy storage; `moat learn` teaches them 200 spam and
// 200 ham (both engines' Bayes vote only from there); a message delivered on scanner A and
// marked as spam on the master makes a changed copy of it flagged on scanner B, and "not spam"
// restores B's earlier verdict. (An offline scanner catching up is learning.integration.test.ts.)

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);
const skip = engineSkip('spamd', 'spamd') || engineSkip('rspamd', 'rspamd') || engineSkip('redis-server', 'redis-server');

interface Engines {
  readonly spamd: Spamd;
  readonly redis: Redis;
  readonly rspamd: Rspamd;
}

async function startEngines(dns: DnsStub): Promise<Engines> {
  const [spamd, redis] = await Promise.all([startSpamd({ allowTell: true }), startRedis()]);
  const rspamd = await startRspamd({ redis: redis.address, dnsServer: dns.address, fuzzy: true });
  return { spamd, redis, rspamd };
}

const analyzersFor = (e: Engines) => ({
  spamassassin: { host: '127.0.0.1', port: e.spamd.port, timeoutSeconds: 30 },
  rspamd: { url: e.rspamd.url, controllerUrl: e.rspamd.controllerUrl, fuzzy: true, timeoutSeconds: 30 },
});

// Synthetic mail: each class has its own vocabulary, so 200 of each teach both Bayes classifiers a clear difference.
const SPAM_WORDS = 'winner prize claim urgent cash bonus casino jackpot lottery pills pharmacy discount viagra cheap replica watches loan approved credit debt wire transfer beneficiary inheritance million dollars bitcoin investment guaranteed returns unsubscribe limited offer act now exclusive deal free trial click here verify account suspended password refund'.split(' ');
const HAM_WORDS = 'meeting agenda minutes project milestone review draft patch release build compiler kernel module regression benchmark thanks regards colleague schedule lunch tomorrow thursday conference slides paper deadline library upstream bugfix changelog documentation mailing list question answer reply attached spreadsheet budget quarterly'.split(' ');
// The message that users will mark: plain English prose of words neither class was taught, so Bayes has no opinion
// of it at first. Prose, not a bag of words: Rspamd stems words by the language it detects before it hashes them,
// and a list of rare words can be taken for another language on one check and for English on the next.
const NEUTRAL_SENTENCES = [
  'The autumn fair in the village will open on Saturday morning by the old stone bridge.',
  'There will be apple cider, fresh bread from the bakery and honey from the farms around the river.',
  'Children can paint pumpkins in the barn while their parents walk through the orchard.',
  'In the afternoon the brass band plays in the square, and the lanterns are lit when it gets dark.',
  'If you would like to help with the tables or the parking, please write to us before the end of the week.',
  'We are also looking for people who can bake a cake or two for the tea tent near the church.',
  'The ferry to the island runs every hour, and the last boat back leaves at half past seven.',
  'Thank you to everyone who helped last year; the money we raised paid for a new roof on the village hall.',
  'See you at the fair, and do not forget to bring a basket for the apples.',
];

function words(list: readonly string[], seed: number, n: number): string[] {
  const out: string[] = [];
  let x = seed * 7919 + 13;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(list[(x >> 8) % list.length]!);
  }
  return out;
}

function mail(from: string, subject: string, id: string, body: readonly string[]): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < body.length; i += 12) lines.push(body.slice(i, i + 12).join(' '));
  return Buffer.from([
    `From: ${from}`, 'To: user@example.test', `Subject: ${subject}`, `Message-ID: <${id}>`, `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '', ...lines, '',
  ].join('\r\n'));
}

const spam = (n: number) => mail(`promo${n}@deals${n % 17}.example`, `${words(SPAM_WORDS, n, 4).join(' ')}`, `spam-${n}@deals.example`, words(SPAM_WORDS, n, 110));
const ham = (n: number) => mail(`dev${n % 23}@lists${n % 5}.example.org`, `Re: ${words(HAM_WORDS, n + 5000, 4).join(' ')}`, `ham-${n}@lists.example.org`, words(HAM_WORDS, n + 5000, 110));

/** The queue id in a scanner's 250 reply. */
const queueId = (response: string) => /queued as (\S+)/.exec(response)?.[1] ?? assert.fail(`no queue id in ${response}`);

interface Logged {
  action: string;
  score: number;
  reasons: Array<{ kind: string; rule: string; match: string; score?: number }>;
  retained: { status: string } | null;
}

test('learned on the master, applied on every scanner: a message marked as spam after it was delivered on scanner A makes a changed copy flagged on scanner B (Rspamd fuzzy), and "not spam" restores the earlier verdict', { skip, timeout: 300_000 }, async (t) => {
  const dns = await startDnsStub();
  t.after(() => dns.stop());
  const [a, b] = await Promise.all([startEngines(dns), startEngines(dns)]);
  t.after(async () => {
    for (const e of [a, b]) {
      await Promise.all([e.spamd.stop(), e.rspamd.stop()]);
      await e.redis.stop();
    }
  });
  const downstream = await startDownstream();
  t.after(() => downstream.close());
  const master = await startTestMaster();
  t.after(() => master.close());
  const scannerA = await startClusterScanner('scanner-a', master.wsUrl, downstream.port, { analyzers: analyzersFor(a) });
  t.after(() => scannerA.close());
  const scannerB = await startClusterScanner('scanner-b', master.wsUrl, downstream.port, { analyzers: analyzersFor(b) });
  t.after(() => scannerB.close());
  const api = await apiClient(master.url);
  const nodeIds = new Map<string, string>();
  await waitUntil(async () => {
    const items = (await api.get('/api/v1/learn/nodes')).json.items as { nodeId: string; name: string; online: boolean }[];
    for (const n of items) nodeIds.set(n.name, n.nodeId);
    return items.filter((n) => n.online).length === 2;
  }, 'both scanners online', 20_000);

  /** Send through a scanner; its entry in the master's log once it is there. */
  const through = async (scanner: { smtpPort: number }, node: string, raw: Buffer, from: string): Promise<Logged & { id: string }> => {
    const sent = await sendMail(scanner.smtpPort, { from, to: ['user@example.test'] }, raw);
    assert.equal(sent.ok, true, sent.response);
    const id = queueId(sent.response);
    let logged: Logged | undefined;
    await waitUntil(async () => (logged = (await api.get(`/api/v1/messages/${nodeIds.get(node)}/${id}`)).json as Logged).action !== undefined, `message ${id} in the log`, 20_000);
    return { ...logged!, id };
  };
  /** Send a message that is to be flagged: tagged or quarantined (its entry in the master's log), or refused (550, no queue id: its row in the scanner's own log). */
  const flaggedThrough = async (scanner: typeof scannerB, node: string, raw: Buffer, from: string): Promise<Logged> => {
    const sent = await sendMail(scanner.smtpPort, { from, to: ['user@example.test'] }, raw);
    if (sent.code !== 550) {
      assert.equal(sent.ok, true, sent.response);
      const id = queueId(sent.response);
      let logged: Logged | undefined;
      await waitUntil(async () => (logged = (await api.get(`/api/v1/messages/${nodeIds.get(node)}/${id}`)).json as Logged).action !== undefined, `message ${id} in the log`, 20_000);
      return logged!;
    }
    const row = scanner.db.prepare("SELECT action, score, reasons FROM messages WHERE status = 'rejected' AND mail_from = ? ORDER BY received_at DESC LIMIT 1").get(from) as { action: string; score: number; reasons: string };
    return { action: row.action, score: row.score, reasons: JSON.parse(row.reasons) as Logged['reasons'], retained: null };
  };
  const reasonIds = (m: Logged) => m.reasons.filter((r) => (r.score ?? 0) !== 0).map((r) => `${r.rule}(${r.score})`).join(' ');

  await t.test('moat learn teaches 200 spam and 200 ham to both scanners, and both engines\' Bayes then vote on new mail', async () => {
    const corpus = tempDir('learn-fuzzy-corpus');
    t.after(() => corpus.cleanup());
    for (const [dir, make] of [['spam', spam], ['ham', ham]] as const) {
      mkdirSync(join(corpus.path, dir));
      for (let n = 0; n < 200; n++) writeFileSync(join(corpus.path, dir, `${n}.eml`), make(n));
    }
    const token = (await api.post('/api/v1/tokens', { name: 'learn' })).json.token as string;
    const run = await execFileAsync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'learn', '--master', master.url, '--spam', join(corpus.path, 'spam'), '--ham', join(corpus.path, 'ham')], { env: { ...process.env, MOAT_TOKEN: token }, encoding: 'utf8' });
    assert.match(run.stderr, /learned 200 spam and 200 ham \(400 new, 0 already known\); applied on every online scanner \(scanner-a, scanner-b\)/);
    const nodes = (await api.get('/api/v1/learn/nodes')).json.items as { name: string; spam: number; ham: number; behind: number }[];
    for (const n of nodes) assert.deepEqual({ spam: n.spam, ham: n.ham, behind: n.behind }, { spam: 200, ham: 200, behind: 0 }, n.name);

    // Mail neither was taught: both Bayes classifiers of the *other* node say what it is.
    const newSpam = await through(scannerB, 'scanner-b', spam(900), 'promo900@deals.example');
    assert.ok(newSpam.reasons.some((r) => r.rule === 'rspamd.bayes' && (r.score ?? 0) > 0), `Rspamd's Bayes votes spam: ${reasonIds(newSpam)}`);
    assert.ok(newSpam.reasons.some((r) => r.rule === 'spamassassin.bayes' && (r.score ?? 0) > 0), `SpamAssassin's Bayes votes spam: ${reasonIds(newSpam)}`);
    const newHam = await through(scannerB, 'scanner-b', ham(900), 'dev1@lists1.example.org');
    assert.equal(newHam.action, 'deliver', reasonIds(newHam));
    assert.ok(newHam.reasons.some((r) => r.rule === 'rspamd.bayes' && (r.score ?? 0) < 0), `Rspamd's Bayes votes ham: ${reasonIds(newHam)}`);
    // Rspamd, asked first, is sure of this good mail: spamd is not asked (skipWhenRspamdSure, on by default); the spam above it was.
    const skipped = newHam.reasons.find((r) => r.rule === 'spamassassin.skipped');
    assert.match(skipped?.match ?? '', /^settled by Rspamd: its Bayes -[\d.]+ ≤ -?[\d.]+ and its rules -?[\d.]+ ≤ [\d.]+, SpamAssassin not asked$/, JSON.stringify(newHam.reasons));
    assert.ok(!newHam.reasons.some((r) => r.rule === 'spamassassin'), 'no SpamAssassin answer');
    assert.ok(!newSpam.reasons.some((r) => r.rule === 'spamassassin.skipped'), 'spam is not settled by Rspamd');
  });

  // A newsletter of words Bayes was never taught: 212 words, over 1 KiB, as fuzzy hashing needs.
  const body = [...NEUTRAL_SENTENCES, ...NEUTRAL_SENTENCES.slice(0, 3)].join(' ').split(' ');
  const original = mail('news@village.example.net', 'Autumn at the village', 'autumn-1@village.example.net', body);
  const changedBody = [...body];
  changedBody[changedBody.indexOf('Saturday')] = 'Sunday';
  changedBody[changedBody.indexOf('barn')] = 'stable';
  const copy = mail('news@village.example.net', 'Autumn at the village', 'autumn-2@village.example.net', changedBody);
  assert.ok(copy.length >= 1024 && changedBody.length >= 64);
  let marked: Logged & { id: string };
  let before: Logged;

  await t.test('the message is delivered on scanner A, and a changed copy on scanner B', async () => {
    marked = await through(scannerA, 'scanner-a', original, 'news@village.example.net');
    assert.equal(marked.action, 'deliver', reasonIds(marked));
    await waitUntil(async () => (await api.get(`/api/v1/messages/${nodeIds.get('scanner-a')}/${marked.id}`)).json.retained?.status === 'kept', 'its retained copy on the master');
    before = await through(scannerB, 'scanner-b', copy, 'news@village.example.net');
    assert.equal(before.action, 'deliver', reasonIds(before));
    assert.ok(!before.reasons.some((r) => r.rule === 'rspamd.fuzzy'), 'no fuzzy match yet');
  });

  await t.test('marked as spam on the master (from scanner A\'s copy): the changed copy is flagged on scanner B by its own fuzzy storage', async () => {
    const r = await api.post(`/api/v1/messages/${nodeIds.get('scanner-a')}/${marked.id}/learn`, { as: 'spam' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.created, true);
    assert.deepEqual([...r.json.applied].sort(), ['scanner-a', 'scanner-b']);
    // Rspamd's fuzzy storage writes queued hashes every 0.2 s (startRspamd's sync): wait until B's Rspamd knows it.
    await waitUntil(async () => {
      const res = await fetch(`${b.rspamd.url}/checkv2`, { method: 'POST', body: copy, headers: { IP: '127.0.0.1' } });
      return Object.keys(((await res.json()) as { symbols: Record<string, unknown> }).symbols).includes('LOCAL_FUZZY_DENIED');
    }, 'scanner B\'s Rspamd to match the fuzzy hash', 5000);
    const after = await flaggedThrough(scannerB, 'scanner-b', copy, 'news@village.example.net');
    assert.notEqual(after.action, 'deliver', reasonIds(after));
    const fuzzy = after.reasons.find((r) => r.rule === 'rspamd.fuzzy');
    assert.ok(fuzzy && (fuzzy.score ?? 0) >= 5, `an rspamd.fuzzy reason: ${reasonIds(after)}`);
    assert.match(fuzzy.match, /LOCAL_FUZZY_DENIED/);
    assert.ok(after.score > before.score);
  });

  await t.test('"not spam" reverses it on every scanner: the changed copy gets its earlier verdict on scanner B again', async () => {
    const r = await api.post(`/api/v1/messages/${nodeIds.get('scanner-a')}/${marked.id}/learn`, { as: 'ham' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.event.unlearn, 'spam');
    assert.deepEqual([...r.json.applied].sort(), ['scanner-a', 'scanner-b']);
    await waitUntil(async () => {
      const res = await fetch(`${b.rspamd.url}/checkv2`, { method: 'POST', body: copy, headers: { IP: '127.0.0.1' } });
      return !Object.keys(((await res.json()) as { symbols: Record<string, unknown> }).symbols).includes('LOCAL_FUZZY_DENIED');
    }, 'the fuzzy hash gone from scanner B\'s Rspamd', 5000);
    const again = await through(scannerB, 'scanner-b', copy, 'news@village.example.net');
    assert.equal(again.action, before.action, reasonIds(again));
    assert.ok(!again.reasons.some((r) => r.rule === 'rspamd.fuzzy'), reasonIds(again));
  });
});
