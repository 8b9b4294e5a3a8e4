// `pnpm release`: the versioned release artifact a gateway host installs (scripts/install.sh)
// and upgrades to (`moat upgrade`), instead of a git checkout and a full `pnpm install` on
// every node. Writes dist/moat-VERSION-PLATFORM-ARCH.tar.gz and its .sha256 (sha256sum format).
//
// What is in it (docs/operator-guide.md, "Release artifacts"): the apps' and packages'
// TypeScript sources without their tests (Node 24 runs them as they are), the built console,
// the balancer's native relay when this machine built it, bin/moat, deploy/, docs and
// scripts/install.sh, and node_modules with production dependencies only, Node 24 itself
// included ("node": "npm:node@24"), installed here from the frozen lockfile. A host needs no
// pnpm, no compiler and no registry: it unpacks and runs. The archive is for this machine's
// platform and CPU (its Node binary and native modules), which its name and release.json say.
//
//   node apps/cli/src/release/build-release.ts [--out DIR] [--version V] [--no-build]
//     --out DIR      where to write the artifact (default dist)
//     --version V    the release's version (default: the root package.json's)
//     --no-build     do not run `pnpm run build` first (the console must be built already)
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { artifactName, checksumLine, isReleaseVersion, releaseDirName, sha256File, type ReleaseInfo } from './artifact.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Top-level files and folders a release carries (each filtered by `wanted`). */
const INCLUDE = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'README.md', 'bin', 'apps', 'packages', 'deploy', 'docs', 'scripts/install.sh'];

/** Not in a release: dependencies and build state of this checkout, tests, the console's sources, screenshots. */
function wanted(path: string): boolean {
  const rel = relative(ROOT, path).split(sep).join('/');
  if (/(^|\/)(node_modules|\.types)(\/|$)/.test(rel)) return false;
  if (/\.tsbuildinfo$|\.test\.ts$|\.png$/.test(rel)) return false;
  if (/^apps\/console\/(src|build\.ts)(\/|$)/.test(rel)) return false;
  if (/^apps\/[^/]+\/src\/testing(\/|$)|^packages\/[^/]+\/src\/test-fixtures\.ts$/.test(rel)) return false;
  return true;
}

export interface BuiltRelease {
  readonly artifact: string;
  readonly checksumFile: string;
  readonly sha256: string;
  readonly version: string;
}

export async function buildRelease(options: { out: string; version?: string; build: boolean; log?: (line: string) => void }): Promise<BuiltRelease> {
  const log = options.log ?? ((line: string) => process.stderr.write(`release: ${line}\n`));
  const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const version = options.version ?? rootManifest.version;
  if (!isReleaseVersion(version)) throw new Error(`--version '${version}' is not a release version (like 1.2.3 or 1.2.3-rc.1)`);

  if (options.build) run('pnpm', ['run', 'build'], { cwd: ROOT }, 'pnpm run build (the console, the native relay)');
  if (!existsSync(join(ROOT, 'apps/console/dist/index.html'))) throw new Error('the console is not built (apps/console/dist): run pnpm build, or leave out --no-build');

  const work = mkdtempSync(join(tmpdir(), 'moat-release-'));
  try {
    const stage = join(work, releaseDirName(version));
    log(`staging ${version} in ${stage}`);
    for (const item of INCLUDE) {
      if (existsSync(join(ROOT, item))) cpSync(join(ROOT, item), join(stage, item), { recursive: true, filter: wanted, verbatimSymlinks: true });
    }
    // The lockfile names the test workspace: its manifest lets the frozen install match it (it
    // has devDependencies only, so --prod installs nothing for it); removed afterwards.
    cpSync(join(ROOT, 'test/package.json'), join(stage, 'test/package.json'));
    const manifest = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify({ ...manifest, version }, null, 2)}\n`);

    // Production dependencies only, exactly as locked; from the local store when it has them.
    run('pnpm', ['install', '--prod', '--frozen-lockfile', '--prefer-offline'], { cwd: stage }, 'pnpm install --prod');
    rmSync(join(stage, 'test'), { recursive: true, force: true });
    const node = join(stage, 'node_modules/.bin/node');
    const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim();
    if (!nodeVersion) throw new Error(`the release's Node (${node}) does not run`);
    const info: ReleaseInfo = { version, platform: process.platform, arch: process.arch, node: nodeVersion, ...gitCommit() };
    writeFileSync(join(stage, 'release.json'), `${JSON.stringify(info, null, 2)}\n`);
    chmodSync(join(stage, 'bin/moat'), 0o755);
    const said = spawnSync(join(stage, 'bin/moat'), ['--version'], { encoding: 'utf8' });
    if (said.stdout.trim() !== `moat ${version}`) throw new Error(`the staged release does not run: bin/moat --version said ${JSON.stringify(said.stdout + said.stderr)}`);
    if (!existsSync(join(stage, 'packages/balancer/native/build/moat_relay.node'))) log('no native relay in this build (no C compiler?): the balancer relays in JavaScript');

    mkdirSync(options.out, { recursive: true });
    const name = artifactName(version);
    const artifact = resolve(options.out, name);
    // Sorted, owned by root, no timestamps of this machine's users: the same tree packs the same way.
    run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-C', work, '-czf', `${artifact}.tmp`, releaseDirName(version)], {}, 'tar');
    renameSync(`${artifact}.tmp`, artifact);
    const sha256 = await sha256File(artifact);
    const checksumFile = `${artifact}.sha256`;
    writeFileSync(checksumFile, checksumLine(sha256, name));
    log(`wrote ${artifact} (${(statSync(artifact).size / 1e6).toFixed(1)} MB) and ${name}.sha256`);
    return { artifact, checksumFile, sha256, version };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function gitCommit(): { commit?: string } {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? { commit: r.stdout.trim() } : {};
}

function run(command: string, args: string[], options: SpawnSyncOptions, what: string): void {
  const r = spawnSync(command, args, { ...options, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${String(r.stderr)}${String(r.stdout)}`.trimEnd());
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, version: { type: 'string' }, 'no-build': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]!.replace(/^\/\/ ?/gm, '') + '\n');
    process.exit(0);
  }
  buildRelease({ out: resolve(values.out ?? join(ROOT, 'dist')), ...(values.version ? { version: values.version } : {}), build: !values['no-build'] }).then(
    (r) => process.stdout.write(`${r.artifact}\n`),
    (err: unknown) => {
      process.stderr.write(`release: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
