/** The message log, quarantine index, events, roll-ups (migrations 2, 4, 8, 12, 15). Each table is added here as its repository moves onto Kysely (docs/database.md). */
export interface DataTables {}
