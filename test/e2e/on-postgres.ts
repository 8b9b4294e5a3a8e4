import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresBinDir } from '@moat/engines';

/**
 * `pnpm test:e2e:postgres`: the end-to-end tests that start a master run again, each master on
 * its own database of a private PostgreSQL server (MOAT_TEST_MASTER_DB=postgres,
 * helpers/test-master-db.ts; docs/database.md, "Tests on both engines"). A file is in this pass
 * when it starts a master through the helpers that follow the switch; a test inside it that is
 * about SQLite asks for it (`database: 'sqlite'`) and runs on SQLite again. The files below
 * start only such masters, or their own PostgreSQL, so repeating them proves nothing.
 * Arguments narrow the pass to the files whose names contain one of them.
 */
const NOT_REPEATED: Record<string, string> = {
  'backup.integration.test.ts': '`moat backup master` copies master.sqlite with SQLite\'s online backup; on PostgreSQL a backup is the engine\'s (pg_dump, pg_basebackup)',
  'cluster-db-locked.integration.test.ts': 'the fault is SQLite\'s: another handle holds master.sqlite\'s write lock (busy_timeout 0)',
  'master-migrate.integration.test.ts': '`moat master migrate` copies a SQLite master into PostgreSQL: its source is SQLite by definition, its target its own PostgreSQL',
  'master-postgres.integration.test.ts': 'its masters are on PostgreSQL already (a server of its own, named in database.url)',
  'cluster-slow-batch.integration.test.ts': 'its master is on PostgreSQL already (a server of its own, whose table it locks)',
};

// helpers/test-master-db.ts reads it (not imported here: under the switch it registers a test hook).
const TEST_MASTER_DB_VARIABLE = 'MOAT_TEST_MASTER_DB';
const STARTS_A_MASTER = /\b(startTestMaster|startConsoleCluster|testMasterDatabaseSection)\(/;

const dir = import.meta.dirname;
const filters = process.argv.slice(2);
// As the other tests with a real peer: skipped where PostgreSQL is not installed, except under MOAT_REQUIRE_ENGINES=1 (CI).
if (!postgresBinDir() && process.env['MOAT_REQUIRE_ENGINES'] !== '1') {
  console.log('test:e2e:postgres skipped: PostgreSQL is not installed (Debian package postgresql; .ci/run installs it and sets MOAT_REQUIRE_ENGINES=1)');
  process.exit(0);
}
const stale = Object.keys(NOT_REPEATED).filter((f) => !existsSync(join(dir, f)));
if (stale.length > 0) {
  console.error(`on-postgres.ts leaves out files that are gone: ${stale.join(', ')}`);
  process.exit(2);
}
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts') && !(f in NOT_REPEATED) && STARTS_A_MASTER.test(readFileSync(join(dir, f), 'utf8')))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no end-to-end test file starts a master${filters.length ? ` and matches ${filters.join(', ')}` : ''}`);
  process.exit(2);
}
console.log(`${files.length} files with the master on PostgreSQL (${TEST_MASTER_DB_VARIABLE}=postgres); not repeated: ${Object.keys(NOT_REPEATED).join(', ')}`);
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files.map((f) => join(dir, f))], { stdio: 'inherit', env: { ...process.env, [TEST_MASTER_DB_VARIABLE]: 'postgres' } });
process.exit(run.status ?? 1);
