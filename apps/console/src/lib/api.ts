/**
 * The console's only way to the master: the public REST API, with the session cookie the
 * browser holds. Every call sends `X-Moat-Request: 1` (the master's CSRF check for
 * cookie-authenticated changes). A 401 anywhere signs the console out.
 */

export type Role = 'auditor' | 'operator' | 'admin';

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** `details: [{ field, message }]` of a validation error, if that is what it holds. */
  get fieldProblems(): FieldProblem[] {
    return Array.isArray(this.details) ? (this.details as FieldProblem[]).filter((d) => typeof d?.field === 'string') : [];
  }

  /** The node named by a 502/503 from the cluster. */
  get node(): string | undefined {
    const d = this.details as { node?: unknown } | undefined;
    return typeof d?.node === 'string' ? d.node : undefined;
  }
}

const unauthenticated = new Set<() => void>();

/** Called on every 401 (session expired, signed out elsewhere). */
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticated.add(listener);
  return () => unauthenticated.delete(listener);
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: { 'x-moat-request': '1', accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json ?? {}) as { error?: string; code?: string; details?: unknown };
    const err = new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.error ?? (text.slice(0, 200) || res.statusText), e.details);
    if (res.status === 401 && !path.startsWith('/auth/login')) for (const l of unauthenticated) l();
    throw err;
  }
  return (json ?? text) as T;
}

/** The raw text of a response (a quarantined message). */
export async function apiText(path: string): Promise<string> {
  const res = await fetch(`/api/v1${path}`, { credentials: 'same-origin', headers: { 'x-moat-request': '1' } });
  if (res.ok) return res.text();
  let e: { error?: string; code?: string; details?: unknown } = {};
  try {
    e = await res.json();
  } catch {
    // not JSON: keep the status alone
  }
  if (res.status === 401) for (const l of unauthenticated) l();
  throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.error ?? res.statusText, e.details);
}

/** A query string from the filled-in fields only. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** What the error says to a person; names the node when the cluster was the problem. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'MOAT_ERR_NODE_OFFLINE') return `Node ${err.node ?? '?'} is offline: the message is held there, try again when it is back.`;
    if (err.status === 502 && err.node) return `Node ${err.node} did not complete the request: ${err.message}`;
    return `${err.message} (${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}
