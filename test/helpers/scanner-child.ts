import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = process.execPath; // the Node 24 running the tests

export interface ScannerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly pid: number;
  /** Every JSON log line the process printed so far. */
  readonly logs: Record<string, unknown>[];
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
}

/**
 * Run `moat scanner --config FILE` as a real child process (for kill -9 and memory tests)
 * and wait for its SCANNER_STARTED log line, which carries the bound SMTP address.
 */
export async function spawnScanner(configFile: string, timeoutMs = 20_000): Promise<ScannerProcess> {
  const child = spawn(NODE, [join(ROOT, 'apps/cli/src/moat.ts'), 'scanner', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scanner did not start in time; stderr: ${stderr}`)), timeoutMs);
    void exited.then((code) => reject(new Error(`scanner exited with ${code} before starting; stderr: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.event === 'SCANNER_STARTED') {
        clearTimeout(timer);
        resolve(Number(String(entry.smtp).split(':').pop()));
      }
    });
  });
  return {
    child,
    port,
    pid: child.pid!,
    logs,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Write a scanner YAML config (log level info: the harness reads the start line). */
export function writeScannerConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'scanner.yaml');
  writeFileSync(file, stringify({ ...config, log: { level: 'info' } }));
  return file;
}
