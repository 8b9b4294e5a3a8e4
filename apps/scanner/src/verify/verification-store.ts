import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { writeFileDurably } from '@moat/storage';
import { VerifySourcesFrame, type VerifySources } from '@moat/protocol';
import { compileStaticList } from '@moat/rules';
import type { Logger } from 'pino';

type Sources = VerifySources['sources'];

/**
 * This scanner's copy of the master's verification store (static lists, directories with their
 * credentials): replaced by each `verify.sources`, kept in `verification.json` 0600 (it holds
 * bind passwords), so a scanner that starts while the master is down still verifies.
 */
export class VerificationStore {
  private sources: Sources = {};
  private digest = '';
  private readonly matchers = new Map<string, (address: string) => string | undefined>();
  private readonly file: string;
  private readonly log: Logger;

  constructor(dataDir: string, log: Logger) {
    this.file = join(dataDir, 'verification.json');
    this.log = log;
  }

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const frame = { type: 'verify.sources', ...(JSON.parse(text) as object) };
    if (!Value.Check(VerifySourcesFrame, frame)) {
      this.log.error({ event: 'VERIFY_STORE_INVALID', file: this.file }, 'the kept verification store is invalid; waiting for the master to send it again');
      return;
    }
    this.set(frame);
  }

  async replace(frame: VerifySources): Promise<void> {
    if (frame.digest === this.digest) return;
    await writeFileDurably(this.file, JSON.stringify({ digest: frame.digest, sources: frame.sources }));
    await chmod(this.file, 0o600);
    this.set(frame);
    // Names and kinds only: a source's settings hold credentials.
    this.log.info({ event: 'VERIFY_SOURCES', digest: frame.digest.slice(0, 12), sources: Object.entries(frame.sources).map(([n, s]) => `${n}:${s.kind}`) }, 'verification store received');
  }

  get(name: string): Sources[string] | undefined {
    return this.sources[name];
  }

  /** The matching entry of a static list, or undefined; `missing` when the list is not in the store. */
  staticMatch(name: string, address: string): string | undefined | 'missing' {
    const m = this.matchers.get(name);
    return m ? m(address) : 'missing';
  }

  private set(frame: Pick<VerifySources, 'digest' | 'sources'>): void {
    this.sources = frame.sources;
    this.digest = frame.digest;
    this.matchers.clear();
    for (const [name, s] of Object.entries(frame.sources)) if (s.kind === 'static') this.matchers.set(name, compileStaticList(s.entries));
  }
}
