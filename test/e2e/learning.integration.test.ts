import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import { startRedis, startRspamd, startSpamd, freePort, type Redis, type Rspamd, type Spamd } from '@moat/engines';
import type { LearnEvent } from '@moat/protocol';
import { rspamdLearner } from '../../apps/scanner/src/learn/engine-learners.ts';
import { apiClient, startClusterScanner, startTestMaster, ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { engineSkip } from '../helpers/engines.ts';
import { waitUntil } from '../helpers/wait.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const execFileAsync = promisify(execFile);
const skip = engineSkip('spamd', 'spamd') || engineSkip('rspamd', 'rspamd') || engineSkip('redis-server', 'redis-server');

interface Engines {
  readonly spamd: Spamd;
  readonly redis: Redis;
  readonly rspamd: Rspamd;
  /** A plain TCP forwarder in front of spamd, on a fixed port, so the test can take spamd "down" and back without moving it. */
  readonly door: Door;
}

/** Forwards one port to spamd; close() refuses connections on that port until open() again. */
class Door {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  readonly port: number;
  private readonly target: number;
  constructor(port: number, target: number) {
    this.port = port;
    this.target = target;
  }
  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function startEngines(): Promise<Engines> {
  const [spamd, redis] = await Promise.all([startSpamd({ allowTell: true }), startRedis()]);
  const rspamd = await startRspamd({ redis: redis.address });
  const door = new Door(await freePort(), spamd.port);
  await door.open();
  return { spamd, redis, rspamd, door };
}

const analyzersFor = (e: Engines) => ({
  spamassassin: { host: '127.0.0.1', port: e.door.port, timeoutSeconds: 30 },
  rspamd: { url: e.rspamd.url, controllerUrl: e.rspamd.controllerUrl },
});

/** SpamAssassin's Bayes counts, as sa-learn reads its database. */
async function saCounts(e: Engines): Promise<{ spam: number; ham: number }> {
  // Asynchronous: the master and the scanners run in this process and must keep their heartbeats.
  const { stdout: out } = await execFileAsync('sa-learn', ['--dbpath', join(e.spamd.dir, 'bayes', 'bayes'), '--dump', 'magic'], { encoding: 'utf8' });
  const value = (name: string) => Number(new RegExp(`^\\S+\\s+\\S+\\s+(\\d+)\\s+\\S+\\s+non-token data: ${name}$`, 'm').exec(out)?.[1] ?? 'NaN');
  return { spam: value('nspam'), ham: value('nham') };
}

/** What Rspamd logged (errors only), for a failed count's message. */
const rspamdSaid = (e: Pick<Engines, 'rspamd'>) => `Rspamd's errors:\n${e.rspamd.output().slice(-3000)}`;

/** Rspamd's Bayes counts, from its Redis (the `RS` hash: `learns_spam`, `learns_ham`; its /stat lags behind). */
async function rspamdCounts(e: Pick<Engines, 'redis'>): Promise<{ spam: number; ham: number }> {
  const hget = async (field: string) => Number((await execFileAsync('redis-cli', ['-p', String(e.redis.port), 'hget', 'RS', field], { encoding: 'utf8' })).stdout.trim() || 0);
  return { spam: await hget('learns_spam'), ham: await hget('learns_ham') };
}

const WORDS = 'account verify urgent offer winner prize claim money transfer bank password click link free limited exclusive deal bonus credit loan invest crypto wallet security update login confirm identity suspended immediately refund invoice payment gift card lottery inheritance million dollars beneficiary meeting agenda project report schedule lunch review draft notes budget quarterly team office holiday weather garden recipe family photos birthday concert library'.split(' ');

/**
 * A message of about 120 words that differs from every other n. It has no stop words, so Rspamd
 * guesses its language from the n-grams of words it picks at random; with Rspamd's stock
 * language files that guess could change from one learn of it to the next (the last test).
 */
function message(n: number, subject: string): Buffer {
  const words: string[] = [];
  let x = n * 7919 + 17;
  for (let i = 0; i < 120; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    words.push(`${WORDS[x % WORDS.length]}${i % 9 === 0 ? n : ''}`);
  }
  const lines = [];
  for (let i = 0; i < words.length; i += 12) lines.push(words.slice(i, i + 12).join(' '));
  return Buffer.from(
    [`From: sender${n}@example.org`, 'To: user@example.test', `Subject: ${subject} ${n}`, `Message-ID: <learn-${n}@example.org>`, 'Date: Mon, 2 Jun 2025 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '', ...lines, ''].join('\r\n'),
  );
}

test('learn events reach every scanner\'s own engines exactly once, in order, idempotent and reversible; an offline scanner catches up; an engine that is down holds its node back', { skip, timeout: 300_000 }, async (t) => {
  const [e1, e2] = [await startEngines(), await startEngines()];
  t.after(async () => {
    for (const e of [e1, e2]) {
      await e.door.close();
      await Promise.all([e.spamd.stop(), e.rspamd.stop()]);
      await e.redis.stop();
    }
  });
  const downstream = await startDownstream();
  t.after(() => downstream.close());
  const master = await startTestMaster();
  t.after(() => master.close());
  const s1 = await startClusterScanner('scanner-1', master.wsUrl, downstream.port, { analyzers: analyzersFor(e1) });
  let s2 = await startClusterScanner('scanner-2', master.wsUrl, downstream.port, { analyzers: analyzersFor(e2) });
  const s2Dir = s2.dataDirPath;
  t.after(() => s1.close());
  t.after(() => s2.close());
  const api = await apiClient(master.url);
  await waitUntil(async () => (await api.get('/api/v1/learn/nodes')).json.items.filter((n: { online: boolean }) => n.online).length === 2, 'both scanners online', 20_000);

  const learn = async (raw: Buffer, as: 'spam' | 'ham', wait = 60) => {
    const res = await fetch(`${master.url}/api/v1/learn?as=${as}&wait=${wait}`, { method: 'POST', headers: { cookie: api.cookie, 'x-moat-request': '1', 'content-type': 'message/rfc822' }, body: raw });
    return { status: res.status, json: (await res.json()) as any };
  };

  await t.test('a spam lesson is applied on both scanners before the route answers', async () => {
    const r = await learn(message(1, 'Claim your prize'), 'spam');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.created, true);
    assert.equal(r.json.complete, true);
    assert.deepEqual([...r.json.applied].sort(), ['scanner-1', 'scanner-2']);
    for (const e of [e1, e2]) {
      assert.deepEqual(await saCounts(e), { spam: 1, ham: 0 });
      assert.deepEqual(await rspamdCounts(e), { spam: 1, ham: 0 }, rspamdSaid(e));
    }
  });

  await t.test('the same message again is no new event and teaches nothing twice', async () => {
    const r = await learn(message(1, 'Claim your prize'), 'spam');
    assert.equal(r.status, 200);
    assert.equal(r.json.created, false);
    assert.equal(r.json.event.seq, 1);
    for (const e of [e1, e2]) assert.deepEqual(await saCounts(e), { spam: 1, ham: 0 });
  });

  await t.test('not spam after spam reverses it on every scanner', async () => {
    const r = await learn(message(1, 'Claim your prize'), 'ham');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.event.seq, 2);
    assert.equal(r.json.event.unlearn, 'spam');
    for (const e of [e1, e2]) {
      assert.deepEqual(await saCounts(e), { spam: 0, ham: 1 });
      assert.deepEqual(await rspamdCounts(e), { spam: 0, ham: 1 }, rspamdSaid(e));
    }
  });

  await t.test('a scanner offline during a lesson applies it when it returns', async () => {
    await s2.close();
    await waitUntil(async () => (await api.get('/api/v1/learn/nodes')).json.items.find((n: { name: string }) => n.name === 'scanner-2').online === false, 'scanner-2 offline');
    const r = await learn(message(2, 'Quarterly budget'), 'ham');
    assert.equal(r.status, 200, 'the online scanners are all that is waited for');
    assert.deepEqual(r.json.applied, ['scanner-1']);
    assert.deepEqual(await saCounts(e2), { spam: 0, ham: 1 }, 'not yet on the offline node');
    s2 = await startClusterScanner('scanner-2', master.wsUrl, downstream.port, { dataDir: s2Dir, analyzers: analyzersFor(e2) });
    // It filters with its persisted rules before its link is up: wait until the master sees it.
    await waitUntil(async () => (await api.get('/api/v1/learn/nodes')).json.items.find((n: { name: string }) => n.name === 'scanner-2').online, 'scanner-2 back online', 20_000);
    const caughtUp = await api.get(`/api/v1/learn/nodes?seq=${r.json.event.seq}&wait=60`);
    assert.equal(caughtUp.json.complete, true, JSON.stringify(caughtUp.json));
    const node2 = caughtUp.json.items.find((n: { name: string }) => n.name === 'scanner-2');
    assert.equal(node2.appliedSeq, 3);
    assert.deepEqual({ spam: node2.spam, ham: node2.ham }, { spam: 1, ham: 2 }, 'events applied of each class');
    assert.deepEqual(await saCounts(e2), { spam: 0, ham: 2 });
    assert.deepEqual(await rspamdCounts(e2), { spam: 0, ham: 2 }, rspamdSaid(e2));
  });

  await t.test('an engine that is down holds the event on its node (202 naming it) and it is applied once the engine is back', async () => {
    await e1.door.close();
    const r = await learn(message(3, 'Verify your account'), 'spam', 3);
    assert.equal(r.status, 202);
    assert.deepEqual(r.json.applied, ['scanner-2']);
    assert.equal(r.json.pending[0].node, 'scanner-1');
    assert.match(r.json.pending[0].error, /spamassassin/);
    const nodes = await api.get('/api/v1/learn/nodes');
    assert.match(nodes.json.items.find((n: { name: string }) => n.name === 'scanner-1').lastError, /spamassassin/);
    await e1.door.open();
    const done = await api.get(`/api/v1/learn/nodes?seq=${r.json.event.seq}&wait=90`);
    assert.equal(done.json.complete, true);
    assert.equal(done.json.items.find((n: { name: string }) => n.name === 'scanner-1').lastError, null);
    assert.deepEqual(await saCounts(e1), { spam: 1, ham: 2 });
  });

  await t.test('moat learn teaches an mbox and a folder of messages, with an API token, and returns once every online scanner applied them', async () => {
    const dir = tempDir('learn-corpus').path;
    mkdirSync(join(dir, 'ham'));
    const mbox = [10, 11, 12].map((n) => `From sender${n}@example.org Mon Jun  2 10:00:00 2025\n${message(n, 'Prize').toString('latin1').replace(/\r\n/g, '\n')}`).join('\n');
    writeFileSync(join(dir, 'spam.mbox'), mbox);
    for (const n of [20, 21]) writeFileSync(join(dir, 'ham', `${n}.eml`), message(n, 'Agenda'));
    const token = (await api.post('/api/v1/tokens', { name: 'learn' })).json.token as string;
    const before = await rspamdCounts(e2);
    const run = await execFileAsync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), 'learn', '--master', master.url, '--spam', join(dir, 'spam.mbox'), '--ham', join(dir, 'ham')], { env: { ...process.env, MOAT_TOKEN: token }, encoding: 'utf8' });
    assert.match(run.stderr, /learned 3 spam and 2 ham \(5 new, 0 already known\); applied on every online scanner \(scanner-1, scanner-2\)/);
    assert.deepEqual(await rspamdCounts(e2), { spam: before.spam + 3, ham: before.ham + 2 }, rspamdSaid(e2));
  });

  await t.test('learning needs the admin role and a message; a bad class is a 400 naming the field', async () => {
    const bad = await learn(message(4, 'x'), 'maybe' as 'spam');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.json), /as/);
    const anonymous = await fetch(`${master.url}/api/v1/learn?as=spam`, { method: 'POST', headers: { 'content-type': 'message/rfc822' }, body: 'x' });
    assert.equal(anonymous.status, 401);
    void ADMIN_PASSWORD;
  });
});

