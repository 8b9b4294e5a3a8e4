import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { loadConfigFile, parseYaml } from '@moat/config';
import { MasterConfigSchema } from '@moat/master';
import { ScannerConfigSchema } from '@moat/scanner';
import { validateBalancerConfig } from '@moat/balancer';
import { validateRules } from '@moat/rules';
import { waitUntil } from './wait.ts';

/** Reading the packaging files (Dockerfile, compose, systemd units) the way their tools do, for the tests. */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Dockerfile {
  /** Every `COPY` without `--from`: its sources, relative to the build context. */
  readonly copySources: string[];
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly healthcheck: string[];
  readonly env: Record<string, string>;
  readonly workdir: string;
}

/** The instructions we use, with `\` continuations joined; exec-form (JSON) arrays only. */
export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const json = (s: string) => JSON.parse(s) as string[];
  const out = { copySources: [] as string[], entrypoint: [] as string[], cmd: [] as string[], healthcheck: [] as string[], env: {} as Record<string, string>, workdir: '' };
  for (const line of lines) {
    const [instr, ...restParts] = line.split(/\s+/);
    const rest = restParts.join(' ');
    switch (instr!.toUpperCase()) {
      case 'COPY': {
        if (rest.includes('--from=')) break;
        const args = rest.split(/\s+/).filter((a) => !a.startsWith('--'));
        out.copySources.push(...args.slice(0, -1));
        break;
      }
      case 'ENTRYPOINT': out.entrypoint = json(rest); break;
      case 'CMD': out.cmd = json(rest); break;
      case 'HEALTHCHECK': out.healthcheck = json(rest.slice(rest.indexOf('CMD') + 3).trim()); break;
      case 'WORKDIR': out.workdir = rest; break;
      case 'ENV':
        for (const m of rest.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) out.env[m[1]!] = m[2]!;
        break;
    }
  }
  return out;
}

/** Compose's `${VAR}`, `${VAR:?message}` and `${VAR:-default}` interpolation. */
export function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([?-])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (op === '-') return arg ?? '';
    throw new Error(`compose variable ${name} is not set${op === '?' ? `: ${arg}` : ''}`);
  });
}

/** `[Service]` keys of a systemd unit (repeated keys keep every value, in order). */
export function parseUnit(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1)]);
  }
  return keys;
}

/** Path in the image (or on an installed host) → the file in this checkout that ends up there. */
export function hostPath(path: string, mounts: Record<string, string>): string {
  for (const [inside, outside] of Object.entries(mounts)) {
    if (path === inside || path.startsWith(`${inside}/`)) return join(outside, path.slice(inside.length));
  }
  return path;
}

export interface RoleProcess {
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Spawn a command line as the image or the unit would run it; `output()` is stdout + stderr so far. */
export function spawnRole(argv: string[], env: Record<string, string>): RoleProcess {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Wait for the file a role writes once it serves (MOAT_HEALTH_FILE); fail early if the process exits. */
export async function waitForHealthFile(role: RoleProcess, file: string, what: string, timeoutMs = 30_000): Promise<void> {
  await waitUntil(() => {
    if (role.child.exitCode !== null) throw new Error(`${what} exited with ${role.child.exitCode}:\n${role.output()}`);
    return existsSync(file);
  }, `${what} to serve (its health file)`, timeoutMs, 50);
}

/** Run a command to completion (a health check, systemd-analyze). */
export function runSync(argv: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const readText = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** How each file under the given folders is validated, by its name. */
export function validateByName(file: string): void {
  const name = file.split('/').pop()!;
  if (/^rules.*\.ya?ml$/.test(name)) validateRules(parseYaml(readFileSync(file, 'utf8'), file), file);
  else if (/^master.*\.ya?ml$/.test(name)) loadConfigFile(MasterConfigSchema, file);
  else if (/^scanner.*\.ya?ml$/.test(name)) {
    const c = loadConfigFile(ScannerConfigSchema, file);
    // What startScanner checks beyond the schema: one rules source; unique upstream names.
    assert.ok(!c.rules !== !c.master, `${file}: exactly one of rules and master`);
    if (c.balancer) validateBalancerConfig(c.balancer, `${file} (balancer)`);
  }
  else if (/^balancer.*\.ya?ml$/.test(name)) validateBalancerConfig(parseYaml(readFileSync(file, 'utf8'), file), file);
  else assert.fail(`${file}: name it master*, scanner*, balancer* or rules* so it is validated`);
}


/** The `COPY` sources of one stage of the Dockerfile (`FROM … AS name` up to the next `FROM`). */
export function stageCopySources(text: string, stage: string): string[] {
  const start = text.search(new RegExp(`^FROM .* AS ${stage}$`, 'm'));
  if (start < 0) throw new Error(`no stage ${stage}`);
  const rest = text.slice(start + 1);
  const next = rest.search(/^FROM /m);
  return parseDockerfile(next < 0 ? rest : rest.slice(0, next)).copySources;
}

/**
 * The image's runtime tree, built on this host the way the Dockerfile's `prod-deps` stage
 * builds it: its COPY sources, `pnpm install --frozen-lockfile --prod` (from the local store
 * when it can), tests removed, then the built console. Returns undefined when pnpm is missing.
 */
export function buildRuntimeTree(dest: string): string | undefined {
  const pnpm = spawnSync('sh', ['-c', 'command -v pnpm'], { encoding: 'utf8' }).stdout.trim();
  if (!pnpm) return undefined;
  for (const src of stageCopySources(readText('docker/Dockerfile'), 'prod-deps')) {
    cpSync(join(ROOT, src), join(dest, src), { recursive: true, filter: (from) => !/\/(node_modules|\.types|dist)$/.test(from) && !from.endsWith('.tsbuildinfo') });
  }
  const install = spawnSync(pnpm, ['install', '--frozen-lockfile', '--prod', '--prefer-offline'], { cwd: dest, encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0) throw new Error(`pnpm install --prod failed: ${install.stderr}${install.stdout}`);
  rmSync(join(dest, 'test'), { recursive: true, force: true });
  for (const dir of ['packages', 'apps']) removeTests(join(dest, dir));
  cpSync(join(ROOT, 'apps/console/dist'), join(dest, 'apps/console/dist'), { recursive: true });
  return dest;
}

function removeTests(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules') continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) removeTests(path);
    else if (e.name.endsWith('.test.ts')) rmSync(path);
  }
}
