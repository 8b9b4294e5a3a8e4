import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';

/**
 * The release artifact's names and its checksum file: one place for `pnpm release`, which
 * writes them, and `moat upgrade`, which checks them (scripts/install.sh reads the same
 * `sha256sum` format with sha256sum itself). Pure, apart from sha256File.
 */

/** What a release's version may be: it names a folder (releases/VERSION), so no slash, no dot-dot. */
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z][0-9A-Za-z.-]*)?$/;

export function isReleaseVersion(version: string): boolean {
  return VERSION.test(version) && !version.includes('..');
}

/** `moat-0.2.0-linux-x64.tar.gz`: the artifact holds this platform's Node and native modules. */
export function artifactName(version: string, platform: string = process.platform, arch: string = process.arch): string {
  return `moat-${version}-${platform}-${arch}.tar.gz`;
}

/** The folder at the top of the archive, and under releases/ once installed. */
export function releaseDirName(version: string): string {
  return `moat-${version}`;
}

/** One line as `sha256sum` writes it, so `sha256sum -c FILE.sha256` checks it too. */
export function checksumLine(hex: string, fileName: string): string {
  return `${hex}  ${fileName}\n`;
}

/**
 * The expected digest in a checksum file: `HEX  NAME` (or `HEX *NAME`) lines as sha256sum
 * writes them, the one naming `fileName` when several do; a file holding only the digest is
 * accepted too. Throws an error that says what is wrong with the file.
 */
export function expectedDigest(text: string, fileName: string, source: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) throw new Error(`${source} is empty: expected a sha256 line ("HEX  ${fileName}")`);
  const parsed = lines.map((l) => /^([0-9a-fA-F]{64})(?:\s+\*?(.+))?$/.exec(l));
  const bad = parsed.findIndex((m) => m === null);
  if (bad >= 0) throw new Error(`${source} line ${bad + 1} is not a sha256 line ("HEX  ${fileName}"): ${lines[bad]!.slice(0, 80)}`);
  const matches = parsed as RegExpExecArray[];
  const named = matches.filter((m) => m[2] !== undefined && basename(m[2]) === fileName);
  if (named.length > 0) return named[0]![1]!.toLowerCase();
  if (matches.length === 1 && matches[0]![2] === undefined) return matches[0]![1]!.toLowerCase();
  throw new Error(`${source} has no line for ${fileName} (it names ${matches.map((m) => m[2] ?? '(no name)').join(', ')})`);
}

/** The file's SHA-256, hex, read as a stream (an artifact is tens of megabytes). */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** What `release.json` at the top of a release says about it. */
export interface ReleaseInfo {
  readonly version: string;
  readonly platform: string;
  readonly arch: string;
  /** The commit it was built from, when built from a git checkout. */
  readonly commit?: string;
  readonly node: string;
}

export function parseReleaseInfo(text: string, source: string): ReleaseInfo {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source} is not JSON: ${(err as Error).message}`);
  }
  const d = doc as Partial<Record<keyof ReleaseInfo, unknown>>;
  for (const key of ['version', 'platform', 'arch', 'node'] as const) {
    if (typeof d[key] !== 'string' || d[key] === '') throw new Error(`${source}: ${key} must be a non-empty string`);
  }
  if (!isReleaseVersion(d.version as string)) throw new Error(`${source}: version '${String(d.version)}' is not a release version (like 1.2.3 or 1.2.3-rc.1)`);
  return d as ReleaseInfo;
}
