import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ensureDirs, writeFileDurably } from '@moat/storage';
import { validateDocument } from '@moat/config';
import { demoRules } from '@moat/rules';
import { ScannerConfigSchema, startScanner, createLogger, type Scanner } from '@moat/scanner';
import { startSink, type Sink } from '@moat/sink';

/** The defaults of `pnpm start`; part of the contract (see docs/local-cluster.md). */
export const LOCAL_DEFAULTS = {
  varDir: 'var',
  sink: { host: '127.0.0.1', port: 2600 },
  scanners: [{ name: 'scanner-1', port: 2525 }],
  domain: 'example.test',
} as const;

export interface LocalCluster {
  readonly sink: Sink;
  readonly scanners: readonly Scanner[];
  close(): Promise<void>;
}

export interface LocalClusterOptions {
  readonly varDir?: string;
  /** Override the fixed ports (tests use 0 so they never collide with a running cluster). */
  readonly sinkPort?: number;
  readonly scannerPorts?: readonly number[];
  readonly logLevel?: 'info' | 'warn' | 'silent';
}

/** Start the whole local cluster on loopback with state under `var/`, kept across restarts. */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const varDir = options.varDir ?? LOCAL_DEFAULTS.varDir;
  const root = resolve(varDir);
  await ensureDirs(root);
  const rulesFile = join(root, 'rules.yaml');
  if (!existsSync(rulesFile)) await writeFileDurably(rulesFile, `# Demo rules of the local cluster; edit and save: scanners reload them.\n${stringify(demoRules())}`);

  const sink = await startSink({ host: LOCAL_DEFAULTS.sink.host, port: options.sinkPort ?? LOCAL_DEFAULTS.sink.port, dir: join(root, 'delivered') });
  const scanners: Scanner[] = [];
  for (const [i, s] of LOCAL_DEFAULTS.scanners.entries()) {
    const port = options.scannerPorts?.[i] ?? s.port;
    const config = validateDocument(
      ScannerConfigSchema,
      {
        node: { name: s.name },
        dataDir: join(root, s.name),
        smtp: { listen: { host: '127.0.0.1', port }, hostname: `${s.name}.moat.localhost` },
        relay: { host: LOCAL_DEFAULTS.sink.host, port: sink.port, retryBaseSeconds: 5, retryMaxSeconds: 300 },
        rules: { file: rulesFile },
      },
      `local cluster (${s.name})`,
    );
    scanners.push(await startScanner(config, { log: createLogger(options.logLevel ?? 'info', { role: 'scanner', node: s.name }) }));
  }
  return {
    sink,
    scanners,
    async close() {
      for (const s of scanners) await s.close();
      await sink.close();
    },
  };
}
