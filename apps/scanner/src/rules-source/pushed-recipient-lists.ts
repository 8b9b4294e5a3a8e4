import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '@moat/config';
import { writeFileDurably } from '@moat/storage';
import { compileOwnLists, validateRecipientLists, type OwnListsLookup } from '@moat/rules';

/**
 * The end users' own allow and block lists as the master last pushed them
 * (`recipient-lists.push`, protocol 8): validated, kept on disk (`recipient-lists.json`) so a
 * scanner that starts while the master is down still applies them, then swapped in. Apart from
 * the rules and versioned on their own (issue 18); the scanner's list checks read them beside
 * the rules' own `recipientLists` (with-recipient-lists.ts).
 */
export interface PushedRecipientLists {
  /** The version in force; 0 before any push. */
  version(): number;
  /** The compiled lists in force (a snapshot: a push swaps in a new one). */
  lookup(): OwnListsLookup;
  onChange(listener: () => void): void;
  /** Validate, persist and swap in a pushed version; a bad one changes nothing. */
  apply(version: number, lists: unknown): Promise<{ ok: true } | { ok: false; error: string }>;
}

const NONE: OwnListsLookup = () => undefined;

export function createPushedRecipientLists(dataDir: string, log: Logger): PushedRecipientLists {
  const file = join(dataDir, 'recipient-lists.json');
  let version = 0;
  let lookup = NONE;
  const listeners: (() => void)[] = [];
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { version: number; lists: unknown };
    lookup = compileOwnLists(validateRecipientLists(stored.lists, file));
    version = stored.version;
    log.info({ event: 'RECIPIENT_LISTS_LOADED', version, file }, 'end-user lists loaded from the last push');
  }
  return {
    version: () => version,
    lookup: () => lookup,
    onChange: (listener) => void listeners.push(listener),
    async apply(next, lists) {
      let compiled: OwnListsLookup;
      try {
        compiled = compileOwnLists(validateRecipientLists(lists, `end-user lists version ${next}`, 'lists.'));
      } catch (err) {
        const error = err instanceof ConfigError ? err.message : String(err);
        log.error({ event: 'RECIPIENT_LISTS_REFUSED', version: next, error }, 'pushed end-user lists refused; the previous ones stay in force');
        return { ok: false, error: error.slice(0, 1900) };
      }
      await writeFileDurably(file, JSON.stringify({ version: next, lists }));
      version = next;
      lookup = compiled;
      log.info({ event: 'RECIPIENT_LISTS_APPLIED', version: next }, 'end-user lists from the master applied');
      for (const listener of listeners) listener();
      return { ok: true };
    },
  };
}
