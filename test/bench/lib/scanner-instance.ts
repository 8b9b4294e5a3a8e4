/**
 * The system under test: `moat scanner` with its durable queue in a temp dataDir, relaying to
 * a Postfix smtp-sink on loopback. Delivered = messages the sink acknowledged, so the figure
 * covers the whole pipeline (SMTP in, queue on disk, relay out).
 */
import { closeSync, existsSync, openSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, makeTempDir, spawnManaged, tailFile, waitForPort } from './proc.ts';
import { RssMonitor } from './rss.ts';
import { treeCpuMs } from './proc-cpu.ts';
import { startSmtpSink } from './smtp-sink.ts';
import type { Target } from './target.ts';

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const scannerEntry = join(repoRoot, 'apps', 'cli', 'src', 'moat.ts');

export interface ScannerOptions {
  keep: boolean;
  /** relay.maxConnections: parallel connections to the downstream. */
  relayConnections: number;
  /** Extra Node flags for the scanner process (e.g. --cpu-prof --cpu-prof-dir=DIR). */
  nodeArgs: string[];
  /** The scanner's log.level; its log goes to a file in the temp folder. */
  logLevel: string;
  /** The scanner's `analyzers:` section; none: the bare pipeline. */
  analyzers?: Record<string, unknown>;
  /** false: rules with `retention.enabled: false` (default: the rules' default, on). */
  retention?: boolean;
}

export async function startScanner(o: ScannerOptions): Promise<Target> {
  if (!existsSync(scannerEntry)) throw new Error(`the scanner entry point ${scannerEntry} does not exist yet`);
  const sink = await startSmtpSink(o.keep);
  try {
    const port = await freePort();
    const tmp = makeTempDir('scanner', o.keep);
    const dataDir = join(tmp.path, 'data');
    mkdirSync(dataDir);
    const rulesFile = join(tmp.path, 'rules.yaml');
    const configFile = join(tmp.path, 'scanner.yaml');
    const logFile = join(tmp.path, 'scanner.log');
    writeFileSync(rulesFile, `version: 1\nacceptedDomains: [example.test]\n${o.retention === false ? 'retention: { enabled: false }\n' : ''}`);
    writeFileSync(
      configFile,
      [
        'node: { name: bench-1 }',
        `dataDir: ${JSON.stringify(dataDir)}`,
        `smtp: { listen: { host: 127.0.0.1, port: ${port} }, hostname: bench.localhost, maxClients: 2000, maxConnectionsPerIp: 1000, connectionRate: { count: 1000000, windowSeconds: 1 } }`,
        `relay: { host: 127.0.0.1, port: ${sink.port}, maxConnections: ${o.relayConnections}, retryBaseSeconds: 1 }`,
        `rules: { file: ${JSON.stringify(rulesFile)} }`,
        `log: { level: ${o.logLevel} }`,
        ...(o.analyzers ? [`analyzers: ${JSON.stringify(o.analyzers)}`] : []),
        '',
      ].join('\n'),
    );
    const fd = openSync(logFile, 'a');
    const proc = spawnManaged('moat scanner', process.execPath, [...o.nodeArgs, scannerEntry, 'scanner', '--config', configFile], {
      cwd: repoRoot,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const died = (): string | undefined => {
      const s = proc.exitStatus();
      return s === undefined ? undefined : `exited (${s}); its output:\n${tailFile(logFile, 3000)}`;
    };
    try {
      await waitForPort(port, 60_000, 'moat scanner', died);
    } catch (err) {
      await proc.stop('SIGKILL', 2000);
      tmp.remove();
      throw err;
    }
    const monitor = new RssMonitor(proc.pid);
    let stopping = false;
    void proc.exited.then(() => {
      const reason = died();
      if (reason && !stopping) sink.received.failure = `the scanner ${reason}`;
    });
    return {
      name: 'Moat scanner',
      port,
      delivered: sink.received,
      deliveredHow: 'messages the downstream smtp-sink acknowledged (its -c counter), so relay is included',
      rss: () => monitor.finish(),
    cpuMs: () => treeCpuMs(proc.pid),
      async stop() {
        stopping = true;
        await proc.stop('SIGTERM', 15_000);
        const s = proc.exitStatus();
        if (s !== 0 && s !== 'SIGTERM') process.stderr.write(`moat scanner exited with ${s} on SIGTERM; output:\n${tailFile(logFile, 2000)}\n`);
        await sink.stop();
        tmp.remove();
      },
    };
  } catch (err) {
    await sink.stop();
    throw err;
  }
}
