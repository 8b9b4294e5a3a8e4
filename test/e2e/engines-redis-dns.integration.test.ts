import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startDnsStub, startRedis, startRspamd } from '@moat/engines';
import { engineSkip } from '../helpers/engines.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

// @moat/engines' redis-server (Rspamd's Bayes store, kept across restarts of pnpm start) and its
// DNS stub (every name NXDOMAIN, so Rspamd's DNS checks end at once without Internet DNS).

/** One RESP command, its raw reply (a simple string, an integer, an error or a bulk string). */
function redis(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let reply = '';
    s.on('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      reply += d.toString();
      if (/^[+:-].*\r\n$|^\$-1\r\n$|^\$\d+\r\n[^]*\r\n$/.test(reply)) s.end();
    });
    s.on('close', () => resolve(reply));
    s.on('error', reject);
  });
}

test('startRedis: ready on PING; what was written is there after a restart on the same folder', { skip: engineSkip('redis-server', 'redis-server') }, async (t) => {
  const tmp = tempDir('redis');
  t.after(() => tmp.cleanup());
  const dir = join(tmp.path, 'redis');
  const first = await startRedis({ dir });
  try {
    assert.equal(first.address, `127.0.0.1:${first.port}`);
    assert.equal(await redis(first.port, 'SET', 'moat:kept', 'across restarts'), '+OK\r\n');
  } finally {
    await first.stop();
  }
  const second = await startRedis({ dir });
  try {
    assert.equal(await redis(second.port, 'GET', 'moat:kept'), '$15\r\nacross restarts\r\n');
  } finally {
    await second.stop();
  }
});

test('startRspamd with redis and the DNS stub: Bayes learns into redis, and Rspamd\'s DNS queries go to the stub', { skip: engineSkip('rspamd', 'rspamd') || engineSkip('redis-server', 'redis-server') }, async (t) => {
  const dns = await startDnsStub();
  const store = await startRedis();
  const rspamd = await startRspamd({ redis: store.address, dnsServer: dns.address });
  t.after(async () => {
    await rspamd.stop();
    await store.stop();
    await dns.stop();
  });
  const spam = [
    'Received: from mail.spammer.example (mail.spammer.example [198.51.100.23]) by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000',
    'From: winner@spammer.example', 'To: user@example.test', 'Subject: you won the lottery', 'Message-ID: <1@spammer.example>', 'Date: Mon, 1 Jan 2024 00:00:00 +0000',
    '', 'Claim your lottery prize now at http://prize.spammer.example/claim: wire the transfer fee today.', '',
  ].join('\r\n');
  const learned = await fetch(`${rspamd.controllerUrl}/learnspam`, { method: 'POST', body: spam });
  assert.equal(learned.status, 200, await learned.text());
  // Bayes tokens are keys in redis (Rspamd 3.4 keeps Bayes nowhere else).
  const size = Number((await redis(store.port, 'DBSIZE')).slice(1));
  assert.ok(size > 0, `redis holds Bayes tokens (DBSIZE ${size})`);

  // A check with a public client address and a link: RBL and SURBL look-ups, each answered NXDOMAIN by the stub.
  const before = dns.answered();
  const check = await fetch(`${rspamd.url}/checkv2`, { method: 'POST', body: spam, headers: { IP: '198.51.100.23', From: 'winner@spammer.example' } });
  assert.equal(check.status, 200);
  const result = (await check.json()) as { symbols: Record<string, unknown> };
  assert.ok(dns.answered() > before, 'Rspamd asked the stub');
  assert.ok(!Object.keys(result.symbols).some((s) => /^RBL_|^URIBL_|^DBL_|^SURBL_/.test(s) && !/_FAIL$/.test(s)), `nothing listed: ${Object.keys(result.symbols).join(' ')}`);
});

/** A plain-text message of `words` words (each a word from a small list and a number), at least 1 KiB. */
function prose(seed: number, words: number, change?: { at: number; word: string }): Buffer {
  const list = 'invoice payment transfer account verify bank offer winner prize claim urgent wallet crypto refund identity password bonus deal exclusive limited'.split(' ');
  const out: string[] = [];
  let x = seed;
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(change?.at === i ? change.word : `${list[x % list.length]}${x % 97}`);
  }
  const lines: string[] = [];
  for (let i = 0; i < out.length; i += 12) lines.push(out.slice(i, i + 12).join(' '));
  return Buffer.from(['From: offers@spammer.example', 'To: user@example.test', `Subject: offer ${seed}`, 'MIME-Version: 1.0', `Message-ID: <${seed}@spammer.example>`, 'Content-Type: text/plain; charset=us-ascii', '', ...lines, ''].join('\r\n'));
}

test('startRspamd with fuzzy: /fuzzyadd (flag 1) makes a changed copy LOCAL_FUZZY_DENIED on /checkv2, /fuzzydel takes it back; hashes live in its Redis', { skip: engineSkip('rspamd', 'rspamd') || engineSkip('redis-server', 'redis-server') }, async (t) => {
  await assert.rejects(startRspamd({ fuzzy: true }), /fuzzy needs redis/);
  const dns = await startDnsStub();
  const store = await startRedis();
  const rspamd = await startRspamd({ redis: store.address, dnsServer: dns.address, fuzzy: true });
  t.after(async () => {
    await rspamd.stop();
    await store.stop();
    await dns.stop();
  });
  assert.equal(rspamd.fuzzy, true);
  const original = prose(42, 150);
  const copy = prose(42, 150, { at: 70, word: 'changed' });
  assert.ok(copy.length >= 1024, `the copy is ${copy.length} bytes`);
  const fuzzySymbols = async (message: Buffer) => {
    const res = await fetch(`${rspamd.url}/checkv2`, { method: 'POST', body: message, headers: { IP: '127.0.0.1' } });
    const json = (await res.json()) as { symbols: Record<string, { score: number }> };
    return Object.entries(json.symbols).filter(([name]) => /FUZZY/.test(name)).map(([name, s]) => ({ name, score: s.score }));
  };
  assert.deepEqual(await fuzzySymbols(copy), [], 'nothing known before');

  const added = await fetch(`${rspamd.controllerUrl}/fuzzyadd`, { method: 'POST', body: original, headers: { Flag: '1', Weight: '10' } });
  assert.equal(added.status, 200, await added.text());
  let hit: { name: string; score: number }[] = [];
  // The storage writes queued updates every 0.2 s (its `sync`).
  await waitUntil(async () => (hit = await fuzzySymbols(copy)).length > 0, 'the changed copy matches the fuzzy hash');
  assert.equal(hit.length, 1);
  assert.equal(hit[0]!.name, 'LOCAL_FUZZY_DENIED');
  assert.ok(hit[0]!.score >= 5, `it weighs (${hit[0]!.score})`);
  assert.deepEqual(await fuzzySymbols(prose(7, 150)), [], 'another message does not match');
  const keys = Number((await redis(store.port, 'EVAL', "return #redis.call('KEYS', 'fuzzy*')", '0')).slice(1));
  assert.ok(keys > 0, `the hashes are keys in its Redis (${keys})`);

  const deleted = await fetch(`${rspamd.controllerUrl}/fuzzydel`, { method: 'POST', body: original, headers: { Flag: '1' } });
  assert.equal(deleted.status, 200, await deleted.text());
  await waitUntil(async () => (await fuzzySymbols(copy)).length === 0, 'the fuzzy hash is gone');
});
