import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverrides } from './overrides.ts';
import { ConfigError } from './load-config.ts';

test('overrides set nested keys with YAML-typed values, array elements by index, and leave the input alone', () => {
  const doc = { dataDir: '/var/lib/moat', smtp: { listen: { host: '0.0.0.0', port: 25 } }, upstreams: [{ name: 'a', port: 25 }] };
  const out = applyOverrides(doc, ['dataDir=/tmp/x', 'smtp.listen.port=0', 'smtp.listen.host=127.0.0.1', 'upstreams.0.port=2600', 'smtp.trustedProxies=[127.0.0.3]', 'log.level=warn', 'flag=true']);
  assert.deepEqual(out, {
    dataDir: '/tmp/x',
    smtp: { listen: { host: '127.0.0.1', port: 0 }, trustedProxies: ['127.0.0.3'] },
    upstreams: [{ name: 'a', port: 2600 }],
    log: { level: 'warn' },
    flag: true,
  });
  assert.equal(doc.smtp.listen.port, 25);
});

test('a malformed override is a config error naming it', () => {
  const fails = (set: string, key: RegExp) =>
    assert.throws(() => applyOverrides({ dataDir: 'x' }, [set]), (err: unknown) => err instanceof ConfigError && key.test(err.errors[0]!.key));
  fails('noequals', /^noequals$/);
  fails('=1', /^=1$/);
  fails('a..b=1', /^a\.\.b=1$/);
  fails('__proto__.polluted=1', /__proto__/);
  fails('dataDir.sub=1', /^dataDir$/);
  fails('x=[unclosed', /^x$/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
