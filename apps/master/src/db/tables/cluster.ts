/** Nodes, join tokens, greylist, verification sources and call-out cache, learning (migrations 3, 6, 7, 10, 14, 16). Each table is added here as its repository moves onto Kysely (docs/database.md). */
export interface ClusterTables {}
