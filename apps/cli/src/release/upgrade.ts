import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkHealth, type HealthDescriptor } from '../health.ts';
import { expectedDigest, parseReleaseInfo, releaseDirName, sha256File } from './artifact.ts';

/**
 * `moat upgrade ARTIFACT`: install a release artifact beside the running one and switch to it.
 *
 *   PREFIX/releases/VERSION/   one folder per release (what `pnpm release` packed)
 *   PREFIX/current             a symlink to the release that runs (the units start current/bin/moat)
 *
 * Checks the artifact's SHA-256 against its .sha256 file, unpacks it into releases/, checks
 * that its `moat --version` runs on this host, switches `current`, restarts the services, and
 * waits for each role's health file to name the new version with a new process that passes
 * its probe. When that fails in time, `current` goes back to the previous release and the
 * services are restarted on it. Nothing is changed when the checksum, the unpack or the
 * version check fails.
 */

export type Restart = { readonly kind: 'systemd'; readonly units: readonly string[] } | { readonly kind: 'command'; readonly command: string };

export interface UpgradeOptions {
  readonly artifact: string;
  readonly checksumFile: string;
  readonly prefix: string;
  readonly restart: Restart;
  /** Each restarted role's MOAT_HEALTH_FILE. */
  readonly healthFiles: readonly string[];
  readonly timeoutMs: number;
  readonly out: (line: string) => void;
}

/** 0 upgraded (or already there); 1 refused with nothing changed, or rolled back. */
export async function runUpgrade(o: UpgradeOptions): Promise<number> {
  const say = (line: string) => o.out(`upgrade: ${line}`);
  const name = basename(o.artifact);
  if (!existsSync(o.artifact)) return refuse(say, `no artifact at ${o.artifact}`);
  let expected: string;
  try {
    if (!existsSync(o.checksumFile)) return refuse(say, `no checksum file ${o.checksumFile} (the .sha256 published beside the artifact; another path with --checksum FILE)`);
    expected = expectedDigest(readFileSync(o.checksumFile, 'utf8'), name, o.checksumFile);
  } catch (err) {
    return refuse(say, (err as Error).message);
  }
  const actual = await sha256File(o.artifact);
  if (actual !== expected) return refuse(say, `checksum mismatch: ${o.artifact} has sha256 ${actual}, ${o.checksumFile} says ${expected}`);
  say(`${name}: sha256 ${actual} matches ${basename(o.checksumFile)}`);

  const releases = join(o.prefix, 'releases');
  mkdirSync(releases, { recursive: true });
  const unpack = mkdtempSync(join(releases, '.unpack-'));
  try {
    const untar = spawnSync('tar', ['-xzf', o.artifact, '-C', unpack, '--no-same-owner'], { encoding: 'utf8' });
    if (untar.status !== 0) return refuse(say, `${name} does not unpack: ${untar.stderr.trim() || `tar exit ${untar.status}`}`);
    const top = readdirSync(unpack);
    if (top.length !== 1 || !top[0]!.startsWith('moat-')) return refuse(say, `${name} is not a Moat release: it should hold one folder moat-VERSION, it holds ${top.join(', ') || 'nothing'}`);
    const unpacked = join(unpack, top[0]!);
    let info;
    try {
      info = parseReleaseInfo(readFileSync(join(unpacked, 'release.json'), 'utf8'), `${name}: release.json`);
    } catch (err) {
      return refuse(say, (err as Error).message);
    }
    if (top[0] !== releaseDirName(info.version)) return refuse(say, `${name}: its folder ${top[0]} does not match its release.json version ${info.version}`);
    if (info.platform !== process.platform || info.arch !== process.arch) return refuse(say, `${name} is built for ${info.platform}-${info.arch}, this host is ${process.platform}-${process.arch}`);
    const runs = spawnSync(join(unpacked, 'bin/moat'), ['--version'], { encoding: 'utf8', timeout: 60_000 });
    if (runs.stdout?.trim() !== `moat ${info.version}`) return refuse(say, `${info.version} does not run on this host: bin/moat --version said ${JSON.stringify(`${runs.stdout ?? ''}${runs.stderr ?? ''}`.trim() || runs.error?.message)}`);

    const target = join(releases, info.version);
    const current = join(o.prefix, 'current');
    const previous = currentRelease(current);
    if (previous !== undefined && resolve(previous) === resolve(target)) {
      say(`${info.version} is already the current release; nothing to do`);
      return 0;
    }
    // A folder left by an earlier, rolled-back attempt at the same version is replaced.
    rmSync(target, { recursive: true, force: true });
    renameSync(unpacked, target);
    say(`unpacked ${info.version} into ${target}`);

    const oldPids = o.healthFiles.map(readPid);
    switchCurrent(current, target);
    say(`current → releases/${info.version}${previous ? ` (was ${basename(previous)})` : ''}; restarting`);
    const problem = restart(o.restart) ?? (await waitHealthy(o.healthFiles, info.version, oldPids, o.timeoutMs));
    if (problem === null) {
      say(`${info.version} is running and healthy${o.healthFiles.length ? ` (${o.healthFiles.length} role${o.healthFiles.length > 1 ? 's' : ''})` : ''}`);
      return 0;
    }
    say(`${info.version} failed: ${problem}`);
    if (previous === undefined) {
      say('no previous release to roll back to');
      return 1;
    }
    const back = basename(previous);
    const backVersion = releaseVersionOf(previous);
    const failedPids = o.healthFiles.map(readPid);
    switchCurrent(current, previous);
    say(`rolling back: current → releases/${back}; restarting`);
    const again = restart(o.restart) ?? (await waitHealthy(o.healthFiles, backVersion, failedPids, o.timeoutMs));
    say(again === null ? `rolled back to ${back}, which is running and healthy; ${target} is kept for a look` : `rolled back to ${back}, but it is not healthy either: ${again}`);
    return 1;
  } finally {
    rmSync(unpack, { recursive: true, force: true });
  }
}

