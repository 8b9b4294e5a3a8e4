import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validateDocument } from '@moat/config';
import { MasterConfigSchema, mintJoinTokenOffline } from '@moat/master';
import { startDownstream, type Downstream } from '../helpers/downstream.ts';
import { ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';
import { freePort } from '../helpers/ports.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { spawnMoat, spawnScanner, type MoatProcess } from '../helpers/scanner-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * A whole Moat cluster as real child processes on loopback, for the fault and soak runs:
 * `moat master`, three `moat scanner`s whose embedded balancers elect the holder of one
 * virtual address (priorities 200/100/50, adverts from 127.0.0.51-53), and an in-test
 * downstream. Every node keeps its ports and data folder across restarts, so a node killed
 * with -9 comes back as the same node.
 */
export const VIP = '127.0.0.100';
/** The address the balancers connect to the scanners from: the scanners trust PROXY lines from it only. */
const LB_SOURCE = '127.0.0.3';
const KEY = 'faults-election-key-0123456789';
const PRIORITIES = [200, 100, 50] as const;

export interface ScannerNode {
  readonly name: string;
  readonly index: number;
  readonly dataDir: string;
  readonly configFile: string;
  readonly statusPort: number;
  proc: MoatProcess | undefined;
}

export interface Cluster {
  readonly dir: string;
  readonly vipPort: number;
  readonly masterUrl: string;
  readonly masterDb: string;
  readonly downstream: Downstream;
  readonly scanners: readonly ScannerNode[];
  master: MoatProcess | undefined;
  /** Every process started so far (a restarted node has several), for their logs. */
  readonly history: { name: string; proc: MoatProcess }[];
  /** Whether the disk-full scanner's data folder is a size-limited tmpfs (root only). */
  readonly tmpfs: string | undefined;
  startMaster(): Promise<MoatProcess>;
  startScanner(node: ScannerNode): Promise<void>;
  /** The scanner whose balancer holds the virtual address, if exactly one does. */
  holder(): Promise<ScannerNode | undefined>;
  waitForHolder(what: string, timeoutMs?: number): Promise<ScannerNode>;
  /** Every process's pid by node name (for the soak's samples). */
  pids(): Map<string, number>;
  /** Stop every node still running (SIGTERM, SIGKILL after 10 s) and the downstream; the data stays for the audit. */
  close(): Promise<void>;
  /** Write every node's warning and error log lines to a file (for a failed run). */
  dumpLogs(file: string): void;
  /** Unmount the tmpfs and remove the cluster's folder (after close). */
  cleanup(): void;
}

export interface ClusterOptions {
  /** Mount a tmpfs of this many MiB on this scanner's data folder (index 0..2), for the disk-full fault. */
  readonly tmpfsFor?: { readonly index: number; readonly mib: number };
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = tempDir('faults').path;
  const downstream = await startDownstream();
  const [masterPort = 0, vipPort = 0, ...ports] = await Promise.all(Array.from({ length: 2 + 3 * 3 }, () => freePort()));
  const smtpPorts = ports.slice(0, 3);
  const udpPorts = ports.slice(3, 6);
  const statusPorts = ports.slice(6, 9);
  const masterUrl = `http://127.0.0.1:${masterPort}`;

  const masterDir = join(dir, 'master');
  mkdirSync(masterDir);
  writeFileSync(join(dir, 'rules.yaml'), stringify(BASE_RULES));
  const masterConfig = join(dir, 'master.yaml');
  const masterDocument = {
    dataDir: masterDir,
    http: { host: '127.0.0.1', port: masterPort },
    cluster: { heartbeatSeconds: 0.5, offlineAfterMissed: 3, requestTimeoutSeconds: 5 },
    rules: { seedFile: join(dir, 'rules.yaml') },
    admin: { username: 'admin', password: ADMIN_PASSWORD },
    log: { level: 'info' },
  };
  writeFileSync(masterConfig, stringify(masterDocument));
  // Each scanner's one-time join token, made in the master's database before it starts (as `moat master join-token` does).
  const masterSettings = validateDocument(MasterConfigSchema, masterDocument, 'faults master');
  const joinTokens = new Map<string, string>();
  for (let i = 0; i < PRIORITIES.length; i++) joinTokens.set(`s${i + 1}`, (await mintJoinTokenOffline(masterSettings, `s${i + 1}`, { ttlSeconds: 3600, replace: false })).token);

  const upstreams = smtpPorts.map((port, i) => ({ name: `s${i + 1}`, host: '127.0.0.1', port }));
  let tmpfs: string | undefined;
  const scanners: ScannerNode[] = PRIORITIES.map((priority, i) => {
    const name = `s${i + 1}`;
    const nodeDir = join(dir, name);
    const dataDir = join(nodeDir, 'data');
    mkdirSync(dataDir, { recursive: true });
    if (options.tmpfsFor?.index === i) tmpfs = mountTmpfs(dataDir, options.tmpfsFor.mib);
    const configFile = join(nodeDir, 'scanner.yaml');
    writeFileSync(configFile, stringify({
      node: { name },
      dataDir,
      // The disk-full scanner's folder is a 48 MiB tmpfs: short of space means under 8 MiB there.
      storage: { minFreeMegabytes: 8, checkIntervalSeconds: 0.5 },
      smtp: {
        listen: { host: '127.0.0.1', port: smtpPorts[i] },
        hostname: `${name}.test`,
        trustedProxies: [LB_SOURCE],
        // One load client sends everything: the per-address rate limit must not be the fault.
        connectionRate: { count: 1_000_000, windowSeconds: 60 },
      },
      relay: { host: '127.0.0.1', port: downstream.port, retryBaseSeconds: 0.2, retryMaxSeconds: 1, timeoutSeconds: 5 },
      master: { url: `ws://127.0.0.1:${masterPort}/cluster`, joinToken: joinTokens.get(name)!, reconnectBaseSeconds: 0.1, reconnectMaxSeconds: 0.5 },
      balancer: {
        listen: { host: VIP, port: vipPort },
        sourceAddress: LB_SOURCE,
        upstreams,
        healthCheck: { type: 'smtp', intervalMs: 250, rise: 1, fall: 1 },
        status: { host: '127.0.0.1', port: statusPorts[i] },
        election: {
          nodeId: name, priority, advertIntervalMs: 100, key: KEY,
          bind: { host: `127.0.0.${51 + i}`, port: udpPorts[i] },
          peers: udpPorts.map((port, j) => ({ host: `127.0.0.${51 + j}`, port })).filter((_, j) => j !== i),
        },
      },
      log: { level: 'info' },
    }));
    return { name, index: i, dataDir, configFile, statusPort: statusPorts[i]!, proc: undefined };
  });

  let closed = false;
  const cluster: Cluster = {
    dir, vipPort, masterUrl, downstream, scanners, tmpfs,
    masterDb: join(masterDir, 'master.sqlite'),
    master: undefined,
    history: [],
    async startMaster() {
      cluster.master = await spawnMoat(['master', '--config', masterConfig], 'MASTER_STARTED');
      cluster.history.push({ name: 'master', proc: cluster.master });
      return cluster.master;
    },
    async startScanner(node) {
      node.proc = await spawnScanner(node.configFile, 30_000);
      cluster.history.push({ name: node.name, proc: node.proc });
    },
    async holder() {
      const held = await Promise.all(scanners.map(async (s) => (s.proc && alive(s.proc) && (await isHolder(s.statusPort)) ? s : undefined)));
      const holders = held.filter((s) => s !== undefined);
      return holders.length === 1 ? holders[0] : undefined;
    },
    async waitForHolder(what, timeoutMs = 20_000) {
      let found: ScannerNode | undefined;
      await waitUntil(async () => (found = await cluster.holder()), what, timeoutMs, 50);
      return found!;
    },
    pids() {
      const pids = new Map<string, number>();
      if (cluster.master && alive(cluster.master)) pids.set('master', cluster.master.pid);
      for (const s of scanners) if (s.proc && alive(s.proc)) pids.set(s.name, s.proc.pid);
      return pids;
    },
    async close() {
      const procs = [cluster.master, ...scanners.map((s) => s.proc)].filter((p): p is MoatProcess => p !== undefined && alive(p));
      await Promise.all(procs.map(async (p) => {
        // A clean stop; a node that does not stop in time is killed.
        const stopped = p.stop();
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
        await stopped;
        clearTimeout(timer);
      }));
      if (!closed) await downstream.close();
      closed = true;
    },
    dumpLogs(file) {
      const lines = cluster.history.flatMap(({ name, proc }) => proc.logs.filter((l) => Number(l.level) >= 40).map((l) => JSON.stringify({ node: name, pid: proc.pid, ...l })));
      writeFileSync(file, `${lines.join('\n')}\n`);
    },
    cleanup() {
      if (tmpfs) unmount(tmpfs);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.startMaster();
    // One at a time: the first start of each joins the cluster; the 200 ends up holding the address.
    for (const s of scanners) await cluster.startScanner(s);
    await waitUntil(async () => (await cluster.holder())?.name === 's1', 's1 (priority 200) holds the virtual address', 20_000, 50);
  } catch (err) {
    await cluster.close();
    cluster.cleanup();
    throw err;
  }
  return cluster;
}

export function alive(p: MoatProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

async function isHolder(statusPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${statusPort}/status`, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { holder?: boolean }).holder === true;
  } catch {
    return false; // killed or not listening yet
  }
}

/** Mount a tmpfs of `mib` MiB on `dir`; undefined (and a note on stderr) where mounting is not allowed. */
function mountTmpfs(dir: string, mib: number): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch (err) {
    process.stderr.write(`note: cannot mount a tmpfs on ${dir} (${(err as Error).message.split('\n')[0]}); the disk-full fault is skipped\n`);
    return undefined;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(`note: umount ${dir} failed: ${(err as Error).message.split('\n')[0]}\n`);
  }
}
