import type { CookieSerializeOptions } from '@fastify/cookie';

/** The console's session cookie: HttpOnly (no script reads it), SameSite=Strict (no cross-site requests carry it). */
export const SESSION_COOKIE = 'moat_session';

export function sessionCookieOptions(secure: boolean, expiresAt?: number): CookieSerializeOptions {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure,
    ...(expiresAt === undefined ? {} : { expires: new Date(expiresAt) }),
  };
}
