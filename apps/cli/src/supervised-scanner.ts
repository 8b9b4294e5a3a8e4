import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readPid } from './pid-file.ts';

/**
 * One scanner of the local cluster in a process of its own (`moat scanner --config FILE`), so a
 * newcomer can `kill -9` it and watch the other scanner take the virtual address and the mail;
 * with `pnpm start:ha`, each master too (`role: 'master'`, `moat master --config FILE`).
 * A scanner that ends without being asked to (kill -9, a crash, a plain kill) is started again
 * after `restartDelayMs`. The child shuts itself down when this process goes away (its IPC
 * channel closes), so a killed `moat local` leaves no scanner behind.
 */
export interface SupervisedScanner {
  readonly name: string;
  /** The SMTP port the scanner reported when it was up (its config's `smtp.listen.port`); 0 for a master. */
  readonly smtpPort: number;
  readonly dataDir: string;
  /** The running process's id; undefined between a death and its restart. */
  pid(): number | undefined;
  /** How many times it has been started (1 after the first start). */
  starts(): number;
  /** Resolves once the scanner is started again after it ended (the next start after `after`). */
  started(after: number): Promise<void>;
  close(): Promise<void>;
}

export interface SupervisedScannerOptions {
  readonly name: string;
  /** What runs: a scanner (the default) or a master; its config is `dataDir/ROLE.yaml`, its pid in `dataDir/ROLE.pid`. */
  readonly role?: 'scanner' | 'master';
  readonly dataDir: string;
  /** The config document (written to `dataDir/ROLE.yaml`, mode 0600: it holds the join token, a master's its database password). */
  readonly config: Record<string, unknown>;
  readonly restartDelayMs?: number;
  /** Where the supervisor says what it does (a death, a restart). */
  readonly say: (line: string) => void;
}

const MOAT_CLI = fileURLToPath(new URL('./moat.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

export async function startSupervisedScanner(options: SupervisedScannerOptions): Promise<SupervisedScanner> {
  const role = options.role ?? 'scanner';
  const configFile = join(options.dataDir, `${role}.yaml`);
  const pidFile = join(options.dataDir, `${role}.pid`);
  writeFileSync(configFile, `# Written by 'moat local' at every start; edits are overwritten.\n${stringify(options.config)}`, { mode: 0o600 });
  const restartDelayMs = options.restartDelayMs ?? 5000;
  let child: ChildProcess | undefined;
  let closing = false;
  let count = 0;
  let smtpPort = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  const waiters: { after: number; resolve(): void }[] = [];

  /** Spawns the scanner and resolves when it reports itself started; rejects if it ends first. */
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const env = { ...process.env };
      delete env.MOAT_HEALTH_FILE; // the parent's, if any: each role publishes its own
      // The scanner writes its pid there once it is up and removes it when it stops, even when it
      // stops because this process was killed -9; its own kill -9 is cleaned up below.
      env.MOAT_PID_FILE = pidFile;
      const proc = spawn(process.execPath, [MOAT_CLI, role, '--config', configFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
      child = proc;
      let ready = false;
      const timer = setTimeout(() => proc.kill('SIGKILL'), READY_TIMEOUT_MS);
      proc.on('message', (m: unknown) => {
        const said = m as { moat?: string; smtpPort?: number } | null;
        if (ready || said?.moat !== 'ready') return;
        ready = true;
        smtpPort = said.smtpPort ?? smtpPort;
        clearTimeout(timer);
        count++;
        for (const w of waiters.splice(0)) (count > w.after ? w.resolve() : waiters.push(w));
        resolve();
      });
      // A spawn that fails (no such executable, no memory) may emit only 'error', never 'exit'.
      proc.once('error', (err) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`${options.name} could not be started: ${err.message}`));
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (child === proc) child = undefined;
        if (readPid(pidFile) === proc.pid) rmSync(pidFile, { force: true });
        const how = signal ? `by ${signal}` : `with status ${code}`;
        if (!ready) {
          reject(new Error(`${options.name} ended ${how} before it started; its own error is above (its config: ${configFile})`));
          return;
        }
        if (closing) return;
        options.say(`${options.name} (pid ${proc.pid}) ended ${how}; starting it again in ${Math.round(restartDelayMs / 1000)} s`);
        scheduleRestart();
      });
    });

  const scheduleRestart = () => {
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (closing) return;
      launch().then(
        () => options.say(`${options.name} started again (pid ${child?.pid})`),
        (err: unknown) => {
          if (closing) return;
          options.say(`${String((err as Error).message)}; trying again in ${Math.round(restartDelayMs / 1000)} s`);
          scheduleRestart();
        },
      );
    }, restartDelayMs);
  };

  await launch();
  return {
    name: options.name,
    smtpPort,
    dataDir: options.dataDir,
    pid: () => child?.pid,
    starts: () => count,
    started: (after) => new Promise<void>((resolve) => (count > after ? resolve() : waiters.push({ after, resolve }))),
    async close() {
      closing = true;
      clearTimeout(restartTimer);
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const forced = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(forced);
    },
  };
}
