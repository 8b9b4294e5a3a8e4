import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = process.execPath; // the Node 24 running the tests

export interface MoatProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON log line the process printed so far. */
  readonly logs: Record<string, unknown>[];
  /** The log line that said the process is ready. */
  readonly ready: Record<string, unknown>;
  /** Everything the process wrote on stderr so far (a crash's stack trace). */
  stderr(): string;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
}

export interface ScannerProcess extends MoatProcess {
  readonly port: number;
}

/**
 * Run `moat <args>` as a real child process (for kill -9 and memory tests) and wait for the
 * JSON log line whose `event` is `readyEvent`.
 */
export async function spawnMoat(args: readonly string[], readyEvent: string, timeoutMs = 20_000): Promise<MoatProcess> {
  const child = spawn(NODE, [join(ROOT, 'apps/cli/src/moat.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`moat ${args[0]} did not start in time; stderr: ${stderr}`)), timeoutMs);
    void exited.then((code) => reject(new Error(`moat ${args[0]} exited with ${code} before starting; stderr: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.event === readyEvent) {
        clearTimeout(timer);
        resolve(entry);
      }
    });
  });
  return {
    child,
    pid: child.pid!,
    logs,
    ready,
    stderr: () => stderr,
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

/** `moat scanner --config FILE`, ready at its SCANNER_STARTED line, which carries the bound SMTP address. */
export async function spawnScanner(configFile: string, timeoutMs = 20_000): Promise<ScannerProcess> {
  const p = await spawnMoat(['scanner', '--config', configFile], 'SCANNER_STARTED', timeoutMs);
  return Object.assign(p, { port: Number(String(p.ready.smtp).split(':').pop()) });
}

/** Write a scanner YAML config (log level info: the harness reads the start line). */
export function writeScannerConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'scanner.yaml');
  writeFileSync(file, stringify({ ...config, log: { level: 'info' } }));
  return file;
}
