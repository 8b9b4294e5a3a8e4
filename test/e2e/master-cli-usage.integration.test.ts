import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.ts';

/** The `moat` command as an operator runs it: a real process, its output and exit status. */
const ROOT = join(import.meta.dirname, '..', '..');
const MOAT = join(ROOT, 'apps/cli/src/moat.ts');

function moat(args: string[], cwd = ROOT) {
  // A command that started a role instead of answering would never exit: the time-out fails it.
  const run = spawnSync(process.execPath, [MOAT, ...args], { cwd, encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.error, undefined, `moat ${args.join(' ')}: ${String(run.error)}`);
  return run;
}

test('moat local --help prints its usage and exits 0 without starting the cluster', (t) => {
  const dir = tempDir('cli-help');
  t.after(dir.cleanup);
  const run = moat(['local', '--help'], dir.path);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: moat local \[--var DIR\] \[--ha\]/);
  assert.match(run.stdout, /--ha\s+two masters \(8080, 8081\) on a private PostgreSQL primary and synchronous standby/);
  assert.equal(run.stderr, '');
  assert.deepEqual(readdirSync(dir.path), [], 'nothing written: no var/ folder, no scanner config');
});

test('moat --help, moat help and moat help COMMAND print usage on stdout and exit 0', () => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const run = moat(args);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^usage: moat COMMAND/);
    for (const command of ['master', 'master reset-password', 'scanner', 'balancer', 'sink', 'local', 'healthcheck', 'backup']) {
      assert.match(run.stdout, new RegExp(`\\n  ${command} +\\S`), `${args.join(' ')} lists ${command}`);
    }
    assert.doesNotMatch(run.stdout, /\n  witness /, 'the witness of the retired management failover is gone');
  }
  const backup = moat(['help', 'backup']);
  assert.equal(backup.status, 0);
  assert.match(backup.stdout, /^usage: moat backup master\|scanner --config FILE \[--set KEY=VALUE\]\.\.\. --out DIR/);
  const reset = moat(['master', 'reset-password', '--help']);
  assert.equal(reset.status, 0);
  assert.match(reset.stdout, /--user NAME/);
});

test('moat --version prints the root package.json version', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const run = moat(['--version']);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, `moat ${version}\n`);
});

test('an unknown command, an unknown option or a missing value exits 2 naming it, usage on stderr', () => {
  const cases: [string[], RegExp, RegExp][] = [
    [['frobnicate'], /^moat: unknown command 'frobnicate'\n/, /usage: moat COMMAND/],
    [[], /^moat: missing command\n/, /usage: moat COMMAND/],
    [['local', '--no-such-flag'], /^moat: unknown option '--no-such-flag' for 'local'\n/, /usage: moat local /],
    [['scanner'], /^moat: scanner needs --config FILE\n/, /usage: moat scanner /],
    [['scanner', '--config'], /^moat: option '--config' needs a value\n/, /usage: moat scanner /],
    [['backup', 'balancer', '--config', 'x', '--out', 'y'], /^moat: backup: unknown ROLE 'balancer' \(expected master or scanner\)\n/, /usage: moat backup /],
    [['sink', '--port', 'many'], /^moat: --port must be a TCP port\n/, /usage: moat sink /],
  ];
  for (const [args, problem, usage] of cases) {
    const run = moat(args);
    assert.equal(run.status, 2, `moat ${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, problem);
    assert.match(run.stderr, usage);
    assert.equal(run.stdout, '');
  }
});

test('moat scanner --config bad.yaml: a YAML syntax error and a schema error each name their line and column', (t) => {
  const dir = tempDir('cli-yaml');
  t.after(dir.cleanup);
  const syntax = join(dir.path, 'syntax.yaml');
  writeFileSync(syntax, 'dataDir: /tmp/x\nsmtp:\n  listen: [127.0.0.1\n  trustedProxies: []\n');
  const bad = moat(['scanner', '--config', syntax]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, new RegExp(`^moat: configuration error in ${syntax.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\n  YAML syntax \\(line \\d+, column \\d+\\): `));
  assert.doesNotMatch(bad.stderr, /line \?/);

  const schema = join(dir.path, 'schema.yaml');
  writeFileSync(schema, 'dataDir: /tmp/x\nsmtp:\n  listen:\n    port: seventy\n  bogusKey: 1\n');
  const wrong = moat(['scanner', '--config', schema]);
  assert.equal(wrong.status, 2, wrong.stderr);
  assert.match(wrong.stderr, /\n  smtp\.listen\.port \(line 4, column 5\): /);
  assert.match(wrong.stderr, /\n  smtp\.bogusKey \(line 5, column 3\): unknown key\n/);

  // A key set on the command line is not where the file says: it is named without a position.
  const overridden = moat(['scanner', '--config', schema, '--set', 'smtp.listen.port=many']);
  assert.equal(overridden.status, 2, overridden.stderr);
  assert.match(overridden.stderr, /\n  smtp\.listen\.port: /);
  assert.match(overridden.stderr, /\n  smtp\.bogusKey \(line 5, column 3\): unknown key\n/);
});

test('moat master --config with the retired `failover` block: refused at that key, before anything starts, pointing at docs/database.md', (t) => {
  const dir = tempDir('cli-failover');
  t.after(dir.cleanup);
  const file = join(dir.path, 'master.yaml');
  writeFileSync(file, `dataDir: ${join(dir.path, 'data')}\nfailover:\n  role: active\n  peers: [wss://master-b:8080/cluster/replication]\n`);
  const run = moat(['master', '--config', file]);
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /\n  failover \(line 2, column 1\): management failover .* set `database\.url` and remove `failover` \(docs\/database\.md, "High availability"\)\n/);
  assert.equal(existsSync(join(dir.path, 'data')), false, 'no data folder made');
});
