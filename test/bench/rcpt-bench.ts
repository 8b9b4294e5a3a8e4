/**
 * The RCPT-time cost of recipient verification (issue 19, "Benchmark"): how long RCPT TO takes
 * with each source, cached and uncached, against "no verification" measured in the same run on
 * the same scanner. A master and two scanners (the second for the cluster-wide call-out cache),
 * a private slapd (`startSlapd`) with the mailboxes, an SMTP server on loopback for call-outs.
 *
 *   node test/bench/rcpt-bench.ts [--rcpts 1000] [--sessions 8] [--out test/bench/results/rcpt.md]
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { validateRules } from '@moat/rules';
import { startSlapd } from '@moat/engines';
import { apiClient, startClusterScanner, startTestMaster } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { startDownstream } from '../helpers/downstream.ts';
import { RawSmtp } from '../helpers/smtp-client.ts';
import { waitUntil } from '../helpers/wait.ts';
import { median, percentile } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    rcpts: { type: 'string', default: '1000' },
    sessions: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'static-entries': { type: 'string', default: '10000' },
    out: { type: 'string', default: 'test/bench/results/rcpt.md' },
  },
});
const RCPTS = Number(args.rcpts);
const SESSIONS = Number(args.sessions);
const ROUNDS = Number(args.rounds);
/** Distinct addresses each source needs: two runs (one after another, then in parallel) per round. */
const NEEDED = RCPTS * 2 * ROUNDS;
const STATIC_ENTRIES = Math.max(Number(args['static-entries']), NEEDED + 1);
/** RCPTs per transaction before RSET (under limits.maxRecipients). */
const PER_TRANSACTION = 100;
const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * The domain's own mail server for call-outs: knows u<n>@callout.bench, refuses the rest (so it is
 * not accept-all). A few lines on `net` that greet at once, as Postfix or Exchange do (smtp-server
 * holds every greeting back 100 ms, which would be most of what a probe costs here).
 */
