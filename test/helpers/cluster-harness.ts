import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateDocument } from '@moat/config';
import { MasterConfigSchema, startMaster, type Master } from '@moat/master';
import { ScannerConfigSchema, startScanner, createLogger, type Scanner } from '@moat/scanner';
import { validateRules, type Rules } from '@moat/rules';
import { tempDir } from './temp-dir.ts';
import { BASE_RULES } from './scanner-harness.ts';
import { testMasterDatabase, type TestMasterDbChoice } from './test-master-db.ts';

/** `cluster.joinSecret`, no longer used by anything (it served the retired management failover); scanners join with tokens. */
export const JOIN_SECRET = 'test-join-secret-0123456789';
export const ADMIN_PASSWORD = 'admin-password-for-tests';

const level = () => (process.env.MOAT_TEST_LOG ?? 'silent') as 'silent';

/**
 * A master on 127.0.0.1:0 with fast heartbeats, a known admin password and seeded rules; on
 * SQLite, or on PostgreSQL under MOAT_TEST_MASTER_DB=postgres (test-master-db.ts).
 */
export async function startTestMaster(options: { dataDir?: string; port?: number; seed?: Rules; tls?: { cert: string; key: string }; protocolVersion?: number; name?: string; /** A given `database` section (`{ url }`, docs/database.md), or 'sqlite' for a test about SQLite itself, which the PostgreSQL switch leaves alone; by default the run's engine. */ database?: TestMasterDbChoice } = {}): Promise<Master & { dataDir: string; wsUrl: string }> {
  const dataDir = options.dataDir ?? tempDir('master').path;
  const database = await testMasterDatabase(dataDir, options.database);
  const config = validateDocument(MasterConfigSchema, {
    dataDir,
    ...(options.name ? { node: { name: options.name } } : {}),
    ...(database ? { database } : {}),
    http: { host: '127.0.0.1', port: options.port ?? 0, ...(options.tls ? { tls: options.tls } : {}) },
    cluster: { joinSecret: JOIN_SECRET, heartbeatSeconds: 0.5, offlineAfterMissed: 3, requestTimeoutSeconds: 5 },
    admin: { username: 'admin', password: ADMIN_PASSWORD },
    log: { level: level() },
  }, 'test master');
  const master = await startMaster(config, { log: createLogger(level(), { role: 'master' }), seedRules: options.seed ?? validateRules(BASE_RULES), ...(options.protocolVersion ? { protocolVersion: options.protocolVersion } : {}) });
  const wsUrl = `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${master.port}/cluster`;
  registerTestMaster(wsUrl, master);
  return Object.assign(master, { dataDir, wsUrl });
}

// Scanners join with one-time tokens: startClusterScanner makes one on the first registered
// master behind its link URLs, so a test needs no token unless it is about tokens.
const mastersByUrl = new Map<string, Master>();

/** Let startClusterScanner make join tokens on a master a test started itself; forgotten when it closes. */
export function registerTestMaster(wsUrl: string, master: Master): void {
  mastersByUrl.set(wsUrl, master);
  const close = master.close.bind(master);
  master.close = async () => {
    mastersByUrl.delete(wsUrl);
    await close();
  };
}

/** A one-time join token for `name` made on this master (replace: the name may be known already). */
export async function joinTokenFor(master: Master, name: string, options: { ttlSeconds?: number; replace?: boolean } = {}): Promise<string> {
  const made = await master.hub.joinTokens.mint(name, { ttlSeconds: options.ttlSeconds ?? 600, replace: options.replace ?? true, createdBy: 'test', now: Date.now() });
  if (!made.ok) throw new Error(made.message);
  return made.minted.token;
}

/** Has the scanner with this data folder joined (a node id stored)? Then it needs no token. */
function hasJoined(dataDir: string): boolean {
  const file = join(dataDir, 'cluster-credential.json');
  return existsSync(file) && !('credential' in (JSON.parse(readFileSync(file, 'utf8')) as object));
}