function refuse(say: (line: string) => void, reason: string): number {
  say(`refused, nothing was changed: ${reason}`);
  return 1;
}

/** The release folder `current` points at, or undefined before the first install. */
function currentRelease(current: string): string | undefined {
  try {
    return resolve(dirname(current), readlinkSync(current));
  } catch {
    return undefined;
  }
}

/** Point `current` at a release in one step (a new link renamed over the old one), relative so the tree can move. */
function switchCurrent(current: string, release: string): void {
  const next = `${current}.next`;
  rmSync(next, { force: true });
  symlinkSync(join('releases', basename(release)), next);
  renameSync(next, current);
}

function releaseVersionOf(release: string): string {
  try {
    return parseReleaseInfo(readFileSync(join(release, 'release.json'), 'utf8'), join(release, 'release.json')).version;
  } catch {
    return basename(release);
  }
}

/** Restart the services; a failure to do so is the reason, null when it was done. */
function restart(how: Restart): string | null {
  const r = how.kind === 'systemd'
    ? spawnSync('systemctl', ['restart', ...how.units], { encoding: 'utf8', timeout: 300_000 })
    : spawnSync('sh', ['-c', how.command], { encoding: 'utf8', timeout: 300_000 });
  if (r.error) return `${how.kind === 'systemd' ? 'systemctl' : 'the restart command'}: ${r.error.message}`;
  if (r.status !== 0) return `${how.kind === 'systemd' ? `systemctl restart ${how.units.join(' ')}` : 'the restart command'} failed (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`;
  return null;
}

function readDescriptor(file: string): HealthDescriptor | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HealthDescriptor;
  } catch {
    return undefined;
  }
}

function readPid(file: string): number | undefined {
  return readDescriptor(file)?.pid;
}

/** Until the deadline: every health file names `version`, a process other than the one before, and passes its probe. */
async function waitHealthy(files: readonly string[], version: string, oldPids: readonly (number | undefined)[], timeoutMs: number): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Map(files.map((f, i) => [f, oldPids[i]]));
  let reason = '';
  while (pending.size > 0) {
    for (const [file, oldPid] of pending) {
      const d = readDescriptor(file);
      if (d === undefined) reason = `${file}: no health descriptor yet`;
      else if (d.version !== version) reason = `${file}: the ${d.role} running is ${d.version ?? 'an older release'}, not ${version}`;
      else if (d.pid === oldPid) reason = `${file}: the ${d.role} has not restarted (process ${d.pid})`;
      else {
        const problem = await checkHealth(file);
        if (problem === null) pending.delete(file);
        else reason = `${file}: ${problem}`;
      }
    }
    if (pending.size === 0) break;
    if (Date.now() >= deadline) return `not healthy within ${Math.round(timeoutMs / 1000)} s (${reason})`;
    await sleep(250);
  }
  return null;
}

/**
 * The installation this command runs from (PREFIX of PREFIX/releases/VERSION/apps/cli/…), or
 * undefined when it runs from a checkout.
 */
export function installedPrefix(): string | undefined {
  const release = resolve(dirname(realpathSync(fileURLToPath(import.meta.url))), '../../../..');
  return basename(dirname(release)) === 'releases' ? dirname(dirname(release)) : undefined;
}

/** install.sh's units on this host (moat-ROLE.service), and the health file each one sets. */
export function installedUnits(unitDir = '/etc/systemd/system'): { unit: string; healthFile: string }[] {
  let names: string[];
  try {
    names = readdirSync(unitDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^moat-(master|scanner|balancer)\.service$/.test(n))
    .sort()
    .map((unit) => {
      const set = /^Environment=MOAT_HEALTH_FILE=(\S+)$/m.exec(readFileSync(join(unitDir, unit), 'utf8'))?.[1];
      return { unit, healthFile: set ?? `/var/lib/moat/${unit.slice('moat-'.length, -'.service'.length)}.health.json` };
    });
}
