import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import type { MasterFacts } from './audit.ts';

/** Read a database file directly (the audit runs after every node stopped). */
function open(file: string): DatabaseSync {
  return new DatabaseSync(file, { readOnly: true, timeout: 5000 });
}

/** The scanner's outbox: the highest seq it ever wrote (AUTOINCREMENT keeps it) and what is still unsent. */
export function scannerOutbox(dataDir: string): { written: number; pending: number; queued: number } {
  const db = open(join(dataDir, 'scanner.sqlite'));
  try {
    const written = (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number } | undefined)?.seq ?? 0;
    const pending = (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    const queued = (db.prepare('SELECT count(*) AS n FROM queue').get() as { n: number }).n;
    return { written, pending, queued };
  } finally {
    db.close();
  }
}

/** What the master's log, quarantine index and event record hold. */
export function masterFacts(masterDb: string, scanners: readonly { name: string; dataDir: string }[]): MasterFacts {
  const db = open(masterDb);
  try {
    const logged = (db.prepare('SELECT message_id FROM messages').all() as { message_id: string }[]).map((r) => r.message_id);
    const quarantined = (db.prepare('SELECT m.message_id FROM quarantine q JOIN messages m ON m.id = q.id AND m.node_id = q.node_id').all() as { message_id: string }[]).map((r) => r.message_id);
    const stored = db.prepare('SELECT count(*) AS n, coalesce(max(e.seq), 0) AS top FROM events e JOIN nodes n ON n.id = e.node_id WHERE n.name = ?');
    const events = scanners.map((s) => {
      const { n, top } = stored.get(s.name) as { n: number; top: number };
      const outbox = scannerOutbox(s.dataDir);
      return { node: s.name, stored: n, maxStored: top, written: outbox.written, pendingAtScanner: outbox.pending };
    });
    return { logged, quarantined, events };
  } finally {
    db.close();
  }
}
