import { resolve } from 'node:path';
import { installedPrefix, installedUnits, type Restart, type UpgradeOptions } from './upgrade.ts';

/** `moat upgrade`'s options as given on the command line (commands.ts). */
export interface UpgradeArgs {
  readonly checksum?: string | undefined;
  readonly prefix?: string | undefined;
  readonly service: readonly string[];
  readonly 'restart-command'?: string | undefined;
  readonly 'health-file': readonly string[];
  readonly timeout?: string | undefined;
}

/**
 * The upgrade the command line asks for, with its defaults filled in (the installation this
 * moat runs from, install.sh's units and the health file each sets), or the usage problem.
 */
export function upgradeCommand(artifactArg: string, o: UpgradeArgs, units = installedUnits(), prefixHere = installedPrefix()): Omit<UpgradeOptions, 'out'> | string {
  const artifact = resolve(artifactArg);
  const prefix = o.prefix ?? prefixHere;
  if (prefix === undefined) return '--prefix DIR is needed: this moat does not run from an installed release (PREFIX/releases/VERSION)';
  const timeout = o.timeout === undefined ? 120 : Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) return '--timeout must be a number of seconds';
  let healthFiles = o['health-file'].map((f) => resolve(f));
  let restart: Restart;
  if (o['restart-command'] !== undefined) {
    if (o.service.length > 0) return '--service and --restart-command exclude each other';
    if (healthFiles.length === 0) return '--restart-command needs --health-file FILE for each role it restarts';
    restart = { kind: 'command', command: o['restart-command'] };
  } else {
    const named = o.service.map((s) => (s.endsWith('.service') ? s : `${s}.service`));
    const chosen = named.length > 0 ? named : units.map((u) => u.unit);
    if (chosen.length === 0) return 'no moat-*.service in /etc/systemd/system: name the units with --service, or give --restart-command';
    if (healthFiles.length === 0) {
      const missing = chosen.filter((u) => !units.some((i) => i.unit === u));
      if (missing.length > 0) return `--health-file FILE is needed for ${missing.join(', ')} (not one of install.sh's units here)`;
      healthFiles = chosen.map((u) => units.find((i) => i.unit === u)!.healthFile);
    }
    restart = { kind: 'systemd', units: chosen };
  }
  return { artifact, checksumFile: resolve(o.checksum ?? `${artifact}.sha256`), prefix: resolve(prefix), restart, healthFiles, timeoutMs: timeout * 1000 };
}
