import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validateDocument } from '@moat/config';
import type { Logger } from 'pino';
import { ScannerConfigSchema, startScanner, createLogger, type Scanner } from '@moat/scanner';
import { after, before } from 'node:test';
import { tempDir } from './temp-dir.ts';
import { startDownstream, type Downstream } from './downstream.ts';

export const BASE_RULES = {
  version: 1,
  acceptedDomains: ['example.test'],
  lists: { senderBlock: ['*@blocked.example'], ipBlock: [] as string[] },
  limits: { maxMessageBytes: 1024 * 1024, maxRecipients: 5 },
  content: [
    { id: 'quarantine-me', target: 'subject', contains: 'QUARANTINE-ME', action: 'quarantine' },
    { id: 'tag-me', target: 'subject', contains: 'TAG-ME', action: 'tag' },
  ],
};

export interface ScannerUnderTest {
  readonly scanner: Scanner;
  readonly port: number;
  readonly dir: string;
  readonly rulesFile: string;
  readonly configFile: string;
  writeRules(rules: unknown): void;
  close(): Promise<void>;
}

/** Build a scanner config object for tests: loopback, port 0, fast retries. */
export function testScannerConfig(dir: string, downstreamPort: number, overrides: Record<string, unknown> = {}) {
  return {
    node: { name: 'test-scanner' },
    dataDir: join(dir, 'data'),
    smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner.test' },
    relay: { host: '127.0.0.1', port: downstreamPort, retryBaseSeconds: 0.2, retryMaxSeconds: 1, timeoutSeconds: 5 },
    rules: { file: join(dir, 'rules.yaml') },
    log: { level: process.env.MOAT_TEST_LOG ?? 'silent' },
    ...overrides,
  };
}

/** Start a scanner in this process with the given rules and a downstream port (and a logger of the test's, e.g. captureLog's). */
export async function startTestScanner(downstreamPort: number, options: { rules?: unknown; overrides?: Record<string, unknown>; log?: Logger } = {}): Promise<ScannerUnderTest> {
  const tmp = tempDir('scanner');
  const rulesFile = join(tmp.path, 'rules.yaml');
  const writeRules = (rules: unknown) => writeFileSync(rulesFile, stringify(rules));
  writeRules(options.rules ?? BASE_RULES);
  const raw = testScannerConfig(tmp.path, downstreamPort, options.overrides);
  const configFile = join(tmp.path, 'scanner.yaml');
  writeFileSync(configFile, stringify(raw));
  const config = validateDocument(ScannerConfigSchema, raw, configFile);
  const scanner = await startScanner(config, { log: options.log ?? createLogger(config.log.level, { role: 'scanner' }) });
  return {
    scanner,
    port: scanner.smtpPort,
    dir: tmp.path,
    rulesFile,
    configFile,
    writeRules,
    async close() {
      await scanner.close();
      tmp.cleanup();
    },
  };
}

/**
 * One downstream and one scanner relaying to it, shared by every test of a file: started before
 * the file's first test, closed after its last. Read `.node` and `.downstream` inside the tests.
 */
export function sharedScanner(): { readonly node: ScannerUnderTest; readonly downstream: Downstream } {
  const shared = {} as { node: ScannerUnderTest; downstream: Downstream };
  before(async () => {
    shared.downstream = await startDownstream();
    shared.node = await startTestScanner(shared.downstream.port);
  });
  after(async () => {
    await shared.node?.close();
    await shared.downstream?.close();
  });
  return shared;
}