test('the scanner\'s Rspamd learner reverses every lesson: 30 messages without stop words, each learned as spam then as ham, leave no spam in Rspamd\'s Bayes (with Rspamd\'s stock language files its random guess of their language gave one in 7 to 15 of them other tokens, so another learn-cache key, on the second learn)', { skip: engineSkip('rspamd', 'rspamd') || engineSkip('redis-server', 'redis-server'), timeout: 180_000 }, async (t) => {
  const redis = await startRedis();
  const rspamd = await startRspamd({ redis: redis.address });
  t.after(async () => {
    await rspamd.stop();
    await redis.stop();
  });
  const learner = rspamdLearner({ controllerUrl: rspamd.controllerUrl, timeoutMs: 30_000, fuzzy: false });
  const event = (seq: number, raw: Buffer, lesson: Pick<LearnEvent, 'class' | 'unlearn'>): LearnEvent => ({
    type: 'learn.event', seq, eventId: randomBytes(16).toString('hex'), ...lesson,
    digest: createHash('sha256').update(raw).digest('hex'), data: raw.toString('base64'),
  });
  for (let n = 1; n <= 30; n++) {
    const raw = message(100 + n, 'Claim your prize');
    assert.equal(await learner.apply(event(2 * n - 1, raw, { class: 'spam' }), raw), undefined);
    assert.deepEqual(await rspamdCounts({ redis }), { spam: 1, ham: n - 1 }, rspamdSaid({ rspamd }));
    assert.equal(await learner.apply(event(2 * n, raw, { class: 'ham', unlearn: 'spam' }), raw), undefined);
    assert.deepEqual(await rspamdCounts({ redis }), { spam: 0, ham: n }, `message ${100 + n} learned as ham was not taken as a relearn of the spam\n${rspamdSaid({ rspamd })}`);
  }
});
