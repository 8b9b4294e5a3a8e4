/**
 * Synthetic mail for the master data benchmark: deterministic (seeded), skewed like real
 * traffic (a few senders send most mail), written straight into the master's tables with
 * multi-row inserts, secondary indexes rebuilt afterwards; recipients tables, idempotency
 * records and FTS rows filled with INSERT … SELECT. The row format is the ingest's own
 * (lower-cased addresses, JSON recipient lists), and the roll-ups go through the ingest's own
 * roll-up code (createRollups, flushed per chunk): the database ends up as if every event had
 * gone through ingestBatch, only faster to build.
 */
import type { Db } from '@moat/storage';
import type { MessageLogged, QuarantineAdded } from '@moat/protocol';
import { createRollups, type RollupMessage } from '../../apps/master/src/data/rollups.ts';
import { sqliteDatabase } from '../../apps/master/src/db/database.ts';
import { seededRandom } from '../../apps/master/src/testing/seeded-random.ts';

/** mulberry32: small, fast, seedable (the master's tests use the same). */
export const rng = seededRandom;

export const SENDERS = 50_000;
export const SENDER_DOMAINS = 5_000;
export const MAILBOXES = 2_000;
const COMMON_WORDS = ['invoice', 'payment', 'meeting', 'report', 'offer', 'urgent', 'delivery', 'account', 'update', 'order', 'shipping', 'newsletter', 'reminder', 'contract', 'project', 'weekly', 'your', 'new', 're:', 'fwd:'];
const SPAM_WORDS = ['winner', 'prize', 'discount', 'verify', 'password', 'crypto', 'bonus', 'casino', 'pills', 'loan'];
/** Words in about 0.1% of subjects: a selective subject search. */
export const RARE_WORDS = ['zanzibar', 'quixotic', 'marmalade', 'obsidian', 'hullabaloo'];

/** Skewed pick in [0, n): index ~ n·u³, so the first 1% of the range gets about a fifth of the picks. */
const skewed = (r: () => number, n: number, power = 3): number => Math.floor(n * r() ** power);

export const senderAddress = (i: number): string => `sender${i}@dom${i % SENDER_DOMAINS}.example`;
export const mailbox = (i: number): string => `user${i}@example.test`;

export interface MailMaker {
  message(id: string, receivedAt: number): MessageLogged;
  quarantined(id: string, createdAt: number): QuarantineAdded;
}

/** Builds realistic-looking messages: actions 70% deliver, 10% tag, 5% quarantine, 15% reject. */
export function mailMaker(seed: number): MailMaker {
  const r = rng(seed);
  const subject = (spammy: boolean): string => {
    const words: string[] = [];
    const n = 2 + Math.floor(r() * 3);
    for (let i = 0; i < n; i++) words.push((spammy && r() < 0.5 ? SPAM_WORDS : COMMON_WORDS)[Math.floor(r() * (spammy ? SPAM_WORDS.length : COMMON_WORDS.length))]!);
    if (r() < 0.001) words.push(RARE_WORDS[Math.floor(r() * RARE_WORDS.length)]!);
    return `${words.join(' ')} #${Math.floor(r() * 1_000_000)}`;
  };
  const recipients = (): string[] => {
    const u = r();
    const n = u < 0.85 ? 1 : u < 0.95 ? 2 : 3 + Math.floor(r() * 3);
    return Array.from({ length: n }, () => mailbox(skewed(r, MAILBOXES, 2)));
  };
  return {
    message(id, receivedAt) {
      const u = r();
      const action = u < 0.7 ? 'deliver' : u < 0.8 ? 'tag' : u < 0.85 ? 'quarantine' : 'reject';
      const status = action === 'quarantine' ? 'quarantined' : action === 'reject' ? 'rejected' : r() < 0.9 ? 'delivered' : 'queued';
      return {
        id, receivedAt, clientIp: `198.51.100.${Math.floor(r() * 254) + 1}`, helo: 'mx.sender.example', mailFrom: senderAddress(skewed(r, SENDERS)),
        rcptTo: recipients(), subject: subject(action === 'reject' || action === 'quarantine'), messageId: `<${id}@sender.example>`,
        size: 2_000 + Math.floor(r() ** 4 * 2_000_000), action, score: Math.round(r() * 200) / 10,
        reasons: action === 'deliver' ? [] : [{ kind: 'spam', rule: 'score', match: 'score above threshold' }], rulesVersion: 3, status,
      };
    },
    quarantined(id, createdAt) {
      return {
        id, file: `${id}.eml`, createdAt, mailFrom: senderAddress(skewed(r, SENDERS)), rcptTo: recipients(), subject: subject(true),
        size: 2_000 + Math.floor(r() ** 4 * 2_000_000), score: 5 + Math.round(r() * 150) / 10,
        reasons: [{ kind: 'spam', rule: 'score', match: 'score above threshold' }],
      };
    },
  };
}

