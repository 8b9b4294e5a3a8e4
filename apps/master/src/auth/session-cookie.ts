import type { CookieSerializeOptions } from '@fastify/cookie';

/** The console's session cookie: HttpOnly (no script reads it), SameSite=Strict (no cross-site requests carry it). */
export const SESSION_COOKIE = 'moat_session';

/**
 * Whether the session cookies are Secure: always when the master serves TLS, so a cookie set
 * over HTTPS is never sent back over plain HTTP; else as `auth.secureCookie` says (behind a
 * TLS-terminating proxy). Issue 18: it used to follow `auth.secureCookie` alone, default off.
 */
export function cookieIsSecure(config: { readonly http: { readonly tls?: unknown }; readonly auth: { readonly secureCookie?: boolean | undefined } }): boolean {
  return config.http.tls !== undefined || config.auth.secureCookie === true;
}

export function sessionCookieOptions(secure: boolean, expiresAt?: number): CookieSerializeOptions {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure,
    ...(expiresAt === undefined ? {} : { expires: new Date(expiresAt) }),
  };
}
