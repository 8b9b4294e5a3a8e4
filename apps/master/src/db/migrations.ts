import type { Migration } from '@moat/storage';
import { AUTH_MIGRATION } from './migration-001-auth.ts';
import { DATA_MIGRATION } from './migration-002-data.ts';
import { CLUSTER_MIGRATION } from './migration-003-cluster.ts';
import { RETENTION_MIGRATION } from './migration-004-retention.ts';
import { DIGESTS_MIGRATION } from './migration-005-digests.ts';
import { GREYLIST_MIGRATION } from './migration-006-greylist.ts';
import { NODE_REMOVAL_MIGRATION } from './migration-007-node-removal.ts';
import { REFUSALS_MIGRATION } from './migration-008-refusals.ts';
import { REPLICATION_MIGRATION } from './migration-009-replication.ts';
import { NODE_KEYS_MIGRATION } from './migration-010-node-keys.ts';
import { EVENT_EPOCHS_MIGRATION } from './migration-012-event-epochs.ts';
import { TOKEN_SCOPE_MIGRATION } from './migration-013-token-scope.ts';
import { LEARN_MIGRATION } from './migration-014-learn.ts';
import { TOP_BY_NODE_MIGRATION } from './migration-015-top-by-node.ts';
import { VERIFICATION_MIGRATION } from './migration-016-verification.ts';
import { RECIPIENT_LISTS_MIGRATION } from './migration-017-recipient-lists.ts';
import { NODE_LINKS_MIGRATION } from './migration-019-node-links.ts';
import { REPORT_SCHEDULES_MIGRATION } from './migration-018-report-schedules.ts';
import { MASTERS_MIGRATION } from './migration-020-masters.ts';
import { LOG_PARTITIONS_MIGRATION } from './migration-022-log-partitions.ts';
import { LIMITS_LEASES_MIGRATION } from './migration-021-limits-leases.ts';
import { RETIRE_REPLICATION_MIGRATION } from './migration-023-retire-replication.ts';
import { ADDRESS_SEARCH_MIGRATION } from './migration-024-address-search.ts';
import { TOP_HEADS_MIGRATION } from './migration-025-top-heads.ts';

/** The master's schema, one migration per area; add new ones, never edit a shipped one. */
export const MASTER_MIGRATIONS: readonly Migration[] = [AUTH_MIGRATION, DATA_MIGRATION, CLUSTER_MIGRATION, RETENTION_MIGRATION, DIGESTS_MIGRATION, GREYLIST_MIGRATION, NODE_REMOVAL_MIGRATION, REFUSALS_MIGRATION, REPLICATION_MIGRATION, NODE_KEYS_MIGRATION, EVENT_EPOCHS_MIGRATION, TOKEN_SCOPE_MIGRATION, LEARN_MIGRATION, TOP_BY_NODE_MIGRATION, VERIFICATION_MIGRATION, RECIPIENT_LISTS_MIGRATION, REPORT_SCHEDULES_MIGRATION, NODE_LINKS_MIGRATION, MASTERS_MIGRATION, LIMITS_LEASES_MIGRATION, LOG_PARTITIONS_MIGRATION, RETIRE_REPLICATION_MIGRATION, ADDRESS_SEARCH_MIGRATION, TOP_HEADS_MIGRATION];
