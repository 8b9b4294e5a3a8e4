import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The messages under a path, for `moat learn`: a Maildir (its `cur/` and `new/`), an mbox file
 * (split at `From ` lines, `>From ` unescaped), a single message file, or a folder of any of
 * these (`.eml` files, or the numbered files of corpora such as SpamAssassin's), recursively.
 * Dot files are skipped. Files are read one at a time, as they are taught.
 */
export async function* messagesUnder(path: string): AsyncGenerator<{ readonly source: string; readonly raw: Buffer }> {
  const info = await stat(path);
  if (info.isFile()) {
    yield* messagesInFile(path);
    return;
  }
  const entries = (await readdir(path, { withFileTypes: true })).filter((e) => !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name));
  const isMaildir = ['cur', 'new'].every((d) => entries.some((e) => e.isDirectory() && e.name === d));
  for (const e of entries) {
    if (isMaildir && e.isDirectory() && e.name === 'tmp') continue;
    const child = join(path, e.name);
    if (e.isDirectory()) yield* messagesUnder(child);
    else if (e.isFile()) yield* messagesInFile(child);
  }
}

async function* messagesInFile(file: string): AsyncGenerator<{ readonly source: string; readonly raw: Buffer }> {
  const raw = await readFile(file);
  if (raw.length === 0) return;
  if (!raw.subarray(0, 5).equals(Buffer.from('From '))) {
    yield { source: file, raw };
    return;
  }
  let n = 0;
  for (const message of splitMbox(raw)) yield { source: `${file}#${++n}`, raw: message };
}

/** An mbox's messages: each starts after a `From ` separator line; `>From ` lines lose one `>` (mboxrd). */
export function splitMbox(raw: Buffer): Buffer[] {
  const text = raw.toString('latin1');
  const out: Buffer[] = [];
  for (const part of text.split(/^From .*\r?\n/m).slice(1)) {
    const body = part.replace(/^>(>*From )/gm, '$1').replace(/\r?\n$/, '\n');
    if (body.trim() !== '') out.push(Buffer.from(body, 'latin1'));
  }
  return out;
}
