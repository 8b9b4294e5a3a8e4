import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { firstAdminNotice } from '../../apps/cli/src/first-admin.ts';
import { spawnMoat } from '../helpers/scanner-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';
import { testMasterDatabaseSection } from '../helpers/test-master-db.ts';

// Security review (issue 18): the generated first admin password was printed on standard
// error, which systemd and Docker keep in their logs.
test('a generated admin password is kept in a 0600 file and not written to a log (output that is not a terminal)', async () => {
  const dir = tempDir('admin-password');
  const config = join(dir.path, 'master.yaml');
  writeFileSync(config, stringify({ dataDir: join(dir.path, 'data'), ...(await testMasterDatabaseSection(join(dir.path, 'data'))), http: { host: '127.0.0.1', port: 0 }, log: { level: 'info' } }));
  const saved = process.env.MOAT_ADMIN_PASSWORD;
  delete process.env.MOAT_ADMIN_PASSWORD;
  const master = await spawnMoat(['master', '--config', config], 'MASTER_STARTED');
  if (saved !== undefined) process.env.MOAT_ADMIN_PASSWORD = saved;
  try {
    // The notice follows MASTER_STARTED (moat.ts writes it once startMaster has returned), on another pipe.
    await waitUntil(() => master.stderr().includes('admin-password.txt'), 'the first admin notice on standard error');
    const file = join(dir.path, 'data', 'admin-password.txt');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const password = readFileSync(file, 'utf8').trim();
    assert.ok(password.length >= 20);
    assert.ok(!master.stderr().includes(password), 'not on standard error');
    assert.ok(!JSON.stringify(master.logs).includes(password), 'not in the log lines');
    assert.match(master.stderr(), /admin-password\.txt \(mode 0600; not shown here/);
  } finally {
    await master.stop();
    dir.cleanup();
  }
});

test('on a terminal the password is shown once, with the way to rotate it', () => {
  const admin = { username: 'admin', generatedPassword: 'pw-1234567890abcdefghij', passwordFile: '/var/lib/moat/master/admin-password.txt' };
  assert.match(firstAdminNotice(admin, true)!, /password: pw-1234567890abcdefghij/);
  assert.match(firstAdminNotice(admin, true)!, /reset-password/);
  assert.ok(!firstAdminNotice(admin, false)!.includes(admin.generatedPassword));
  assert.equal(firstAdminNotice({ username: 'admin' }, true), undefined, 'nothing when the password was given');
});