async function startCalloutServer(): Promise<{ port: number; probes: () => number; close(): Promise<void> }> {
  let probes = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write('220 mail.callout.bench ESMTP\r\n');
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      let i: number;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250 mail.callout.bench\r\n');
        else if (verb === 'MAIL') {
          if (line.includes('<>')) probes++;
          socket.write('250 2.1.0 Ok\r\n');
        } else if (verb === 'RCPT') socket.write(/<u\d+@callout\.bench>/i.test(line) ? '250 2.1.5 Ok\r\n' : '550 5.1.1 User unknown\r\n');
        else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
        else socket.write('250 2.0.0 Ok\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port, probes: () => probes,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/**
 * `addresses` as RCPT TO, spread over `sessions` connections each running its share in order
 * (MAIL FROM, RCPTs, RSET every PER_TRANSACTION): each RCPT's time from the command to its reply,
 * and RCPT/s over the whole run. Every reply must be 250 (the bench times acceptances).
 */
async function run(port: number, addresses: readonly string[], sessions: number): Promise<{ ms: number[]; perSecond: number }> {
  const shares = Array.from({ length: sessions }, (_, i) => addresses.filter((_, j) => j % sessions === i));
  // Sessions are opened before the clock starts: the scanner's greeting (smtp-server holds it 100 ms) is not RCPT time.
  const open = await Promise.all(shares.map(async () => {
    const s = await RawSmtp.open(port);
    await s.reply();
    await s.command('EHLO bench.client');
    return s;
  }));
  const ms: number[] = [];
  const started = performance.now();
  await Promise.all(shares.map(async (share, k) => {
    const s = open[k]!;
    for (let i = 0; i < share.length; i++) {
      if (i % PER_TRANSACTION === 0) {
        if (i > 0) await s.command('RSET');
        await s.command('MAIL FROM:<load@bench.client>');
      }
      const t0 = performance.now();
      const reply = await s.command(`RCPT TO:<${share[i]}>`);
      ms.push(performance.now() - t0);
      if (!reply.startsWith('250')) throw new Error(`RCPT TO:<${share[i]}>: ${reply}`);
    }
  }));
  const perSecond = addresses.length / ((performance.now() - started) / 1000);
  for (const s of open) s.close();
  return { ms: ms.sort((a, b) => a - b), perSecond };
}

const addresses = (prefix: string, domain: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${from + i}@${domain}`);

async function main(): Promise<void> {
  const began = Date.now();
  const slapd = await startSlapd();
  const callout = await startCalloutServer();
  const downstream = await startDownstream();
  const stops: (() => Promise<unknown>)[] = [() => slapd.stop(), () => callout.close(), () => downstream.close()];
  try {
    // The directory: enough mailboxes for every uncached lookup, indexed by nothing but mdb's defaults.
    const users = NEEDED;
    const ldif = Array.from({ length: users }, (_, i) => `dn: uid=u${i},${slapd.suffix}\nobjectClass: inetOrgPerson\nobjectClass: moatMailbox\nuid: u${i}\ncn: u${i}\nsn: u${i}\nmail: u${i}@ldap.bench\nproxyAddresses: SMTP:u${i}@ldap.bench\n`).join('\n');
    await slapd.add(ldif);
    const rules = validateRules({
      ...BASE_RULES,
      acceptedDomains: ['none.bench', 'static.bench', 'ldap.bench', 'callout.bench'],
      limits: { ...BASE_RULES.limits, maxRecipients: PER_TRANSACTION },
      recipientVerification: {
        domains: [
          { domain: 'static.bench', source: 'static' },
          { domain: 'ldap.bench', source: 'ldap', store: 'corp' },
          { domain: 'callout.bench', source: 'callout', callout: { host: '127.0.0.1', port: callout.port } },
        ],
        harvest: { maxUnknown: 0 },
      },
    });
    const master = await startTestMaster({ seed: rules });
    stops.unshift(() => master.close());
    const a = await startClusterScanner('rcpt-a', master.wsUrl, downstream.port);
    stops.unshift(() => a.close());
    const b = await startClusterScanner('rcpt-b', master.wsUrl, downstream.port);
    stops.unshift(() => b.close());
    await waitUntil(() => a.link?.isConnected && b.link?.isConnected, 'both scanners linked', 30_000);
    const api = await apiClient(master.url);
    const put = async (name: string, body: unknown) => {
      const r = await api.put(`/api/v1/verification/sources/${name}`, body);
      if (r.status !== 200) throw new Error(`store ${name}: ${r.status} ${r.text}`);
    };
    await put('static.bench', { kind: 'static', entries: [...addresses('u', 'static.bench', 0, STATIC_ENTRIES - 1), 'sales-*@static.bench'] });
    await put('corp', { kind: 'ldap', url: slapd.url, baseDn: slapd.suffix, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword });
    const warm = async (port: number) => {
      const probe = await run(port, ['u1@static.bench', 'u1@ldap.bench'], 1).catch(() => undefined);
      return probe !== undefined;
    };
    await waitUntil(async () => (await warm(a.smtpPort)) && (await warm(b.smtpPort)), 'the store reached both scanners', 30_000, 200);
    // Warm-up: the code paths and connections of every source, on both scanners.
    for (const port of [a.smtpPort, b.smtpPort]) for (let i = 0; i < 3; i++) await run(port, [...addresses('w', 'none.bench', 0, 1000), ...addresses('u', 'static.bench', 0, 1000), ...addresses('u', 'ldap.bench', 0, 100)], 2);
    await run(a.smtpPort, addresses('u', 'callout.bench', 9_000_000, 50), 2);

    type Row = { name: string; cache: string; ms: number[]; perSecond: number[] };
    const rows = new Map<string, Row>();
    const measure = async (name: string, cache: string, port: number, seqAddrs: string[], parAddrs: string[]) => {
      const seq = await run(port, seqAddrs, 1);
      const par = await run(port, parAddrs, SESSIONS);
      const row = rows.get(name + cache) ?? { name, cache, ms: [], perSecond: [] };
      row.ms.push(...seq.ms);
      row.perSecond.push(par.perSecond);
      rows.set(name + cache, row);
    };
    let probes = 0;
    let probesAfterCached = 0;
    // Rounds, each measuring every row in turn, so no row is only ever measured colder or warmer than the baseline.
    for (let round = 0; round < ROUNDS; round++) {
      log(`  round ${round + 1} of ${ROUNDS}`);
      const seqAt = round * 2 * RCPTS;
      const parAt = seqAt + RCPTS;
      const both = (prefix: string, domain: string) => [addresses(prefix, domain, seqAt, RCPTS), addresses(prefix, domain, parAt, RCPTS)] as const;
      await measure('no verification (baseline)', '—', a.smtpPort, ...both('x', 'none.bench'));
      await measure(`static list (${STATIC_ENTRIES.toLocaleString('en')} entries)`, 'none needed (in memory)', a.smtpPort, ...both('u', 'static.bench'));
      await measure('LDAP (slapd: connect, bind, search, unbind)', 'none: every RCPT asks', a.smtpPort, ...both('u', 'ldap.bench'));
      const p0 = callout.probes();
      await measure('call-out (SMTP probe)', 'uncached: cluster cache asked, then a probe', a.smtpPort, ...both('u', 'callout.bench'));
      probes += callout.probes() - p0;
      // Scanner B has never seen these: the master's cluster cache answers; then B's own memory does.
      const p1 = callout.probes();
      await measure('call-out', 'cached on the master (another scanner probed)', b.smtpPort, ...both('u', 'callout.bench'));
      await measure('call-out', 'cached in the scanner\'s memory', b.smtpPort, ...both('u', 'callout.bench'));
      probesAfterCached += callout.probes() - p1;
    }

    const all = [...rows.values()];
    for (const r of all) r.ms.sort((x, y) => x - y);
    const base = all[0]!;
    const f1 = (n: number) => n.toFixed(n < 10 ? 2 : 1);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const rate = (r: Row) => median(r.perSecond);
    const table = [
      '| source | cache | p50 (ms) | p99 (ms) | mean (ms) | ÷ baseline (mean) | RCPT/s, ' + SESSIONS + ' sessions | ÷ baseline |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...all.map((r) => `| ${r.name} | ${r.cache} | ${f1(percentile(r.ms, 50))} | ${f1(percentile(r.ms, 99))} | ${f1(mean(r.ms))} | ${(mean(r.ms) / mean(base.ms)).toFixed(2)}× | ${Math.round(rate(r)).toLocaleString('en')} | ${(rate(r) / rate(base)).toFixed(2)}× |`),
    ];
    const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
    const report = `# Recipient verification: RCPT-time cost

- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}
- Machine: ${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM; Node ${process.version}
- Command: \`node test/bench/rcpt-bench.ts --rcpts ${RCPTS} --sessions ${SESSIONS} --rounds ${ROUNDS} --static-entries ${STATIC_ENTRIES}\` (\`pnpm bench:rcpt\`; took ${Math.round((Date.now() - began) / 1000)} s); all traffic on 127.0.0.1

${ROUNDS} rounds, each measuring every row in turn after a warm-up; per row and round, ${RCPTS.toLocaleString('en')} RCPT TO one after another on one open connection (latency: the command to its reply; p50, p99 and mean over all rounds), then ${RCPTS.toLocaleString('en')} other addresses over ${SESSIONS} open connections at once (RCPT/s: the median of the rounds). Every address is accepted (250); a transaction is reset every ${PER_TRANSACTION} recipients. **Ratios are to the baseline row, measured first in each round of the same run on the same scanner**: a domain that does not verify (the rest of RCPT TO: the accepted-domains check, lists, the recipient limit).

${table.join('\n')}

- **static**: the store's list compiled into a set plus patterns on the scanner; nothing to cache.
- **LDAP**: a fresh connection per lookup (\`ldap-lookup.ts\`: connect, bind as the directory's admin, one subtree search with Active Directory's default filter over ${NEEDED.toLocaleString('en')} mailboxes, unbind); Moat caches no LDAP answer, so every RCPT pays it. slapd is Debian's, mdb, no extra index.
- **call-out, uncached**: the scanner asks the master's cluster cache (a miss), then probes the server (connect, EHLO, MAIL FROM:<>, RCPT TO the address and a made-up one, RSET, QUIT) and tells the master. ${probes.toLocaleString('en')} probes for ${NEEDED.toLocaleString('en')} addresses; the two cached rows made ${probesAfterCached} more. The probed server is a few lines on \`net\` that greet at once (smtp-server would hold each greeting 100 ms).
- **call-out, cached on the master**: a second scanner that never saw those addresses; its answer comes from the master over the cluster link (\`callout.get\`). Then the same addresses again on it: from its own memory.
- Setup: the master, both scanners, this client and the call-out server share one Node process (the scanner benchmark runs the scanner apart; here the ratios matter, and they are of one run); slapd is its own process. The machine is shared: compare rows within a run.
`;
    writeFileSync(args.out, report);
    process.stdout.write(`${table.join('\n')}\n`);
    log(`written: ${args.out}`);
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

main().then(() => process.exit(0), (err) => {
  log(String(err?.stack ?? err));
  process.exit(1);
});
