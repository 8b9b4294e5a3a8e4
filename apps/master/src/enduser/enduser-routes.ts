import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '@moat/config';
import { sessionCookieOptions } from '../auth/session-cookie.ts';
import { createLoginLimiter } from '../auth/login-limiter.ts';
import { createSharedLoginLimiter } from '../auth/shared-login-limiter.ts';
import type { DigestRepository } from '../digests/digest-repository.ts';
import type { DigestStore } from '../digests/settings-repository.ts';
import { verifyLink } from '../digests/links.ts';
import { changeRecipientList } from '../recipient-lists/change-recipient-list.ts';
import { recipientListsOf, type ListName } from '../recipient-lists/recipient-lists-store.ts';
import { mayAct, performAction, type ActionOutcome, type EnduserActionDeps } from './enduser-actions.ts';
import { createEnduserSessions, ENDUSER_COOKIE } from './enduser-sessions.ts';
import { confirmPage, continuePage, errorPage, portalPage, resultPage, STYLE, type MessageAction } from './pages.ts';

/**
 * Strict: nothing but this server's stylesheet and forms posting back to it; no script, no
 * frames, no plugins; and no Referer, so a link's token never leaks to another site.
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

const DAY_MS = 86_400_000;
const NODE_ID = /^[0-9a-f]{16}$/;
const MESSAGE_ID = /^[0-9A-Za-z]{20}$/;
const ACTIONS: readonly MessageAction[] = ['release', 'allow', 'delete'];

export interface EnduserRoutesDeps extends EnduserActionDeps {
  readonly store: DigestStore;
  readonly repo: DigestRepository;
  readonly secureCookie: boolean;
  /** Requests per client address per minute on /user (pages, links, actions). */
  readonly requestsPerMinute?: number;
}

type Form = Record<string, string | undefined>;

/**
 * The end users' quarantine page under /user, outside the console's login: a signed link from
 * a digest is the only way in. Following one opens a short recipient-scoped session (cookie
 * on /user only); every page and action is scoped to that one recipient address.
 */
