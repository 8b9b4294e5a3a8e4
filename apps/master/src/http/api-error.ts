/**
 * An error a route or hook throws on purpose: it becomes `{ error, code, details }` with its
 * status. `code` is the stable machine-readable part (MOAT_ERR_*); `error` is for people.
 */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly details: unknown;
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, code: string, message: string, details?: unknown, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, 'MOAT_ERR_NOT_FOUND', `${what} not found`);