/**
 * A queue id shaped like the scanner's (store/ids.ts): 9 base-36 characters of the time, so
 * ids sort by time and the unique index is appended to, then 11 characters that make it
 * unique (here: a counter, with a one-letter tag per data set).
 */
export const benchId = (tag: string, n: number, at: number): string =>
  at.toString(36).toUpperCase().padStart(9, '0').slice(-9) + tag + n.toString(36).toUpperCase().padStart(10, '0');

/** A prepared multi-row INSERT: `rows` rows per statement, and a one-row statement for the rest. */
function multiInsert(db: Db, head: string, columns: number, rows: number) {
  const tuple = `(${Array(columns).fill('?').join(',')})`;
  const many = db.prepare(`${head} VALUES ${Array(rows).fill(tuple).join(',')}`);
  const one = db.prepare(`${head} VALUES ${tuple}`);
  let buffer: unknown[] = [];
  return {
    push(...values: unknown[]): void {
      buffer.push(...values);
      if (buffer.length === columns * rows) {
        many.run(buffer);
        buffer = [];
      }
    },
    flush(): void {
      for (let i = 0; i < buffer.length; i += columns) one.run(buffer.slice(i, i + columns));
      buffer = [];
    },
  };
}

export interface LoadSpec {
  readonly count: number;
  /** Times spread evenly (with jitter) over [start, end). */
  readonly start: number;
  readonly end: number;
  readonly nodes: readonly string[];
  readonly seed: number;
  readonly onProgress?: (done: number) => void;
}

const CHUNK = 50_000;

/**
 * Run `load` with a table's secondary indexes dropped, then rebuild them: building an index
 * once from sorted data is several times faster than maintaining it row by row. (A rebuilt
 * index has full pages, where a grown one has some room; timing the ingest both ways on a
 * million rows made no measurable difference, so this does not flatter or penalise it.)
 */