export function enduserRoutes(deps: EnduserRoutesDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    const sessions = createEnduserSessions(deps.publish.db, deps.now);
    // The request rate stays in this master's memory: it guards the master (and the database
    // behind it) against a flood, which a database write per request would not.
    const requests = createLoginLimiter({ limit: deps.requestsPerMinute ?? 120, now: deps.now });
    // Invalid links are guesses at a credential: counted across masters, as sign-ins are.
    const badLinks = createSharedLoginLimiter(deps.publish.db, { scope: 'enduser-link', limit: 20, now: deps.now });
    const config = { public: true } as const;
    // A link's token is a credential: fastify's per-request info lines would log it with the URL.
    const quiet = { config, logLevel: 'warn' } as const;

    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.addHook('onRequest', async (request, reply) => {
      reply.headers(SECURITY_HEADERS);
      const allowed = await requests.attempt(request.ip, request.ip); // every request counts
      if (!allowed.allowed) {
        return reply.code(429).header('retry-after', String(allowed.retryAfterSeconds)).type('text/html').send(errorPage('Too many requests', 'Please wait a minute and try again.'));
      }
    });

    const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);
    const outcomePage = (reply: FastifyReply, o: ActionOutcome) =>
      o.kind === 'refused' ? html(reply, o.status, errorPage('Not possible', o.text)) : html(reply, 200, resultPage(o.kind === 'done' ? 'Done' : 'Already done', o.text, true));
    const session = async (request: FastifyRequest) => {
      const token = request.cookies[ENDUSER_COOKIE];
      return token === undefined ? undefined : sessions.lookup(token);
    };
    const settings = async () => (await deps.store.settings()).settings;

    /** Check a link token; on failure the page says why (and repeated failures slow the client down). */
    async function checkToken(request: FastifyRequest, reply: FastifyReply, token: unknown) {
      // Counted before the check and given back when the link is good, so parallel guesses see each other.
      const limited = await badLinks.attempt(request.ip, request.ip);
      if (!limited.allowed) {
        html(reply.header('retry-after', String(limited.retryAfterSeconds)), 429, errorPage('Too many invalid links', 'Please wait a minute and try again.'));
        return undefined;
      }
      const checked = verifyLink(await deps.store.secret(), typeof token === 'string' ? token : '', deps.now());
      if (checked.ok) {
        await badLinks.succeeded(limited.ticket);
        return checked.link;
      }
      deps.log.info({ event: 'ENDUSER_LINK_REFUSED', reason: checked.reason }, 'digest link refused');
      if (checked.reason === 'expired') html(reply, 410, errorPage('This link has expired', 'Links in a quarantine digest work for a limited time. The next digest has fresh ones.'));
      else html(reply, 403, errorPage('This link is not valid', 'The link is incomplete or has been changed. Open it again from your quarantine digest.'));
      return undefined;
    }

    async function openSession(reply: FastifyReply, recipient: string): Promise<void> {
      const { token, expiresAt } = await sessions.create(recipient, (await settings()).sessionMinutes);
      reply.setCookie(ENDUSER_COOKIE, token, { ...sessionCookieOptions(deps.secureCookie, expiresAt), path: '/user' });
    }

    app.get('/user/style.css', { config }, async (_request, reply) => reply.type('text/css; charset=utf-8').send(STYLE));

    app.get('/user/link', quiet, async (request, reply) => {
      const link = await checkToken(request, reply, (request.query as Form).t);
      if (!link) return reply;
      await openSession(reply, link.recipient);
      // Not a redirect: see continuePage (a link from webmail is a cross-site navigation).
      if (link.action === 'open') return html(reply, 200, continuePage());
      const m = await deps.repo.get(link.nodeId, link.messageId);
      const refused = mayAct(await settings(), m, link.recipient);
      if (refused || !m) return outcomePage(reply, refused ?? { kind: 'refused', status: 404, text: 'Not found.' });
      return html(reply, 200, confirmPage(link.action, m, (request.query as Form).t!));
    });

    app.post('/user/link', quiet, async (request, reply) => {
      const link = await checkToken(request, reply, (request.body as Form | undefined)?.t);
      if (!link) return reply;
      if (link.action === 'open') return reply.redirect('/user/', 303);
      return outcomePage(reply, await performAction(deps, await settings(), link.recipient, 'digest-link', request.ip, link.nodeId, link.messageId, link.action));
    });

    app.get('/user/', { config }, async (request, reply) => {
      const s = await session(request);
      if (!s) return html(reply, 401, errorPage('Please use your digest', 'Open the link in your latest quarantine digest to see your quarantine.'));
      const st = await settings();
      const held = await deps.repo.heldFor(s.recipient, deps.now() - st.maxAgeDays * DAY_MS, st.categories, 200);
      const delivered = deps.learning?.enabled ? await deps.learning.deliveredFor(s.recipient, deps.now() - st.maxAgeDays * DAY_MS, 100) : undefined;
      return html(reply, 200, portalPage(s.recipient, s.csrf, held, await recipientListsOf(deps.publish.db, s.recipient), undefined, delivered));
    });

    /** A form post from the page: the session and its CSRF value, or a refusal page. */
    async function formSession(request: FastifyRequest, reply: FastifyReply) {
      const s = await session(request);
      if (!s) {
        html(reply, 401, errorPage('Your session has ended', 'Open the link in your latest quarantine digest again.'));
        return undefined;
      }
      if ((request.body as Form | undefined)?.csrf !== s.csrf) {
        html(reply, 403, errorPage('Not accepted', 'This form is out of date. Go back to your quarantine page and try again.'));
        return undefined;
      }
      return s;
    }

    app.post('/user/messages/:node/:id/:action', { config }, async (request, reply) => {
      const { node, id, action } = request.params as { node: string; id: string; action: string };
      if (!NODE_ID.test(node) || !MESSAGE_ID.test(id) || !ACTIONS.includes(action as MessageAction)) return html(reply, 404, errorPage('Not found', 'No such message.'));
      const s = await formSession(request, reply);
      if (!s) return reply;
      return outcomePage(reply, await performAction(deps, await settings(), s.recipient, 'enduser-session', request.ip, node, id, action as MessageAction));
    });

    // "Report spam" on a message delivered to this recipient whose copy is kept: every scanner learns it (docs/detection.md).
    app.post('/user/delivered/:node/:id/report', { config }, async (request, reply) => {
      const { node, id } = request.params as { node: string; id: string };
      if (!NODE_ID.test(node) || !MESSAGE_ID.test(id) || !deps.learning?.enabled) return html(reply, 404, errorPage('Not found', 'No such message.'));
      const s = await formSession(request, reply);
      if (!s) return reply;
      const r = await deps.learning.report(s.recipient, request.ip, node, id);
      return r.status === 200 ? html(reply, 200, resultPage(r.title, r.text, true)) : html(reply, r.status, errorPage(r.title, r.text));
    });

    app.post('/user/lists/:list/:op', { config }, async (request, reply) => {
      const { list, op } = request.params as { list: string; op: string };
      if (!['allow', 'block'].includes(list) || !['add', 'remove'].includes(op)) return html(reply, 404, errorPage('Not found', 'No such list.'));
      const s = await formSession(request, reply);
      if (!s) return reply;
      const pattern = ((request.body as Form).pattern ?? '').trim();
      if (pattern.length === 0 || pattern.length > 320) return html(reply, 400, errorPage('Not accepted', 'Enter a sender address or a domain (at most 320 characters).'));
      try {
        await changeRecipientList(deps.publish, s.recipient, { op: op as 'add' | 'remove', list: list as ListName, pattern }, request.ip);
      } catch (err) {
        if (err instanceof ConfigError) return html(reply, 400, errorPage('Not accepted', `"${pattern}" is not a sender address or domain: ${err.errors[0]?.message ?? 'invalid'}.`));
        if (err instanceof RangeError) return html(reply, 400, errorPage('Not accepted', `${err.message}.`));
        throw err;
      }
      return html(reply, 200, resultPage('Saved', `${pattern} ${op === 'add' ? 'is now on' : 'was removed from'} your ${list === 'allow' ? 'accepted' : 'refused'} senders.`, true));
    });

    app.post('/user/logout', { config }, async (request, reply) => {
      const token = request.cookies[ENDUSER_COOKIE];
      if (token !== undefined) await sessions.revoke(token);
      reply.clearCookie(ENDUSER_COOKIE, { path: '/user' });
      return html(reply, 200, resultPage('Signed out', 'You are signed out.', true));
    });
  };
}
