import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgAutoFailoverMissing, type PgNodeState } from '@moat/engines';
import { startLocalHaCluster, type LocalHaCluster } from '../../apps/cli/src/local-ha.ts';
import { openMasterDatabase, type MasterDatabase } from '../../apps/master/src/db/database.ts';
import { MASTER_MIGRATIONS } from '../../apps/master/src/db/migrations.ts';
import { apiClient, type ApiClient } from '../helpers/cluster-harness.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { sleep, waitUntil } from '../helpers/wait.ts';
import { freePort, freeUdpPortsOutsideEphemeralRange } from '../helpers/ports.ts';

/**
 * The one HA story end to end (docs/database.md, "Two masters through a failover"): what
 * `pnpm start:ha` runs (startLocalHaCluster: a pg_auto_failover monitor, primary and
 * synchronous standby; two masters, each a `moat master` process; two scanners, each a
 * `moat scanner` process listing both masters), with pg_auto_failover's failure detection
 * scaled down as in db/ha.test.ts. `kill -9` of the master a scanner is linked to, then of
 * the PostgreSQL primary: the other master serves throughout, mail keeps flowing, and nothing
 * acknowledged is lost. Skips where pg_auto_failover is not installed, except under
 * MOAT_REQUIRE_ENGINES=1 (CI), where it fails.
 */
const missing = pgAutoFailoverMissing();
const skip = missing && process.env['MOAT_REQUIRE_ENGINES'] !== '1' ? `${missing}; .ci/run installs it and sets MOAT_REQUIRE_ENGINES=1` : false;

const ENVELOPE = { from: 'sender@origin.test', to: ['user@example.test'] };

interface Sent {
  readonly subject: string;
  readonly code: number;
  readonly at: number;
}

/** Sends one message after another to `port` until stopped, each with its own subject; every reply is kept. */
function mailLoop(port: number, tag: string) {
  const sent: Sent[] = [];
  let stopped = false;
  const done = (async () => {
    for (let n = 1; !stopped; n++) {
      const subject = `${tag}-${n}`;
      const r = await sendMail(port, ENVELOPE, message({ subject })).catch(() => ({ code: 0 }));
      sent.push({ subject, code: r.code ?? 0, at: Date.now() });
      await sleep(50);
    }
  })();
  return { sent, accepted: () => sent.filter((s) => s.code === 250), stop: async () => ((stopped = true), await done) };
}

/** The current rules with one more blocked sender domain, saved on `api`'s master; the version on a 200. */
async function blockSender(api: ApiClient, domain: string): Promise<number | undefined> {
  const current = await api.get('/api/v1/rules');
  if (current.status !== 200) return undefined;
  const document = current.json.document as { lists?: { senderBlock?: string[] } };
  const put = await api.put('/api/v1/rules', { ...document, lists: { ...document.lists, senderBlock: [...(document.lists?.senderBlock ?? []), `*@${domain}`] } });
  return put.status === 200 ? (put.json.version as number) : undefined;
}

