import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { findBinary } from '@moat/engines';
import { installedUnits } from '../../apps/cli/src/release/upgrade.ts';
import { ROOT, readText } from '../helpers/packaging.ts';
import { freePort } from '../helpers/ports.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

// The release artifact as an operator meets it (issue 20): `pnpm release` packs it, install.sh
// installs it into a staging prefix, and `moat upgrade` moves a running master from release A
// to B, refuses a corrupted artifact, and rolls back from a release that does not start. Real
// builds (pnpm, tar), real processes; the test plays systemd's Restart= with a small supervisor.

const tmp = tempDir('release');
const VERSION_A = '0.0.1-a';
const VERSION_B = '0.0.2-b';
const VERSION_C = '0.0.3-broken';
/** Packages that a gateway host must not get: the build and test tools. */
const DEV_ONLY = /^(typescript|esbuild|@esbuild\+[^@]+|playwright-core|fast-check|node-api-headers|@types\+[^@]+)@/;

/** A command to completion, from the checkout; builds and unpacks of ~70 MB get minutes on a busy machine. */
function runSync(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runAsync(argv: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

interface Built {
  readonly artifact: string;
  readonly checksum: string;
}

function release(version: string): Built {
  const out = join(tmp.path, `dist-${version}`);
  const r = runSync([process.execPath, 'apps/cli/src/release/build-release.ts', '--out', out, '--version', version, '--no-build']);
  assert.equal(r.status, 0, `pnpm release ${version}: ${r.stderr}`);
  const artifact = r.stdout.trim();
  assert.equal(basename(artifact), `moat-${version}-${process.platform}-${process.arch}.tar.gz`);
  return { artifact, checksum: `${artifact}.sha256` };
}

let A: Built;
let B: Built;
const prefix = join(tmp.path, 'root');
const app = join(prefix, 'opt/moat');

before(() => {
  A = release(VERSION_A);
  B = release(VERSION_B);
});
after(() => tmp.cleanup());

test('pnpm release: one archive with production dependencies only, Node 24 included, and a checksum sha256sum accepts', () => {
  const check = runSync(['sh', '-c', `cd "$(dirname "${A.checksum}")" && sha256sum -c "$(basename "${A.checksum}")"`]);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /: OK$/m);
  const list = runSync(['tar', '-tzf', A.artifact]);
  assert.equal(list.status, 0, list.stderr);
  const entries = list.stdout.split('\n').filter(Boolean);
  const top = `moat-${VERSION_A}/`;
  assert.ok(entries.every((e) => e.startsWith(top)), 'one folder moat-VERSION at the top');
  const inStore = new Set(entries.map((e) => /\/node_modules\/\.pnpm\/([^/]+)\//.exec(e)?.[1]).filter((p): p is string => p !== undefined));
  assert.deepEqual([...inStore].filter((p) => DEV_ONLY.test(p)), [], 'no build or test tool in node_modules');
  assert.ok([...inStore].some((p) => p.startsWith('node@24.')), 'Node 24 comes along');
  for (const p of ['fastify@', 'better-sqlite3@', 'smtp-server@', 'nodemailer@']) assert.ok([...inStore].some((s) => s.startsWith(p)), `${p} is there`);
  for (const f of ['bin/moat', 'release.json', 'scripts/install.sh', 'apps/console/dist/index.html', 'apps/cli/src/moat.ts', 'deploy/systemd/moat-scanner.service', 'docs/operator-guide.md']) assert.ok(entries.includes(top + f), `${f} is in it`);
  assert.deepEqual(entries.filter((e) => (e.endsWith('.test.ts') && !e.includes('/node_modules/')) || e.startsWith(`${top}test/`) || e.startsWith(`${top}apps/console/src/`)), [], 'no tests, no console sources');
});

test('install.sh: arguments are checked, a wrong checksum installs nothing, --dry-run changes nothing, --prefix installs the release, config and unit', () => {
  const bad: [string[], RegExp][] = [
    [[], /which role\?/],
    [['postfix'], /unknown argument 'postfix'/],
    [['master', 'scanner'], /one role at a time/],
    [['scanner'], /which release\? --artifact FILE/],
    [['scanner', '--artifact', join(tmp.path, 'none.tar.gz')], /--artifact: no file/],
    [['scanner', '--artifact', A.artifact, '--prefix'], /--prefix needs a value/],
    [['scanner', '--artifact', A.artifact, '--prefix', '--dry-run'], /--prefix needs a value/],
    [['scanner', '--artifact', A.artifact, '--prefix', '/tmp/x', '--start'], /--start needs a real install/],
  ];
  for (const [args, expected] of bad) {
    const r = runSync(['bash', 'scripts/install.sh', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    assert.match(r.stderr, expected);
  }
  const help = runSync(['bash', 'scripts/install.sh', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stderr, /--artifact FILE/);

  // A checksum file for another artifact: refused before anything is written.
  const refused = tempDir('install-refused');
  try {
    const r = runSync(['bash', 'scripts/install.sh', 'scanner', '--artifact', A.artifact, '--checksum', B.checksum, '--prefix', refused.path]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /has no sha256 line for moat-0\.0\.1-a/);
    const wrong = join(refused.path, 'wrong.sha256');
    writeFileSync(wrong, `${'0'.repeat(64)}  ${basename(A.artifact)}\n`);
    const m = runSync(['bash', 'scripts/install.sh', 'scanner', '--artifact', A.artifact, '--checksum', wrong, '--prefix', refused.path]);
    assert.equal(m.status, 2);
    assert.match(m.stderr, /checksum mismatch: .* has sha256 [0-9a-f]{64}, .* says 0{64}; not installing/);
    assert.deepEqual(readdirSync(refused.path), ['wrong.sha256'], 'nothing installed');

    const dry = runSync(['bash', 'scripts/install.sh', 'scanner', '--artifact', A.artifact, '--dry-run', '--prefix', join(refused.path, 'dry')]);
    assert.equal(dry.status, 0, dry.stderr);
    assert.ok(!existsSync(join(refused.path, 'dry')), 'a dry run creates nothing');
    assert.match(dry.stdout, /sha256 [0-9a-f]{64} matches/);
    assert.match(dry.stdout, /would unpack .* into .*\/opt\/moat\/releases\/VERSION/);
    assert.match(dry.stdout, /skipped \(staging tree\): useradd/);
  } finally {
    refused.cleanup();
  }

  const s = runSync(['bash', 'scripts/install.sh', 'master', '--artifact', A.artifact, '--prefix', prefix]);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(readlinkSync(join(app, 'current')), `releases/${VERSION_A}`);
  const installed = join(app, 'releases', VERSION_A);
  const store = readdirSync(join(installed, 'node_modules/.pnpm'));
  assert.deepEqual(store.filter((p) => DEV_ONLY.test(p)), [], 'the installed tree has production dependencies only');
  assert.equal(runSync([join(prefix, 'usr/local/bin/moat'), '--version']).stdout, `moat ${VERSION_A}\n`, 'moat --version from the installed release');
  assert.equal(readFileSync(join(prefix, 'etc/systemd/system/moat-master.service'), 'utf8'), readText('deploy/systemd/moat-master.service'));
  assert.equal(readFileSync(join(prefix, 'etc/moat/master.yaml'), 'utf8'), readText('deploy/config/master.yaml'));
  const env = join(prefix, 'etc/moat/moat.env');
  assert.equal(statSync(env).mode & 0o777, 0o640);
  const secret = /^MOAT_JOIN_SECRET=([0-9a-f]{48})$/m.exec(readFileSync(env, 'utf8'))?.[1];
  assert.ok(secret, 'a master gets a random join secret');
  writeFileSync(join(prefix, 'etc/moat/master.yaml'), '# edited by the admin\n');
  for (const role of ['master', 'scanner', 'balancer']) {
    const again = runSync(['bash', 'scripts/install.sh', role, '--artifact', A.artifact, '--prefix', prefix]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /kept existing .*releases\/0\.0\.1-a/);
  }
  assert.equal(readFileSync(join(prefix, 'etc/moat/master.yaml'), 'utf8'), '# edited by the admin\n', 'an edited config is never overwritten');
  assert.ok(readFileSync(env, 'utf8').includes(secret), 'nor the secrets');
  // What moat upgrade restarts and probes by default: the units install.sh wrote, and the health file each sets.
  assert.deepEqual(installedUnits(join(prefix, 'etc/systemd/system')), ['balancer', 'master', 'scanner'].map((r) => ({ unit: `moat-${r}.service`, healthFile: `/var/lib/moat/${r}.health.json` })));
});

test('systemd-analyze verify accepts every unit as install.sh installs it', { skip: findBinary('systemd-analyze') ? false : 'systemd-analyze is not installed (Debian package systemd)' }, () => {
  assert.ok(existsSync(join(prefix, 'etc/systemd/system/moat-balancer.service')), 'the install test ran first');
  // What verify looks for besides the units: the targets they name (ExecStart is the installed release's bin/moat).
  mkdirSync(join(prefix, 'usr/lib/systemd/system'), { recursive: true });
  for (const f of readdirSync('/usr/lib/systemd/system').filter((f) => f.endsWith('.target'))) copyFileSync(join('/usr/lib/systemd/system', f), join(prefix, 'usr/lib/systemd/system', f));
  for (const role of ['master', 'scanner', 'balancer']) {
    const r = runSync(['systemd-analyze', 'verify', `--root=${prefix}`, `moat-${role}.service`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', `moat-${role}.service: no warning (an unknown key or bad value is only a warning)`);
  }
});

/** systemd's Restart= for one role: runs PREFIX/opt/moat/current/bin/moat, and again whenever it exits. */
function supervise(argv: string[], env: Record<string, string>) {
  let child: ChildProcess | undefined;
  let stopping = false;
  let log = '';
  let starts = 0;
  const start = () => {
    starts++;
    child = spawn(join(app, 'current/bin/moat'), argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-50_000)));
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-50_000)));
    child.once('exit', () => {
      if (!stopping) setTimeout(start, 200);
    });
  };
  start();
  return {
    output: () => log,
    starts: () => starts,
    async stop() {
      stopping = true;
      const c = child!;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    },
  };
}

/** An artifact made from B's files that passes its checksum and `--version` but whose master throws at start. */
function brokenRelease(): Built {
  const dir = join(tmp.path, 'broken');
  mkdirSync(dir, { recursive: true });
  assert.equal(runSync(['tar', '-xzf', B.artifact, '-C', dir]).status, 0);
  const tree = join(dir, `moat-${VERSION_C}`);
  assert.equal(runSync(['mv', join(dir, `moat-${VERSION_B}`), tree]).status, 0);
  for (const file of ['package.json', 'release.json']) {
    const doc = JSON.parse(readFileSync(join(tree, file), 'utf8')) as { version: string };
    writeFileSync(join(tree, file), JSON.stringify({ ...doc, version: VERSION_C }));
  }
  const index = join(tree, 'apps/master/src/index.ts');
  writeFileSync(index, `throw new Error('this release is broken on purpose');\n${readFileSync(index, 'utf8')}`);
  const artifact = join(dir, `moat-${VERSION_C}-${process.platform}-${process.arch}.tar.gz`);
  assert.equal(runSync(['tar', '-I', 'gzip -1', '-C', dir, '-cf', artifact, `moat-${VERSION_C}`]).status, 0);
  const sum = runSync(['sh', '-c', `cd "${dir}" && sha256sum "${basename(artifact)}" > "${basename(artifact)}.sha256"`]);
  assert.equal(sum.status, 0, sum.stderr);
  return { artifact, checksum: `${artifact}.sha256` };
}

test('moat upgrade: A to B with a restart and a health check, a corrupted artifact refused, a release that does not start rolled back', async (t) => {
  assert.equal(readlinkSync(join(app, 'current')), `releases/${VERSION_A}`, 'the install test ran first');
  const run = join(tmp.path, 'run');
  mkdirSync(run, { recursive: true });
  const port = await freePort();
  writeFileSync(join(run, 'master.yaml'), `node: { name: master }\ndataDir: ${join(run, 'data')}\nhttp: { host: 127.0.0.1, port: ${port} }\n`);
  const healthFile = join(run, 'master.health.json');
  const pidFile = join(run, 'master.pid');
  const master = supervise(['master', '--config', join(run, 'master.yaml')], { MOAT_HEALTH_FILE: healthFile, MOAT_PID_FILE: pidFile });
  t.after(() => master.stop());
  const health = () => (existsSync(healthFile) ? (JSON.parse(readFileSync(healthFile, 'utf8')) as { pid: number; version?: string }) : undefined);
  await waitUntil(() => health()?.version === VERSION_A, `the master on ${VERSION_A} to serve`, 60_000, 100);
  const pidA = health()!.pid;

  // The installed release runs the upgrade, as an operator would (/usr/local/bin/moat upgrade …).
  // Run without blocking this process: the supervisor in it restarts the master meanwhile.
  const upgrade = (artifact: string, ...more: string[]) =>
    runAsync([join(prefix, 'usr/local/bin/moat'), 'upgrade', artifact, '--restart-command', `kill -TERM "$(cat '${pidFile}')" 2>/dev/null || true`, '--health-file', healthFile, ...more]);

  const toB = await upgrade(B.artifact);
  assert.equal(toB.status, 0, toB.stdout + toB.stderr + master.output());
  assert.match(toB.stdout, /sha256 [0-9a-f]{64} matches/);
  assert.match(toB.stdout, new RegExp(`${VERSION_B} is running and healthy`));
  assert.equal(readlinkSync(join(app, 'current')), `releases/${VERSION_B}`);
  assert.equal(health()!.version, VERSION_B);
  assert.notEqual(health()!.pid, pidA, 'a new process');
  assert.deepEqual(readdirSync(join(app, 'releases')).sort(), [VERSION_A, VERSION_B], 'A is kept beside B, and no unpack folder is left');
  const pidB = health()!.pid;

  // A corrupted download: one byte changed, checked against B's published checksum.
  const corrupt = join(tmp.path, 'corrupt', basename(B.artifact));
  mkdirSync(join(tmp.path, 'corrupt'));
  const bytes = readFileSync(B.artifact);
  const middle = bytes.length >> 1;
  bytes[middle] = bytes[middle]! ^ 0xff;
  writeFileSync(corrupt, bytes);
  const refused = await upgrade(corrupt, '--checksum', B.checksum);
  assert.equal(refused.status, 1);
  assert.match(refused.stdout, /refused, nothing was changed: checksum mismatch: .* has sha256 [0-9a-f]{64}, .* says [0-9a-f]{64}/);
  assert.equal(readlinkSync(join(app, 'current')), `releases/${VERSION_B}`);
  assert.equal(health()!.pid, pidB, 'the master was not restarted');
  const noSum = await upgrade(corrupt);
  assert.equal(noSum.status, 1);
  assert.match(noSum.stdout, /no checksum file .*\.sha256/);

  // A release that passes its checksum and runs `moat --version`, but whose master cannot start.
  const C = brokenRelease();
  const startsBefore = master.starts();
  const toC = await upgrade(C.artifact, '--timeout', '8');
  assert.equal(toC.status, 1, toC.stdout);
  assert.match(toC.stdout, new RegExp(`${VERSION_C} failed: not healthy within 8 s`));
  assert.match(toC.stdout, new RegExp(`rolled back to ${VERSION_B}, which is running and healthy`));
  assert.ok(master.starts() - startsBefore >= 2, 'the broken release was started (and failed) before the rollback');
  assert.match(master.output(), /this release is broken on purpose/);
  assert.equal(readlinkSync(join(app, 'current')), `releases/${VERSION_B}`);
  assert.equal(health()!.version, VERSION_B);
  assert.notEqual(health()!.pid, pidB);
  assert.ok(existsSync(join(app, 'releases', VERSION_C)), 'the failed release is kept for a look');

  // Upgrading to the release that already runs does nothing.
  const same = await upgrade(B.artifact);
  assert.equal(same.status, 0);
  assert.match(same.stdout, /already the current release/);
});
