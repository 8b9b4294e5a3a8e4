import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The local cluster's master, as `pnpm start` runs it (docs/local-cluster.md). */
export const LOCAL_MASTER = 'http://127.0.0.1:8080';

/** Where to reach a master: `--master URL` with MOAT_TOKEN, or the local cluster of `pnpm start`. */
export interface MasterTarget {
  /** Another cluster's master (with MOAT_TOKEN); absent: the local cluster of `pnpm start`. */
  readonly master?: string | undefined;
  /** The local cluster's state folder, for its admin password (default var). */
  readonly var?: string | undefined;
}

/** A signed-in connection to a master's REST API. */
export interface MasterClient {
  readonly url: string;
  readonly headers: Record<string, string>;
}

/** What the operator must fix (no token, no master answering), said in their words: one line, exit status 1. */
export class OperationError extends Error {
  override name = 'OperationError';
}

/** An answer of the master that is not a success: its status and stable `code` (apps/master/README.md, Errors). */
export class MasterApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'MasterApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * Sign in: an API token for `--master` (MOAT_TOKEN), else the local admin's password file. The
 * operator's commands (`moat learn`, `status`, `node`, `quarantine`) share it, so they work
 * from an admin's laptop against any master as well as on the host of `pnpm start`.
 */
export async function connectMaster(target: MasterTarget): Promise<MasterClient> {
  if (target.master) {
    const token = process.env.MOAT_TOKEN;
    if (!token) throw new OperationError('--master needs an API token in MOAT_TOKEN (POST /api/v1/tokens on that master, by an admin)');
    return { url: target.master.replace(/\/+$/, ''), headers: { authorization: `Bearer ${token}` } };
  }
  if (process.env.MOAT_TOKEN) return { url: LOCAL_MASTER, headers: { authorization: `Bearer ${process.env.MOAT_TOKEN}` } };
  const root = resolve(target.var ?? 'var');
  const file = [join(root, 'master', 'admin-password.txt'), join(root, 'master-1', 'admin-password.txt')].find((f) => existsSync(f));
  if (!file) throw new OperationError(`no local cluster's admin password under ${root} (start it with 'pnpm start', or give --master URL with MOAT_TOKEN)`);
  const password = readFileSync(file, 'utf8').trim();
  const res = await fetch(`${LOCAL_MASTER}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) }).catch((err: Error) => {
    throw new OperationError(`the local master at ${LOCAL_MASTER} does not answer (${err.message}): is 'pnpm start' running?`);
  });
  if (res.status !== 200) throw new OperationError(`signing in to ${LOCAL_MASTER} as admin failed: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { url: LOCAL_MASTER, headers: { cookie, 'x-moat-request': '1' } };
}

/**
 * One JSON call to the master's `/api/v1`; a non-2xx answer throws MasterApiError with the
 * master's own message and code, a master that does not answer an Error naming its URL.
 */
export async function callMaster<T>(client: MasterClient, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${client.url}/api/v1${path}`, {
    method,
    headers: { ...client.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch((err: Error) => {
    throw new OperationError(`the master at ${client.url} does not answer (${(err.cause as Error | undefined)?.message ?? err.message})`);
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.status >= 200 && res.status < 300) return json as T;
  const e = (json ?? {}) as { error?: string; code?: string };
  throw new MasterApiError(res.status, e.code ?? 'MOAT_ERR_HTTP', `${method} ${path}: HTTP ${res.status} ${e.code ?? ''}: ${e.error ?? text.slice(0, 200)}`);
}
