/** Audit log, rules versions, end-user lists, digests, end-user sessions, scheduled reports (migrations 1, 5, 17, 18). Each table is added here as its repository moves onto Kysely (docs/database.md). */
export interface AdminTables {}