/** Every subject in the master's message log (all pages). */
async function loggedSubjects(api: ApiClient): Promise<Set<string>> {
  const subjects = new Set<string>();
  let cursor: string | null = null;
  do {
    const page = await api.get(`/api/v1/messages?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(page.status, 200, page.text);
    for (const m of page.json.items as { subject: string }[]) subjects.add(m.subject);
    cursor = page.json.next as string | null;
  } while (cursor);
  return subjects;
}

/** Every subject the sink delivered (its .eml files). */
function deliveredSubjects(dir: string): Set<string> {
  if (!existsSync(dir)) return new Set();
  return new Set(readdirSync(dir).filter((f) => f.endsWith('.eml')).flatMap((f) => /^Subject: (.*)$/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1]?.trim() ?? []));
}

test('two masters on a pg_auto_failover pair: kill -9 of a scanner\'s master, then of the PostgreSQL primary; the other master serves, mail flows, nothing acknowledged is lost', { skip, timeout: 600_000 }, async () => {
  const varDir = tempDir('local-ha').path;
  const [a, b, s1, s2, virtual] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const [e1, e2] = await freeUdpPortsOutsideEphemeralRange(2);
  // A master or scanner that dies stays dead while the test looks at the survivors.
  const cluster: LocalHaCluster = await startLocalHaCluster({
    varDir, masterPorts: [a!, b!], sinkPort: 0, scannerPorts: [s1!, s2!], virtualPort: virtual!, electionPorts: [e1!, e2!],
    logLevel: 'silent', say: () => undefined, engines: false, restartDelayMs: 3_600_000,
  });
  // The test's own look into the database, through the same primary finder the masters use.
  let observer: MasterDatabase | undefined;
  // The loops below stop in `finally` too: a failed wait must not leave them keeping the test alive.
  let mail: ReturnType<typeof mailLoop> | undefined;
  let saving = true;
  let saver: Promise<void> | undefined;
  try {
    observer = await openMasterDatabase({ engine: 'postgres', url: cluster.databaseUrl, primaryWaitMs: 60_000 }, MASTER_MIGRATIONS);
    const db = observer.db;
    const linkOf = async (node: string) => db.selectFrom('nodes').select(['online', 'linked_to']).where('name', '=', node).executeTakeFirst();
    const scanner = cluster.scanners.find((s) => s.name === 'scanner-1')!;
    const apiOn = (m: { url: string }) => apiClient(m.url, 'admin', cluster.adminPassword);
    const first = await apiOn(cluster.masters[0]!);
    const rulesVersion = (await first.get('/api/v1/rules')).json.version as number;
    await waitUntil(async () => (await first.get('/api/v1/nodes')).json.items.filter((n: { online: boolean; rulesVersion: number }) => n.online && n.rulesVersion === rulesVersion).length === 2, 'both scanners online with the current rules', 60_000, 200);
    // Each scanner lists both masters, from a different one: the two masters both hold links.
    await waitUntil(async () => new Set([(await linkOf('scanner-1'))?.linked_to, (await linkOf('scanner-2'))?.linked_to]).size === 2, 'the scanners spread over both masters', 30_000, 200);

    const mailing = mailLoop(scanner.smtpPort, 'HA');
    mail = mailing;
    await waitUntil(() => mailing.accepted().length >= 5, 'mail flowing', 30_000, 100);

    // ── kill -9 of the master scanner-1 is linked to ──
    const linkedTo = (await linkOf('scanner-1'))!.linked_to;
    const dead = cluster.masters.find((m) => m.name === linkedTo)!;
    const other = cluster.masters.find((m) => m !== dead)!;
    const deadApi = await apiOn(dead);
    process.kill(dead.process.pid()!, 'SIGKILL');
    const killedAt = Date.now();
    // The console on the other master: a new login, and the session made on the dead one (sessions live in the database).
    const api = await apiOn(other);
    const carried = await fetch(`${other.url}/api/v1/auth/me`, { headers: { cookie: deadApi.cookie } });
    assert.equal(carried.status, 200, 'a session made on the dead master is valid on the other');
    await waitUntil(async () => (await linkOf('scanner-1'))?.linked_to === other.name && (await linkOf('scanner-1'))?.online === 1, `scanner-1 linked to ${other.name}`, 60_000, 200);
    // A rules change saved there reaches scanner-1: a sender blocked now is refused at its SMTP port.
    const blocked = await blockSender(api, 'blocked-after-master-kill.example');
    assert.ok(blocked !== undefined, 'the rules change was saved on the other master');
    await waitUntil(async () => (await sendMail(scanner.smtpPort, { from: 'x@blocked-after-master-kill.example', to: ENVELOPE.to }, message())).code === 550, 'scanner-1 applying the rules saved on the other master', 30_000, 200);
    await waitUntil(() => mailing.accepted().some((s) => s.at > killedAt + 1000), 'mail accepted after the master died', 30_000, 100);

    // ── kill -9 of the PostgreSQL primary, rules being saved and mail accepted meanwhile ──
    const saved: { version: number; domain: string }[] = [];
    saver = (async () => {
      for (let n = 1; saving; n++) {
        const domain = `rules-${n}.example`;
        const version = await blockSender(api, domain).catch(() => undefined);
        if (version !== undefined) saved.push({ version, domain });
        await sleep(100);
      }
    })();
    await waitUntil(() => saved.length >= 3, 'rules saved before the database failover', 30_000, 100);
    const before = await cluster.database.state();
    const primary = before.find((n) => n.reported === 'primary')!.name;
    await cluster.database.kill(primary);
    const primaryKilledAt = Date.now();
    const promoted = (s: PgNodeState[]) => s.some((n) => n.name !== primary && (n.reported === 'wait_primary' || n.reported === 'primary') && n.goal === n.reported);
    await cluster.database.waitForState(promoted, 120_000);
    const promotedAt = Date.now();
    const savedBefore = saved.length;
    await waitUntil(() => saved.length > savedBefore + 2, 'rules saved again on the new primary', 60_000, 100);
    await waitUntil(() => mailing.accepted().some((s) => s.at > promotedAt + 2000), 'mail accepted after the promotion', 60_000, 100);
    saving = false;
    await saver;
    await mailing.stop();
    console.log(`standby promoted ${promotedAt - primaryKilledAt} ms after kill -9 of ${primary}; ${saved.length} rules versions saved, ${mailing.accepted().length} of ${mailing.sent.length} messages accepted`);

    // ── nothing acknowledged is lost ──
    for (const { version, domain } of [{ version: blocked!, domain: 'blocked-after-master-kill.example' }, ...saved]) {
      const stored = await api.get(`/api/v1/rules/versions/${version}`);
      assert.equal(stored.status, 200, `rules version ${version} (answered 200) is stored`);
      assert.ok((stored.json.document.lists.senderBlock as string[]).includes(`*@${domain}`), `version ${version} blocks ${domain}, as saved`);
    }
    const accepted = mailing.accepted().map((s) => s.subject);
    assert.ok(accepted.length >= 10, `${accepted.length} messages accepted`);
    await waitUntil(async () => {
      const logged = await loggedSubjects(api);
      return accepted.every((s) => logged.has(s));
    }, 'every message that got a 250 in the master\'s message log', 120_000, 500);
    await waitUntil(() => {
      const delivered = deliveredSubjects(join(varDir, 'ha', 'delivered'));
      return accepted.every((s) => delivered.has(s));
    }, 'every message that got a 250 delivered to the sink', 120_000, 500);
  } finally {
    saving = false;
    await saver;
    await mail?.stop();
    await observer?.close();
    await cluster.close();
  }
});
