import type { Migration } from '@moat/storage';

/**
 * The end users' own allow and block lists get a store and a version stream of their own
 * (issue 18): until now they lived in the rules document (`recipientLists`), so every click on
 * an end user's page stored a whole rules version, and an admin's save could undo it.
 *
 * - `recipient_list_entries`: the lists as they are now, one row per entry; `version` is the
 *   end-user lists version that added it.
 * - `recipient_list_versions`: one row per version, which is one change (recipient, list, op,
 *   pattern), or, for the version this migration makes, the lists moved from the rules.
 *   Old rows are pruned; the audit log keeps every change on its own.
 *
 * The move: every entry of the current rules version's `recipientLists` goes to the new store
 * as end-user lists version 1 (each was on its recipient's page, and theirs to remove, whoever
 * typed it), and a new rules version is stored without them, so every scanner is pushed rules
 * that no longer carry them. Older rules versions stay as they were (history is not rewritten;
 * a rollback keeps the current `recipientLists`, so their lists never come back). An audit
 * entry records the move. The tables are standard SQL (BIGINT epoch milliseconds, no rowid
 * alias) and the same on both engines; the move reads the JSON document with each engine's
 * own functions (SQLite's json_each / json_set, PostgreSQL's jsonb_each / jsonb_set).
 */
const TABLES = `
    CREATE TABLE recipient_list_versions (
      version BIGINT PRIMARY KEY,
      created_at BIGINT NOT NULL,
      created_by TEXT NOT NULL,
      comment TEXT NOT NULL,
      recipient TEXT,
      list TEXT CHECK (list IN ('allow', 'block')),
      op TEXT CHECK (op IN ('add', 'remove')),
      pattern TEXT
    );
    CREATE TABLE recipient_list_entries (
      recipient TEXT NOT NULL,
      list TEXT NOT NULL CHECK (list IN ('allow', 'block')),
      pattern TEXT NOT NULL,
      version BIGINT NOT NULL,
      PRIMARY KEY (recipient, list, pattern)
    );
`;

export const RECIPIENT_LISTS_MIGRATION: Migration = {
  version: 17,
  description: 'end users\' lists apart from the rules, with their own versions',
  sql: `
    ${TABLES}

    CREATE TEMP TABLE m17_moved AS
      SELECT DISTINCT v.version AS rules_version, r.key AS recipient, l.key AS list, p.value AS pattern
      FROM rules_versions v, json_each(v.document, '$.recipientLists') r, json_each(r.value) l, json_each(l.value) p
      WHERE v.version = (SELECT max(version) FROM rules_versions) AND l.key IN ('allow', 'block');

    INSERT INTO recipient_list_versions (version, created_at, created_by, comment)
      SELECT 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'system', 'moved from rules version ' || max(rules_version) || ' (migration 17)'
      FROM m17_moved HAVING count(*) > 0;
    INSERT INTO recipient_list_entries (recipient, list, pattern, version)
      SELECT recipient, list, pattern, 1 FROM m17_moved;
    INSERT INTO audit (at, username, via, ip, action, target, details)
      SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'system', 'migration', '', 'recipient-lists.moved', 'recipient-lists:1',
        json_object('fromRulesVersion', max(rules_version), 'rulesVersion', max(rules_version) + 1, 'entries', count(*), 'recipients', count(DISTINCT recipient))
      FROM m17_moved HAVING count(*) > 0;
    INSERT INTO rules_versions (version, document, created_at, created_by, comment)
      SELECT version + 1, json_set(document, '$.version', version + 1, '$.recipientLists', json('{}')), CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'system',
        'the end users'' lists moved to their own store (migration 17)'
      FROM rules_versions WHERE version = (SELECT max(rules_version) FROM m17_moved);
    DROP TABLE m17_moved;
  `,
  postgres: `
    ${TABLES}

    CREATE TEMP TABLE m17_moved AS
      SELECT DISTINCT v.version AS rules_version, r.key AS recipient, l.key AS list, p.value AS pattern
      FROM rules_versions v
        CROSS JOIN LATERAL jsonb_each(v.document::jsonb -> 'recipientLists') r
        CROSS JOIN LATERAL jsonb_each(r.value) l
        CROSS JOIN LATERAL jsonb_array_elements_text(l.value) p(value)
      WHERE v.version = (SELECT max(version) FROM rules_versions) AND l.key IN ('allow', 'block');

    INSERT INTO recipient_list_versions (version, created_at, created_by, comment)
      SELECT 1, (extract(epoch FROM now()) * 1000)::bigint, 'system', 'moved from rules version ' || max(rules_version) || ' (migration 17)'
      FROM m17_moved HAVING count(*) > 0;
    INSERT INTO recipient_list_entries (recipient, list, pattern, version)
      SELECT recipient, list, pattern, 1 FROM m17_moved;
    INSERT INTO audit (at, username, via, ip, action, target, details)
      SELECT (extract(epoch FROM now()) * 1000)::bigint, 'system', 'migration', '', 'recipient-lists.moved', 'recipient-lists:1',
        json_build_object('fromRulesVersion', max(rules_version), 'rulesVersion', max(rules_version) + 1, 'entries', count(*), 'recipients', count(DISTINCT recipient))::text
      FROM m17_moved HAVING count(*) > 0;
    INSERT INTO rules_versions (version, document, created_at, created_by, comment)
      SELECT version + 1, jsonb_set(jsonb_set(document::jsonb, '{version}', to_jsonb(version + 1)), '{recipientLists}', '{}'::jsonb)::text,
        (extract(epoch FROM now()) * 1000)::bigint, 'system', 'the end users'' lists moved to their own store (migration 17)'
      FROM rules_versions WHERE version = (SELECT max(rules_version) FROM m17_moved);
    DROP TABLE m17_moved;
  `,
};
