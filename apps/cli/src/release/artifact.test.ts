import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactName, checksumLine, expectedDigest, isReleaseVersion, parseReleaseInfo } from './artifact.ts';
import { upgradeCommand } from './upgrade-command.ts';

const HEX = 'ab'.repeat(32);
const NAME = 'moat-1.2.0-linux-x64.tar.gz';

test('release versions name a folder: digits, an optional pre-release, never a path', () => {
  for (const v of ['1.2.0', '0.0.1-a', '2.0.0-rc.1']) assert.ok(isReleaseVersion(v), v);
  for (const v of ['1.2', 'v1.2.0', '1.2.0/../x', '1.2.0-..', '../1.2.0', '1.2.0-', '']) assert.ok(!isReleaseVersion(v), v);
  assert.equal(artifactName('1.2.0', 'linux', 'x64'), NAME);
});

test('the checksum file: sha256sum lines, the one naming the artifact, or a bare digest; else an error saying why', () => {
  assert.equal(expectedDigest(checksumLine(HEX, NAME), NAME, 'f'), HEX);
  assert.equal(expectedDigest(`${'cd'.repeat(32)}  other.tar.gz\n${HEX.toUpperCase()} *dist/${NAME}\n`, NAME, 'f'), HEX, 'binary-mode mark, a path, upper case');
  assert.equal(expectedDigest(`${HEX}\n`, NAME, 'f'), HEX);
  assert.throws(() => expectedDigest('', NAME, 'sums.txt'), /sums\.txt is empty/);
  assert.throws(() => expectedDigest(`${HEX}  other.tar.gz\n`, NAME, 'sums.txt'), /sums\.txt has no line for moat-1\.2\.0-linux-x64\.tar\.gz \(it names other\.tar\.gz\)/);
  assert.throws(() => expectedDigest(`md5 ${NAME}\n`, NAME, 'sums.txt'), /sums\.txt line 1 is not a sha256 line/);
});

test('release.json: each field checked by name', () => {
  const ok = { version: '1.2.0', platform: 'linux', arch: 'x64', node: 'v24.21.0' };
  assert.deepEqual(parseReleaseInfo(JSON.stringify(ok), 'r'), ok);
  assert.throws(() => parseReleaseInfo('{', 'r'), /r is not JSON/);
  assert.throws(() => parseReleaseInfo(JSON.stringify({ ...ok, arch: '' }), 'r'), /r: arch must be a non-empty string/);
  assert.throws(() => parseReleaseInfo(JSON.stringify({ ...ok, version: '../x' }), 'r'), /version '\.\.\/x' is not a release version/);
});

test('moat upgrade\'s defaults: install.sh\'s units and their health files; every problem is a usage line', () => {
  const units = [{ unit: 'moat-scanner.service', healthFile: '/var/lib/moat/scanner.health.json' }];
  const none = { service: [], 'health-file': [] };
  const plan = upgradeCommand('/tmp/a.tar.gz', none, units, '/opt/moat');
  assert.ok(typeof plan !== 'string');
  assert.deepEqual(plan, { artifact: '/tmp/a.tar.gz', checksumFile: '/tmp/a.tar.gz.sha256', prefix: '/opt/moat', restart: { kind: 'systemd', units: ['moat-scanner.service'] }, healthFiles: ['/var/lib/moat/scanner.health.json'], timeoutMs: 120_000 });
  assert.match(upgradeCommand('/tmp/a.tar.gz', none, units, undefined) as string, /--prefix DIR is needed/);
  assert.match(upgradeCommand('/tmp/a.tar.gz', none, [], '/opt/moat') as string, /no moat-\*\.service/);
  assert.match(upgradeCommand('/tmp/a.tar.gz', { ...none, service: ['moat-master'] }, units, '/opt/moat') as string, /--health-file FILE is needed for moat-master\.service/);
  assert.match(upgradeCommand('/tmp/a.tar.gz', { ...none, 'restart-command': 'sv restart moat' }, units, '/opt/moat') as string, /--restart-command needs --health-file/);
  assert.match(upgradeCommand('/tmp/a.tar.gz', { ...none, timeout: 'soon' }, units, '/opt/moat') as string, /--timeout must be a number/);
});
