import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { postgresBinDir, startPostgres } from '@moat/engines';
import { apiClient, ADMIN_PASSWORD, startTestMaster } from '../helpers/cluster-harness.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = join(import.meta.dirname, '..', '..');
// PostgreSQL (Debian postgresql) is needed; CI installs it and sets MOAT_REQUIRE_ENGINES=1, where its absence fails.
const skip = postgresBinDir() || process.env['MOAT_REQUIRE_ENGINES'] === '1' ? false : 'PostgreSQL is not installed (Debian package postgresql)';

function moat(args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'apps/cli/src/moat.ts'), ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('moat master migrate copies a stopped SQLite master into PostgreSQL, verified; the master then starts on database.url with its users and rules; a second run is refused', { skip, timeout: 180_000 }, async () => {
  const pg = await startPostgres();
  try {
    const dataDir = tempDir('migrate').path;
    const first = await startTestMaster({ dataDir, database: 'sqlite' });
    const api = await apiClient(first.url, 'admin', ADMIN_PASSWORD);
    const created = await api.post('/api/v1/users', { username: 'carol', password: 'a-long-enough-password-1', role: 'operator' });
    assert.equal(created.status, 201, created.text);
    const rulesVersion = (await api.get('/api/v1/rules')).json.version as number;
    await first.close();

    const configFile = join(dataDir, 'master.yaml');
    writeFileSync(configFile, stringify({ dataDir, http: { port: 0 }, log: { level: 'silent' } }));
    const password = new URL(pg.url).password;
    const run = moat(['master', 'migrate', '--config', configFile, '--to', pg.url]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^ {2}users: 2 rows$/m);
    assert.match(run.stdout, /row counts and checksums match/);
    assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), 'the password is never printed');
    assert.match(run.stdout, /postgres:\/\/moat:\*\*\*@/);

    const again = moat(['master', 'migrate', '--config', configFile, '--to', pg.url]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /not empty: table \w+ holds rows/);

    // The SQLite file is gone: only PostgreSQL can answer now.
    rmSync(join(dataDir, 'master.sqlite'));
    const moved = await startTestMaster({ dataDir, database: { url: pg.url } });
    try {
      const after = await apiClient(moved.url, 'admin', ADMIN_PASSWORD);
      const users = (await after.get('/api/v1/users')).json.users as { username: string }[];
      assert.deepEqual(users.map((u) => u.username).sort(), ['admin', 'carol']);
      assert.equal((await after.get('/api/v1/rules')).json.version, rulesVersion);
      const dave = await after.post('/api/v1/users', { username: 'dave', password: 'a-long-enough-password-2', role: 'auditor' });
      assert.equal(dave.status, 201, dave.text);
    } finally {
      await moved.close();
    }

    const missing = moat(['master', 'migrate', '--config', configFile, '--to', pg.url]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no SQLite master at .*master\.sqlite/);
  } finally {
    await pg.stop();
  }
});
