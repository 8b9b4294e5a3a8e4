import { STATUS_CODES } from 'node:http';
import { NodeOfflineError, NodeRequestError } from '../app-deps.ts';
import { ApiError } from './api-error.ts';
import type { ErrorBody } from './schemas.ts';

const NODE_ERROR_STATUS: Readonly<Record<string, number>> = {
  MOAT_ERR_NOT_FOUND: 404,
  MOAT_ERR_CONFLICT: 409,
  MOAT_ERR_GONE: 410,
  MOAT_ERR_VALIDATION: 400,
  MOAT_ERR_NODE_TIMEOUT: 504,
};

/** One answer to an error: status, the `{ error, code, details }` body, extra headers. */
export interface ErrorReply {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  /** Server-side faults are logged with their real message; client errors are not. */
  readonly serverFault: boolean;
}

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

interface ValidationIssue {
  readonly instancePath?: string;
  readonly message?: string;
  readonly keyword?: string;
  readonly params?: Record<string, unknown>;
}

interface FastifyLikeError {
  readonly statusCode?: number;
  readonly code?: string;
  readonly message?: string;
  readonly validation?: readonly ValidationIssue[];
  readonly validationContext?: string;
}

/** Client errors fastify itself raises, by status (bad JSON, body too large, wrong content type…). */
const FASTIFY_CLIENT_CODES: Readonly<Record<number, string>> = {
  400: 'MOAT_ERR_BAD_REQUEST',
  403: 'MOAT_ERR_FORBIDDEN', // @fastify/static refusing a path with a NUL byte under /api/v1/docs/static (found by fuzzing)
  404: 'MOAT_ERR_NOT_FOUND',
  405: 'MOAT_ERR_METHOD_NOT_ALLOWED',
  406: 'MOAT_ERR_NOT_ACCEPTABLE',
  413: 'MOAT_ERR_PAYLOAD_TOO_LARGE',
  414: 'MOAT_ERR_URI_TOO_LONG',
  415: 'MOAT_ERR_UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Map anything thrown in a route or hook to the answer the client sees. The text of a 5xx
 * is never sent (it may name files or SQL); the request id lets an admin find the log line.
 */
export function toErrorReply(err: unknown, requestId: string): ErrorReply {
  if (err instanceof ApiError) {
    return reply(err.statusCode, err.message, err.code, err.details, err.headers);
  }
  if (err instanceof NodeOfflineError) {
    return reply(503, err.message, err.code, { node: err.nodeName });
  }
  if (err instanceof NodeRequestError) {
    const code = err.code.startsWith('MOAT_ERR_') ? err.code : 'MOAT_ERR_NODE_REQUEST';
    // The node's own answer keeps its meaning (not found, conflict); a silent node is a gateway time-out.
    const status = NODE_ERROR_STATUS[code] ?? 502;
    return reply(status, `node ${err.nodeName}: ${err.message}`, code, { node: err.nodeName });
  }
  const e = (err ?? {}) as FastifyLikeError;
  if (Array.isArray(e.validation)) {
    return reply(400, 'Bad Request', 'MOAT_ERR_VALIDATION', validationDetails(e.validation, e.validationContext ?? 'request'));
  }
  const status = e.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return reply(status, e.message ?? STATUS_CODES[status] ?? 'Client error', FASTIFY_CLIENT_CODES[status] ?? `MOAT_ERR_HTTP_${status}`);
  }
  return { ...reply(500, 'Internal Server Error', 'MOAT_ERR_INTERNAL', { requestId }), serverFault: true };
}

/** Worded like the config and rules errors, which name the key the same way. */
const MESSAGES: Readonly<Record<string, string>> = { additionalProperties: 'unknown key', required: 'required key is missing' };

/**
 * `body` + `/lists/0` + missing `name` → `body.lists.0.name`. One line per field and message:
 * where a union failed as a whole, its branches' individual complaints are dropped.
 */
export function validationDetails(issues: readonly ValidationIssue[], context: string): FieldProblem[] {
  const prefix = context === 'querystring' ? 'query' : context;
  const unionPaths = new Set(issues.filter((i) => i.keyword === 'anyOf' || i.keyword === 'oneOf').map((i) => i.instancePath ?? ''));
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const isUnion = issue.keyword === 'anyOf' || issue.keyword === 'oneOf';
    if (!isUnion && unionPaths.has(issue.instancePath ?? '')) continue;
    const path = (issue.instancePath ?? '').split('/').filter((part) => part !== '');
    const extra = issue.params?.['missingProperty'] ?? issue.params?.['additionalProperty'];
    if (typeof extra === 'string') path.push(extra);
    const field = [prefix, ...path].join('.');
    const message = messageOf(issue);
    if (seen.has(`${field}\u0000${message}`)) continue;
    seen.add(`${field}\u0000${message}`);
    out.push({ field, message });
  }
  return out;
}

function messageOf(issue: ValidationIssue): string {
  const allowed = issue.params?.['allowedValues'];
  if (issue.keyword === 'enum' && Array.isArray(allowed)) return `must be one of: ${allowed.join(', ')}`;
  if (issue.keyword === 'anyOf' || issue.keyword === 'oneOf') return 'does not match any allowed form';
  return MESSAGES[issue.keyword ?? ''] ?? issue.message ?? 'is invalid';
}

function reply(status: number, error: string, code: string, details?: unknown, headers: Readonly<Record<string, string>> = {}): ErrorReply {
  const body: ErrorBody = details === undefined ? { error, code } : { error, code, details };
  return { status, body, headers, serverFault: status >= 500 && status !== 502 && status !== 503 };
}
