/**
 * The console benchmark's cluster state, built once and cached: a master whose central log
 * holds `messages` synthetic messages and `quarantine` quarantine entries over 30 days (the
 * master data benchmark's generator), two scanners joined to it, and one real message held in
 * a scanner's quarantine (so the detail pages have content to fetch from a node). The three
 * data folders and a meta.json go under `<cacheRoot>/console-<messages>-<quarantine>-g<N>/`;
 * each run copies them to a temp folder and starts the master and scanners there, so the
 * cache is never changed by a run. A cache older than `maxAgeHours` is rebuilt: its data ends
 * when it was built, and the dashboard shows the last 24 hours.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@moat/storage';
import { MASTER_MIGRATIONS } from '../../../apps/master/src/db/migrations.ts';
import { DAY_MS } from '../../../apps/master/src/data/time-buckets.ts';
import { apiClient, startClusterScanner, startTestMaster } from '../../helpers/cluster-harness.ts';
import { startDownstream } from '../../helpers/downstream.ts';
import { message, sendMail } from '../../helpers/smtp-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { bulkLoadMessages, bulkLoadQuarantine } from '../master-data-generate.ts';
import { benchLog } from './bench-options.ts';
import { onCleanup } from './cleanup.ts';

/** Bump when what a build puts in the cache changes: older caches are then rebuilt. */
const GENERATION = 1;
export const SCANNER_NAMES = ['scanner-1', 'scanner-2'] as const;

export interface DatasetSpec {
  readonly messages: number;
  readonly quarantine: number;
  readonly cacheRoot: string;
  readonly maxAgeHours: number;
  readonly rebuild: boolean;
}

export interface DatasetMeta {
  readonly messages: number;
  readonly quarantine: number;
  /** Epoch ms: the synthetic data ends a minute before this. */
  readonly builtAt: number;
  readonly buildSeconds: number;
  readonly nodeIds: readonly string[];
  /** The real held message (quarantine id = its queue id) and its message log entry. */
  readonly heldId: string;
  readonly logged: { readonly nodeId: string; readonly id: string };
}

/** A working copy of a cached dataset: data folders to start the cluster in, and how to remove them. */
export interface Dataset {
  readonly meta: DatasetMeta;
  readonly masterDir: string;
  readonly scannerDirs: readonly string[];
  /** Size of the master database file, bytes. */
  readonly dbBytes: number;
  cleanup(): void;
}

const metaFile = (dir: string) => join(dir, 'meta.json');

/** The cached dataset for `spec` (built first if missing, stale or asked to), copied to a temp folder. */
export async function datasetCopy(spec: DatasetSpec): Promise<Dataset> {
  const dir = join(spec.cacheRoot, `console-${spec.messages}-${spec.quarantine}-g${GENERATION}`);
  const meta = existsSync(metaFile(dir)) ? (JSON.parse(readFileSync(metaFile(dir), 'utf8')) as DatasetMeta) : undefined;
  const ageHours = meta ? (Date.now() - meta.builtAt) / 3_600_000 : Infinity;
  let current = meta;
  if (!meta || spec.rebuild || ageHours > spec.maxAgeHours) {
    benchLog(meta ? `cache ${dir} is ${ageHours.toFixed(1)} h old${spec.rebuild ? ' (--rebuild)' : ` (> ${spec.maxAgeHours} h)`}: rebuilding` : `no cache in ${dir}: building`);
    current = await build(dir, spec);
  } else {
    benchLog(`using the cache in ${dir} (built ${ageHours.toFixed(1)} h ago)`);
  }
  // Bring the cached database to the current schema once, here, not in every run's copy.
  openDatabase(join(dir, 'master', 'master.sqlite'), MASTER_MIGRATIONS).close();
  const work = tempDir('console-bench');
  // The 1M copy is most of a gigabyte: removed on an error or Ctrl-C too.
  const forget = onCleanup(`copy of ${dir}`, work.cleanup);
  cpSync(dir, work.path, { recursive: true });
  const masterDir = join(work.path, 'master');
  const cleanup = () => {
    forget();
    work.cleanup();
  };
  return { meta: current!, masterDir, scannerDirs: SCANNER_NAMES.map((n) => join(work.path, n)), dbBytes: statSync(join(masterDir, 'master.sqlite')).size, cleanup };
}

/** Start a master and two scanners in a staging folder, fill the log, hold one real message, stop; then move it into place. */
async function build(dir: string, spec: DatasetSpec): Promise<DatasetMeta> {
  const started = performance.now();
  const staging = `${dir}.building`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const downstream = await startDownstream();
  const master = await startTestMaster({ dataDir: join(staging, 'master') });
  const scanners = [];
  let masterOpen = true;
  try {
    for (const name of SCANNER_NAMES) scanners.push(await startClusterScanner(name, master.wsUrl, downstream.port, { dataDir: join(staging, name) }));
    const api = await apiClient(master.url);
    await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items.filter((n: { online: boolean }) => n.online).length === SCANNER_NAMES.length, 'both scanners online', 30_000);
    const nodeIds: string[] = (await api.get('/api/v1/nodes')).json.items.map((n: { id: string }) => n.id);

    const builtAt = Date.now();
    const end = builtAt - 60_000;
    const range = { start: end - 30 * DAY_MS, end, nodes: nodeIds };
    benchLog(`filling the master's log: ${spec.messages.toLocaleString('en-US')} messages, ${spec.quarantine.toLocaleString('en-US')} quarantined, over 30 days`);
    const db = openDatabase(join(staging, 'master', 'master.sqlite'), MASTER_MIGRATIONS);
    bulkLoadMessages(db, { ...range, count: spec.messages, seed: 7, onProgress: (n) => n % 250_000 === 0 && benchLog(`  ${n.toLocaleString('en-US')} messages`) });
    bulkLoadQuarantine(db, { ...range, count: spec.quarantine, seed: 11 });
    // The generator records its rows' sequence numbers as already seen; the real scanners' own
    // outbox numbers start at 1, so forget the synthetic ones or the real events would look like repeats.
    db.prepare(`DELETE FROM events WHERE node_id IN (${nodeIds.map(() => '?').join(',')})`).run(...nodeIds);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();

    const held = await sendMail(scanners[0]!.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME bench', body: 'held for the bench' }));
    const heldId = /queued as (\w+)/.exec(held.response)?.[1];
    if (!heldId) throw new Error(`the bench message was not queued: ${held.response}`);
    await waitUntil(async () => (await api.get(`/api/v1/quarantine/${heldId}`)).status === 200, 'the real held message is indexed', 30_000);
    const logged = (await api.get(`/api/v1/messages?subject=${encodeURIComponent('QUARANTINE-ME bench')}`)).json.items[0] as { nodeId: string; id: string };
    const meta: DatasetMeta = { messages: spec.messages, quarantine: spec.quarantine, builtAt, buildSeconds: 0, nodeIds, heldId, logged: { nodeId: logged.nodeId, id: logged.id } };
    for (const s of scanners.splice(0)) await s.close();
    masterOpen = false;
    await master.close();
    const checkpoint = openDatabase(join(staging, 'master', 'master.sqlite'), MASTER_MIGRATIONS);
    checkpoint.pragma('wal_checkpoint(TRUNCATE)');
    checkpoint.close();
    const done = { ...meta, buildSeconds: Math.round((performance.now() - started) / 1000) };
    writeFileSync(metaFile(staging), `${JSON.stringify(done, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    benchLog(`built ${dir} in ${done.buildSeconds} s`);
    return done;
  } finally {
    for (const s of scanners) await s.close();
    if (masterOpen) await master.close();
    await downstream.close();
  }
}
