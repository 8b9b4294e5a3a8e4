import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { apiClient } from '../helpers/cluster-harness.ts';
import { sleep, waitUntil } from '../helpers/wait.ts';
import { alive, startCluster, VIP, type Cluster } from './cluster.ts';
import { messageIdOf, startLoad } from './load.ts';
import { audit, formatTable, type Window } from './audit.ts';
import { masterFacts, scannerOutbox } from './master-facts.ts';
import { writeReport } from './report.ts';

/**
 * The promises of docs/faults.md under one steady load: a real cluster (master, three
 * scanners whose embedded balancers share the virtual address, a downstream) as child
 * processes, one client sending through the virtual address and recording every reply, and
 * faults injected one after another. The audit at the end: every 250 reached the downstream
 * or the quarantine (duplicates allowed and counted), every event reached the master once,
 * every refusal was a proper 4xx/5xx, nothing hung. Windows are timed by what the cluster
 * does (a takeover, a restart), plus short fixed stretches of load under each fault.
 */
const CLIENT = '127.0.0.5';
const DISK_FULL = 2; // s3: priority 50, never the holder in this run

test('fault injection under steady load: zero lost, zero duplicated events on the master, every refusal a 4xx/5xx', { timeout: 300_000 }, async (t) => {
  const setupStarted = Date.now();
  const cluster = await startCluster({ tmpfsFor: { index: DISK_FULL, mib: 48 } });
  t.diagnostic(`cluster up: ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`);
  const load = startLoad({ host: VIP, port: cluster.vipPort, localAddress: CLIENT, concurrency: 4, pauseMs: 25, quarantineEvery: 10 });
  const windows: Window[] = [];
  const notes: string[] = [];
  const phase = async (label: string, fault: string, body: () => Promise<void>, expect: { cutsSessions?: boolean; unholdsAddress?: boolean } = {}): Promise<void> => {
    load.setWindow(label);
    const started = Date.now();
    await body();
    windows.push({ label, fault, seconds: (Date.now() - started) / 1000, ...expect });
    t.diagnostic(`${label}: ${((Date.now() - started) / 1000).toFixed(1)} s, ${load.attempts.length} attempts so far`);
  };
  const [s1, s2, s3] = cluster.scanners as [Cluster['scanners'][0], Cluster['scanners'][0], Cluster['scanners'][0]];
  let stopped = false;
  try {
    // CI runs as root and sets MOAT_REQUIRE_ROOT_FAULTS=1 (.ci/run): there a disk-full fault
    // that cannot be injected fails the run instead of becoming a note.
    assert.ok(cluster.tmpfs !== undefined || process.env['MOAT_REQUIRE_ROOT_FAULTS'] !== '1', 'MOAT_REQUIRE_ROOT_FAULTS=1 but no tmpfs could be mounted for the disk-full fault (see the note above; it needs root)');
    await phase('baseline', 'none (steady load)', () => sleep(3000));

    await phase('kill-scanner', `kill -9 of ${s2.name} (not the holder), restarted after 2 s`, async () => {
      await s2.proc!.kill9();
      await sleep(2000);
      await cluster.startScanner(s2);
      await sleep(1000);
    }, { cutsSessions: true });

    await phase('kill-holder', 'kill -9 of the address holder (s1); s2 takes over; s1 restarted and preempts', async () => {
      const holder = await cluster.waitForHolder('a holder before the kill');
      assert.equal(holder.name, s1.name);
      const killedAt = Date.now();
      await s1.proc!.kill9();
      const next = await cluster.waitForHolder('a new holder after kill -9 of the holder');
      const tookOverAt = Date.now();
      await sleep(1500);
      const restartAt = Date.now();
      await cluster.startScanner(s1);
      await waitUntil(async () => (await cluster.holder())?.name === s1.name, 's1 takes the address back (preempt)', 20_000, 50);
      const preemptedAt = Date.now();
      await sleep(1000);
      const refusedIn = (from: number, to: number) => load.attempts.filter((a) => a.outcome === 'refused' && a.endedAt! >= from && a.endedAt! <= to).length;
      notes.push(`kill-holder: ${next.name} took the virtual address over ${tookOverAt - killedAt} ms after the kill (seen on its status endpoint, polled every 50 ms); connections refused: ${refusedIn(killedAt, tookOverAt)} between the kill and the takeover, ${refusedIn(tookOverAt + 1, restartAt)} while ${next.name} held it, ${refusedIn(restartAt + 1, preemptedAt + 1000)} from s1's restart (${preemptedAt - restartAt} ms until it held the address again) to the end of the window`);
    }, { cutsSessions: true, unholdsAddress: true });

    await phase('kill-master', 'kill -9 of the master, restarted after 3 s', async () => {
      await cluster.master!.kill9();
      await sleep(3000);
      await cluster.startMaster();
      const api = await apiClient(cluster.masterUrl);
      await waitUntil(async () => ((await api.get('/api/v1/nodes')).json.items as { online: boolean }[]).filter((n) => n.online).length === 3, 'every scanner back online on the master', 20_000, 100);
    });

    await phase('downstream-4xx', 'the downstream answers 451 to every RCPT for 4 s, then accepts', async () => {
      cluster.downstream.behaviour.rcpt = () => ({ code: 451, text: '4.3.0 Downstream busy, try later' });
      await sleep(4000);
      delete cluster.downstream.behaviour.rcpt;
      await sleep(1000);
    });

    await phase('master-db-locked', "another process holds BEGIN EXCLUSIVE on the master's SQLite file for 6 s (past its 5 s busy_timeout)", async () => {
      const db = new DatabaseSync(cluster.masterDb, { timeout: 10_000 });
      db.exec('BEGIN EXCLUSIVE');
      await sleep(6000);
      db.exec('ROLLBACK');
      db.close();
      await sleep(1000);
    });

    if (cluster.tmpfs) {
      await phase('disk-full', `${s3.name}'s data folder (a ${48} MiB tmpfs) filled to ENOSPC for 4 s, then freed`, async () => {
        const filler = join(s3.dataDir, 'filler');
        fillUp(filler);
        await sleep(4000);
        unlinkSync(filler);
        await sleep(1500);
      });
    } else {
      notes.push('disk-full: skipped, a tmpfs could not be mounted here (needs root); no simulation is run in its place');
    }

    await load.stop();
    stopped = true;
    const drainStarted = Date.now();
    // Drain: every 250 reaches the downstream or the quarantine, every outbox empties.
    const accepted = load.attempts.filter((a) => a.outcome === 'accepted' && !a.quarantine).map((a) => a.messageId);
    const arrivedIds = () => new Set(cluster.downstream.received.map((m) => messageIdOf(m.raw)));
    await waitUntil(() => { const got = arrivedIds(); return accepted.every((id) => got.has(id)); }, 'every accepted message downstream', 90_000, 250).catch((err: Error) => notes.push(`drain: ${err.message}`));
    await waitUntil(() => cluster.scanners.every((s) => { const o = scannerOutbox(s.dataDir); return o.pending === 0 && o.queued === 0; }), 'every outbox and relay queue empty', 60_000, 250).catch((err: Error) => notes.push(`drain: ${err.message}`));
    t.diagnostic(`drain: ${((Date.now() - drainStarted) / 1000).toFixed(1)} s`);
    // Files a failed transaction left behind (swept at the node's next start, RECOVERY_SWEEP).
    const leftovers = cluster.scanners.map((s) => `${s.name} ${readdirSync(join(s.dataDir, 'queue')).length}`).join(', ');
    notes.push(`files left in queue/ after the drain (every relay queue empty; the next start sweeps them): ${leftovers}`);
    // A node that exited by itself (not killed by the test) crashed under a fault.
    const crashed = cluster.history.filter((h) => h.proc.child.exitCode !== null).map((h) => `crashed: ${h.name} (pid ${h.proc.pid}) exited with ${h.proc.child.exitCode}: ${h.proc.stderr().trim().split('\n').slice(0, 8).join(' / ').slice(0, 600)}`);
    await cluster.close();

    const facts = masterFacts(cluster.masterDb, cluster.scanners);
    const audited = audit(windows, load.attempts, cluster.downstream.received.map((m) => messageIdOf(m.raw)), facts);
    const result = { ...audited, problems: [...crashed, ...audited.problems] };
    const table = formatTable(result);
    const resetWhy = `${result.total.resets} resets: sessions in flight on a scanner killed with -9 (and, when the holder is killed, every session its balancer was relaying); ${result.deliveredAfterReset} of them had been committed before the kill and were delivered anyway (at-least-once). Connection refusals: connects while no node held the virtual address (between kill -9 of the holder and the takeover).`;
    const report = writeReport({ table, eventsTable: result.eventsTable, replies: result.replies, notes: [...notes, resetWhy], problems: result.problems, attempts: load.attempts.length });
    t.diagnostic(`\n${report}`);
    if (result.problems.length > 0) {
      const file = join(tmpdir(), `moat-faults-${process.pid}.log`);
      cluster.dumpLogs(file);
      writeFileSync(`${file}.attempts.json`, JSON.stringify(load.attempts.filter((a) => a.outcome !== 'accepted'), null, 1));
      t.diagnostic(`warnings and errors of every node: ${file}; attempts not accepted: ${file}.attempts.json`);
    }
    assert.deepEqual(result.problems, [], 'the audit found broken promises');
    assert.ok(result.total.accepted > 0 && windows.every((w) => result.rows.find((r) => r.fault === w.fault)!.sent > 0), 'every window carried load');
  } finally {
    if (!stopped) await load.stop();
    if ([cluster.master, ...cluster.scanners.map((s) => s.proc)].some((p) => p && alive(p))) await cluster.close();
    cluster.cleanup();
  }
});

/** Write to `file` until the file system says ENOSPC: 1 MiB at a time, then 4 KiB, then 512 bytes. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size, 0x61);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}
