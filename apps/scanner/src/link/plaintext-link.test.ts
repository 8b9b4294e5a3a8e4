import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPlaintextLinks } from './plaintext-link.ts';

test('a plain ws:// link is allowed on loopback only; elsewhere it is an error naming master.url, or a warning when allowInsecure says so', () => {
  const table: [url: string | string[], allowInsecure: boolean, errors: string[], insecure: string[]][] = [
    ['ws://127.0.0.1:8080/cluster', false, [], []],
    ['ws://127.9.9.9:8080/cluster', false, [], []],
    ['ws://localhost:8080/cluster', false, [], []],
    ['ws://[::1]:8080/cluster', false, [], []],
    ['ws://[::ffff:127.0.0.1]:8080/cluster', false, [], []],
    ['wss://master.example.com:8080/cluster', false, [], []],
    ['wss://192.0.2.10:8080/cluster', false, [], []],
    ['ws://192.0.2.10:8080/cluster', false, ['master.url'], []],
    ['WS://master.example.com/cluster', false, ['master.url'], []],
    ['ws://localhost.example.com/cluster', false, ['master.url'], []],
    ['ws://[2001:db8::1]:8080/cluster', false, ['master.url'], []],
    [['wss://m1.example.com/cluster', 'ws://m2.example.com/cluster'], false, ['master.url.1'], []],
    ['ws://192.0.2.10:8080/cluster', true, [], ['ws://192.0.2.10:8080/cluster']],
  ];
  for (const [url, allowInsecure, errors, insecure] of table) {
    const r = checkPlaintextLinks({ url, allowInsecure });
    assert.deepEqual(r.errors.map((e) => e.key), errors, String(url));
    assert.deepEqual(r.insecure, insecure, String(url));
  }
  assert.match(checkPlaintextLinks({ url: 'ws://192.0.2.10/cluster' }).errors[0]!.message, /master\.allowInsecure: true/);
});