async function withoutIndexes(db: Db, table: string, load: () => void | Promise<void>): Promise<void> {
  const indexes = db.prepare<[string], { sql: string; name: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(table);
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
  await load();
  for (const ix of indexes) db.exec(ix.sql);
}

/** The message log's columns a bulk load fills, in the order of `bulkMessage`'s row. */
export const BULK_MESSAGE_COLUMNS = ['rid', 'node_id', 'id', 'received_at', 'client_ip', 'helo', 'mail_from', 'sender_domain', 'rcpt_to', 'first_rcpt', 'rcpt_count',
  'subject', 'message_id', 'size', 'action', 'score', 'reasons', 'rules_version', 'status', 'attempts', 'delivered'] as const;

/**
 * The `i`-th of `spec.count` messages of a bulk load, numbered `rid`: its row (BULK_MESSAGE_COLUMNS)
 * and what the roll-ups count of it. It draws from `r` in the same order on every engine, so one
 * seed gives every engine the same data.
 */
export function bulkMessage(make: MailMaker, r: () => number, spec: LoadSpec, i: number, rid: number): { row: unknown[]; rollup: RollupMessage } {
  const step = (spec.end - spec.start) / spec.count;
  const nodeId = spec.nodes[Math.floor(r() * spec.nodes.length)]!;
  const receivedAt = Math.floor(spec.start + i * step + r() * step);
  const m = make.message(benchId('B', i, receivedAt), receivedAt);
  const recipients = [...new Set(m.rcptTo)];
  const mailFrom = m.mailFrom;
  const senderDomain = mailFrom.slice(mailFrom.lastIndexOf('@') + 1);
  const delivered = m.status === 'delivered';
  return {
    row: [rid, nodeId, m.id, receivedAt, m.clientIp, m.helo, mailFrom, senderDomain, JSON.stringify(recipients), recipients[0], recipients.length,
      m.subject, m.messageId, m.size, m.action, m.score, JSON.stringify(m.reasons), m.rulesVersion, m.status, delivered ? 1 : 0, delivered ? JSON.stringify(recipients) : '[]'],
    rollup: { nodeId, receivedAt, action: m.action, size: m.size, mailFrom, senderDomain, recipients, reasons: m.reasons },
  };
}

/**
 * Message log rows, their recipients, their idempotency records (seq = rid: unique and
 * increasing per node, which is all the ingest relies on) and roll-ups. Returns the highest
 * seq used; the timed ingest continues above it.
 */
export async function bulkLoadMessages(db: Db, spec: LoadSpec): Promise<number> {
  const make = mailMaker(spec.seed);
  const r = rng(spec.seed + 1);
  const baseRid = Number(db.prepare('SELECT COALESCE(MAX(rid), 0) FROM messages').pluck().get());
  const messages = multiInsert(db, `INSERT INTO messages (${BULK_MESSAGE_COLUMNS.join(', ')})`, BULK_MESSAGE_COLUMNS.length, 100);
  // One transaction per chunk on the one connection: the raw multi-row inserts and the roll-ups (through the common query layer) commit together.
  const chunk = (from: number, to: number) => sqliteDatabase(db).db.transaction().execute(async (trx) => {
    const rollups = createRollups(trx);
    for (let i = from; i < to; i++) {
      const { row, rollup } = bulkMessage(make, r, spec, i, baseRid + i + 1);
      messages.push(...row);
      rollups.add(rollup);
    }
    messages.flush();
    await rollups.flush();
  });
  await withoutIndexes(db, 'messages', async () => {
    for (let i = 0; i < spec.count; i += CHUNK) {
      await chunk(i, Math.min(spec.count, i + CHUNK));
      spec.onProgress?.(Math.min(spec.count, i + CHUNK));
    }
  });
  // Sorted by the target's key, so the B-tree is appended to rather than inserted into at random.
  db.prepare('INSERT OR IGNORE INTO message_rcpts (rcpt, received_at, rid) SELECT j.value, m.received_at, m.rid FROM messages m, json_each(m.rcpt_to) j WHERE m.rid > ? ORDER BY 1, 2, 3').run(baseRid);
  db.prepare("INSERT INTO events (node_id, epoch, seq, digest, type, created_at, stored_at) SELECT node_id, '', rid, '', 'message.logged', received_at, received_at FROM messages WHERE rid > ? ORDER BY 1, 2").run(baseRid);
  db.prepare('INSERT INTO messages_fts (rowid, subject) SELECT rid, subject FROM messages WHERE rid > ?').run(baseRid);
  db.prepare('INSERT INTO messages_sender_fts (rowid, mail_from) SELECT rid, mail_from FROM messages WHERE rid > ?').run(baseRid);
  db.prepare('INSERT INTO messages_rcpt_fts (rowid, rcpt_to) SELECT rid, rcpt_to FROM messages WHERE rid > ?').run(baseRid);
  return baseRid + spec.count;
}

/**
 * Quarantine index row `i` of a bulk load, in the column order of both loaders' INSERTs: 85%
 * held, 10% released, 5% deleted. It draws from `r` in the same order on every engine, so one
 * seed gives every engine the same rows.
 */
export function bulkQuarantined(make: MailMaker, r: () => number, spec: LoadSpec, i: number): unknown[] {
  const step = (spec.end - spec.start) / spec.count;
  const nodeId = spec.nodes[Math.floor(r() * spec.nodes.length)]!;
  const createdAt = Math.floor(spec.start + i * step + r() * step);
  const q = make.quarantined(benchId('Q', i, createdAt), createdAt);
  const recipients = [...new Set(q.rcptTo)];
  const u = r();
  const status = u < 0.85 ? 'held' : u < 0.95 ? 'released' : 'deleted';
  return [i + 1, nodeId, q.id, q.file, createdAt, q.mailFrom, q.mailFrom.slice(q.mailFrom.lastIndexOf('@') + 1), JSON.stringify(recipients), recipients[0],
    recipients.length, q.subject, q.size, q.score, JSON.stringify(q.reasons), status, status === 'held' ? null : createdAt + 3_600_000];
}

/** Quarantine index rows (`bulkQuarantined`); with recipients and the FTS rows (subjects, addresses). */
export async function bulkLoadQuarantine(db: Db, spec: LoadSpec): Promise<void> {
  const make = mailMaker(spec.seed);
  const r = rng(spec.seed + 1);
  const rows = multiInsert(db, `INSERT INTO quarantine (rid, node_id, id, file, created_at, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count,
    subject, size, score, reasons, status, status_at)`, 16, 100);
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) rows.push(...bulkQuarantined(make, r, spec, i));
    rows.flush();
  });
  await withoutIndexes(db, 'quarantine', () => {
    for (let i = 0; i < spec.count; i += CHUNK) {
      chunk(i, Math.min(spec.count, i + CHUNK));
      spec.onProgress?.(Math.min(spec.count, i + CHUNK));
    }
  });
  db.exec(`INSERT OR IGNORE INTO quarantine_rcpts (rcpt, created_at, rid) SELECT j.value, q.created_at, q.rid FROM quarantine q, json_each(q.rcpt_to) j ORDER BY 1, 2, 3;
    INSERT INTO quarantine_fts (rowid, subject) SELECT rid, subject FROM quarantine;
    INSERT INTO quarantine_sender_fts (rowid, mail_from) SELECT rid, mail_from FROM quarantine;
    INSERT INTO quarantine_rcpt_fts (rowid, rcpt_to) SELECT rid, rcpt_to FROM quarantine;`);
}
