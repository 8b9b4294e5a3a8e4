export { buildApp, type BuildAppOptions } from './app.ts';
export { ensureFirstAdmin, type FirstAdmin } from './auth/bootstrap-admin.ts';
export { currentRules, seedRules, type StoredRules } from './rules/rules-repository.ts';
export { MASTER_MIGRATIONS } from './db/migrations.ts';
export { MasterConfigSchema, type MasterConfig } from './config.ts';
export {
  NodeOfflineError,
  NodeRequestError,
  ROLE_RANK,
  type AppDeps,
  type ClusterControl,
  type Principal,
  type Role,
} from './app-deps.ts';
export { startMaster, type Master, type MasterOptions } from './master.ts';
export { resetPassword } from './auth/reset-password.ts';
export { migrateMasterToPostgres } from './db/migrate-master.ts';
export { maskPassword, MigrationError } from './db/migrate-to-postgres.ts';
export { DigestSettingsSchema, type DigestSettings } from './digests/settings-schema.ts';
export { ReportScheduleSchema, type ReportSchedule } from './scheduled-reports/schedule-schema.ts';
export { mintJoinTokenOffline } from './cluster/join-token-cli.ts';
export { JOIN_TOKEN_DEFAULT_TTL_SECONDS, JOIN_TOKEN_MAX_TTL_SECONDS } from './cluster/join-tokens.ts';
