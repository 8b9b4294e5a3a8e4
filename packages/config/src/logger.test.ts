import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, resolveLogFormat } from './logger.ts';

test('auto: pretty on a terminal, JSON otherwise; MOAT_LOG_FORMAT or log.format decide when set', () => {
  assert.equal(resolveLogFormat('auto', {}, true), 'pretty');
  assert.equal(resolveLogFormat('auto', {}, false), 'json');
  assert.equal(resolveLogFormat('auto', { MOAT_LOG_FORMAT: 'json' }, true), 'json');
  assert.equal(resolveLogFormat('auto', { MOAT_LOG_FORMAT: 'pretty' }, false), 'pretty');
  assert.equal(resolveLogFormat('auto', { MOAT_LOG_FORMAT: 'yaml' }, false), 'json', 'an unknown value is ignored');
  assert.equal(resolveLogFormat('json', { MOAT_LOG_FORMAT: 'pretty' }, true), 'json');
  assert.equal(resolveLogFormat('pretty', {}, false), 'pretty');
});

test('pretty: one readable line per event (who, code, message, fields), secrets still redacted', () => {
  const out: string[] = [];
  const destination = new Writable({ write: (chunk, _enc, done) => (out.push(String(chunk)), done()) });
  const log = createLogger('info', { role: 'scanner', node: 'scanner-1' }, { format: 'pretty', destination });
  log.info({ event: 'MESSAGE_VERDICT', queueId: 'abc123', action: 'quarantine', password: 'hunter2' }, 'verdict');
  log.debug({ event: 'SMTP_CONNECT' }, 'below the level');
  assert.equal(out.length, 1);
  const line = out[0]!;
  assert.equal(line.trimEnd().split('\n').length, 1, line);
  assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: scanner scanner-1 MESSAGE_VERDICT verdict \{"queueId":"abc123","action":"quarantine","password":"\[redacted\]"\}/);
});

test('json: one object per line', () => {
  const out: string[] = [];
  createLogger('info', { role: 'master', master: 'm1' }, { format: 'json', destination: { write: (s: string) => void out.push(s) } }).info({ event: 'MASTER_STARTED' }, 'up');
  assert.deepEqual(Object.keys(JSON.parse(out[0]!)), ['level', 'time', 'role', 'master', 'event', 'msg']);
});
