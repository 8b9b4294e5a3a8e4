import type { Generated } from 'kysely';

/** Audit log, rules versions, end-user lists, digests, end-user sessions, scheduled reports (migrations 1, 5, 17, 18). */
export interface AdminTables {
  audit: AuditTable;
  rules_versions: RulesVersionsTable;
  recipient_list_versions: RecipientListVersionsTable;
  recipient_list_entries: RecipientListEntriesTable;
  digest_settings: DigestSettingsTable;
  digest_state: DigestStateTable;
  digest_sent: DigestSentTable;
  enduser_copies: EnduserCopiesTable;
  enduser_sessions: EnduserSessionsTable;
  report_schedules: ReportSchedulesTable;
  report_rounds: ReportRoundsTable;
}

export interface AuditTable {
  id: Generated<number>;
  at: number;
  username: string;
  via: string;
  ip: string;
  action: string;
  target: Generated<string>;
  /** JSON text. */
  details: Generated<string>;
}

export interface RulesVersionsTable {
  version: number;
  /** The rules document as JSON text; its own `version` equals the row's. */
  document: string;
  created_at: number;
  created_by: string;
  comment: Generated<string>;
}

export interface RecipientListVersionsTable {
  version: number;
  created_at: number;
  created_by: string;
  comment: string;
  /** The change this version made; all null for the version migration 17 made from the rules. */
  recipient: string | null;
  list: 'allow' | 'block' | null;
  op: 'add' | 'remove' | null;
  pattern: string | null;
}

export interface RecipientListEntriesTable {
  recipient: string;
  list: 'allow' | 'block';
  pattern: string;
  version: number;
}

export interface DigestSettingsTable {
  id: number;
  /** JSON text. */
  document: string;
  updated_at: number;
  updated_by: string;
}

export interface DigestStateTable {
  id: number;
  /** Hex. */
  secret: string;
  last_run_at: number | null;
}

export interface DigestSentTable {
  rid: number;
  rcpt: string;
  sent_at: number;
  node_id: string;
  queue_id: string;
}

export interface EnduserCopiesTable {
  rid: number;
  rcpt: string;
  action: 'release' | 'delete';
  at: number;
  queue_id: string | null;
}

export interface EnduserSessionsTable {
  id: string;
  recipient: string;
  csrf: string;
  created_at: number;
  expires_at: number;
}

export interface ReportSchedulesTable {
  id: string;
  /** JSON text. */
  document: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

export interface ReportRoundsTable {
  schedule_id: string;
  period_start: number;
  period_end: number;
  status: 'sending' | 'sent' | 'failed';
  attempts: number;
  last_attempt_at: number;
  sent_at: number | null;
  node_id: string | null;
  queue_id: string | null;
  /** JSON array text. */
  recipients: string;
  error: string | null;
}
