import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { validateDocument } from '@moat/config';
import { createLogger } from '@moat/config/logger';
import { MasterConfigSchema, startMaster } from '@moat/master';
import { ScannerConfigSchema, startScanner } from '@moat/scanner';
import { validateRules } from '@moat/rules';
import { startDownstream } from '../helpers/downstream.ts';
import { ADMIN_PASSWORD, apiClient, joinTokenFor } from '../helpers/cluster-harness.ts';
import { BASE_RULES } from '../helpers/scanner-harness.ts';
import { duplicateKeys } from '../helpers/log-lines.ts';
import { message, sendMail } from '../helpers/smtp-client.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { testMasterDatabaseSection } from '../helpers/test-master-db.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * The log lines of a real master and scanner at debug, as JSON: mail of each kind, a console
 * session polling the dashboard's routes, a sign-in. Every line is one JSON object without a key
 * twice in any object (a child logger's binding and a call's field used to collide), and the
 * polls are not at info.
 */
test('duplicateKeys finds a repeated key at any depth, and only that', () => {
  assert.deepEqual(duplicateKeys('{"a":1,"b":{"c":2,"c":3},"a":"x"}'), ['.b.c', '.a']);
  assert.deepEqual(duplicateKeys('{"a":"\\"a\\":1,","list":[{"a":1},{"a":2}],"s":"{\\"a\\":1}"}'), []);
});

test('log lines: one JSON object each, no duplicated key, no info line per dashboard poll', { timeout: 60_000 }, async (t) => {
  const lines: string[] = [];
  const capture = { write: (s: string) => void lines.push(...s.split('\n').filter((l) => l !== '')) };
  const downstream = await startDownstream();
  const dataDir = tempDir('master').path;
  const master = await startMaster(validateDocument(MasterConfigSchema, {
    dataDir,
    ...(await testMasterDatabaseSection(dataDir)),
    node: { name: 'master-1' },
    http: { host: '127.0.0.1', port: 0 },
    cluster: { heartbeatSeconds: 0.5, offlineAfterMissed: 3, requestTimeoutSeconds: 5 },
    admin: { username: 'admin', password: ADMIN_PASSWORD },
  }, 'test master'), { log: createLogger('debug', { role: 'master', master: 'master-1' }, { format: 'json', destination: capture }), seedRules: validateRules(BASE_RULES) });
  const scanner = await startScanner(validateDocument(ScannerConfigSchema, {
    node: { name: 'scanner-1' },
    dataDir: join(tempDir('scanner').path, 'data'),
    smtp: { listen: { host: '127.0.0.1', port: 0 }, hostname: 'scanner-1.test' },
    relay: { host: '127.0.0.1', port: downstream.port, retryBaseSeconds: 0.2, retryMaxSeconds: 1, timeoutSeconds: 5 },
    master: { url: `ws://127.0.0.1:${master.port}/cluster`, joinToken: await joinTokenFor(master, 'scanner-1'), reconnectBaseSeconds: 0.1, reconnectMaxSeconds: 0.5 },
  }, 'scanner-1'), { log: createLogger('debug', { role: 'scanner', node: 'scanner-1' }, { format: 'json', destination: capture }) });
  t.after(async () => {
    await scanner.close();
    await master.close();
    await downstream.close();
  });

  const api = await apiClient(master.url);
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items[0]?.online === true, 'the scanner is online');
  assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'hello' }))).code, 250);
  assert.equal((await sendMail(scanner.smtpPort, { from: 'a@origin.test', to: ['user@example.test'] }, message({ subject: 'QUARANTINE-ME' }))).code, 250);
  await sendMail(scanner.smtpPort, { from: 'x@blocked.example', to: ['user@example.test'] }, message()).catch(() => undefined);
  await waitUntil(async () => (await api.get('/api/v1/messages')).json.items.length >= 3, 'all three logged');
  // What the dashboard asks every 10 s, several times over, and a route that does not exist.
  for (let i = 0; i < 3; i++) for (const path of ['/nodes', '/rules', '/reports/traffic?bucket=hour']) assert.equal((await api.get(`/api/v1${path}`)).status, 200);
  assert.equal((await api.get('/api/v1/cluster/masters')).status, 404);
  await downstream.waitFor(1);

  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const doubled = lines.flatMap((l) => duplicateKeys(l).map((k) => `${k} in ${l.slice(0, 160)}`));
  assert.deepEqual(doubled, [], 'no log object names a key twice');
  for (const event of ['MASTER_STARTED', 'NODE_ONLINE', 'SMTP_RECEIVED', 'MESSAGE_VERDICT', 'RELAY_DELIVERED', 'SMTP_REFUSED', 'HTTP_REQUEST']) assert.ok(parsed.some((p) => p.event === event), `a ${event} line`);
  const requests = parsed.filter((p) => p.event === 'HTTP_REQUEST');
  const loudReads = requests.filter((p) => p.method === 'GET' && (p.statusCode as number) < 400 && (p.level as number) >= 30);
  assert.deepEqual(loudReads, [], 'successful reads are not logged at info');
  assert.ok(requests.some((p) => p.method === 'GET' && p.route === '/api/v1/nodes' && p.level === 20), 'the polls are there at debug');
  assert.ok(requests.some((p) => p.method === 'POST' && p.route === '/api/v1/auth/login' && p.statusCode === 200 && p.level === 30), 'a sign-in is at info');
  assert.ok(requests.some((p) => p.statusCode === 404 && p.level === 30), 'a 404 is at info');
  assert.equal(parsed.filter((p) => p.msg === 'incoming request' || p.msg === 'request completed').length, 0, "fastify's own two lines per request are off");
});