/** A token from the first registered master behind these URLs (masters on one PostgreSQL share their tokens). */
async function tokenFromRegisteredMaster(urls: string | string[], name: string): Promise<string | undefined> {
  const master = (typeof urls === 'string' ? [urls] : urls).flatMap((u) => mastersByUrl.get(u) ?? [])[0];
  return master ? await joinTokenFor(master, name) : undefined;
}

/** A scanner that takes its rules from the master. */
export async function startClusterScanner(name: string, wsUrl: string | string[], downstreamPort: number, options: { dataDir?: string; /** A given token, or null for none; by default one is made if the node has not joined. */ joinToken?: string | null; port?: number; fingerprint?: string; signal?: AbortSignal; trustedProxies?: string[]; balancer?: Record<string, unknown>; smtp?: Record<string, unknown>; analyzers?: Record<string, unknown>; /** The protocol version the scanner offers (to play an older scanner). */ protocolVersion?: number } = {}): Promise<Scanner & { dataDirPath: string }> {
  const dataDir = options.dataDir ?? join(tempDir(`scanner-${name}`).path, 'data');
  const joinToken = options.joinToken === undefined ? (hasJoined(dataDir) ? undefined : await tokenFromRegisteredMaster(wsUrl, name)) : options.joinToken ?? undefined;
  const config = validateDocument(ScannerConfigSchema, {
    node: { name },
    dataDir,
    smtp: { listen: { host: '127.0.0.1', port: options.port ?? 0 }, hostname: `${name}.test`, ...(options.trustedProxies ? { trustedProxies: options.trustedProxies } : {}), ...options.smtp },
    relay: { host: '127.0.0.1', port: downstreamPort, retryBaseSeconds: 0.2, retryMaxSeconds: 1, timeoutSeconds: 5 },
    master: { url: wsUrl, ...(joinToken ? { joinToken } : {}), reconnectBaseSeconds: 0.1, reconnectMaxSeconds: 0.5, ...(options.fingerprint ? { fingerprint: options.fingerprint } : {}) },
    ...(options.balancer ? { balancer: options.balancer } : {}),
    ...(options.analyzers ? { analyzers: options.analyzers } : {}),
    log: { level: level() },
  }, `scanner ${name}`);
  const scanner = await startScanner(config, { log: createLogger(level(), { role: 'scanner', node: name }), ...(options.signal ? { signal: options.signal } : {}), ...(options.protocolVersion ? { protocolVersion: options.protocolVersion } : {}) });
  return Object.assign(scanner, { dataDirPath: dataDir });
}

export interface ApiResponse {
  readonly status: number;
  readonly json: any;
  readonly text: string;
  readonly headers: Headers;
}

export interface ApiClient {
  readonly cookie: string;
  get(path: string): Promise<ApiResponse>;
  put(path: string, body: unknown): Promise<ApiResponse>;
  post(path: string, body?: unknown): Promise<ApiResponse>;
  del(path: string): Promise<ApiResponse>;
}

/** A logged-in API client (session cookie) for the master. */
export async function apiClient(baseUrl: string, username = 'admin', password = ADMIN_PASSWORD): Promise<ApiClient> {
  const login = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const call = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      // X-Moat-Request: what the console sends, so cookie-authenticated changes pass the CSRF check.
      headers: { cookie, 'x-moat-request': '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  return {
    cookie,
    get: (path: string) => call('GET', path),
    put: (path: string, body: unknown) => call('PUT', path, body),
    post: (path: string, body?: unknown) => call('POST', path, body ?? {}),
    del: (path: string) => call('DELETE', path),
  };
}

/**
 * Start a scanner that is expected never to get rules (a bad join token, a wrong pin): resolves
 * 'waiting' if it is still waiting after `ms`, then aborts the start so nothing is left running.
 */
export async function expectNeverReady(start: (signal: AbortSignal) => Promise<Scanner>, ms = 1500): Promise<'waiting' | 'started'> {
  const abort = new AbortController();
  const started = start(abort.signal);
  const outcome = await Promise.race([started.then(() => 'started' as const, () => 'waiting' as const), new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), ms))]);
  abort.abort();
  await started.then((s) => s.close(), () => undefined);
  return outcome;
}
