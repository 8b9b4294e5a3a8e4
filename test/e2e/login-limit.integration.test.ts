import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestMaster, ADMIN_PASSWORD } from '../helpers/cluster-harness.ts';

/** POST /api/v1/auth/login from a given loopback address (Linux routes all of 127/8 to lo). */
function login(port: number, from: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username: 'admin', password });
    const req = request({ host: '127.0.0.1', port, localAddress: from, method: 'POST', path: '/api/v1/auth/login', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const tally = (codes: number[]) => codes.reduce<Record<number, number>>((t, c) => ({ ...t, [c]: (t[c] ?? 0) + 1 }), {});

/** Issue 18: the limit was checked before the password and counted after it. */
test('login limit: of 150 parallel wrong passwords only the limit (10) is tried, the rest get 429', async () => {
  const master = await startTestMaster(); // auth.loginAttemptsPerMinute: 10 (the default)
  try {
    const parallel = await Promise.all(Array.from({ length: 150 }, () => login(master.port, '127.0.0.1', 'wrong-password')));
    assert.deepEqual(tally(parallel), { 401: 10, 429: 140 });
  } finally {
    await master.close();
  }
});

/** Issue 18: 10 wrong logins a minute from anywhere locked the admin out everywhere. */
test('login limit: wrong passwords from elsewhere do not lock the admin out of the address it signs in from; a botnet still meets the account-wide count', async () => {
  const master = await startTestMaster();
  try {
    assert.equal(await login(master.port, '127.0.0.2', ADMIN_PASSWORD), 200, 'the admin signs in from its usual address');
    const burst = await Promise.all(Array.from({ length: 10 }, () => login(master.port, '127.0.0.3', 'wrong-password')));
    assert.deepEqual(tally(burst), { 401: 10 });
    assert.equal(await login(master.port, '127.0.0.3', 'wrong-password'), 429, 'that address is stopped');
    assert.equal(await login(master.port, '127.0.0.4', ADMIN_PASSWORD), 200, 'another address may still sign in');
    // Ten wrong from each of nine more addresses: the account-wide count (10 × 10) is full.
    for (let i = 5; i < 14; i++) {
      const codes = await Promise.all(Array.from({ length: 10 }, () => login(master.port, `127.0.0.${i}`, 'wrong-password')));
      assert.deepEqual(tally(codes), { 401: 10 });
    }
    assert.equal(await login(master.port, '127.0.0.40', ADMIN_PASSWORD), 429, 'a new address is refused while the account is under attack');
    assert.equal(await login(master.port, '127.0.0.2', ADMIN_PASSWORD), 200, 'the admin still signs in from where it did before');
  } finally {
    await master.close();
  }
});
