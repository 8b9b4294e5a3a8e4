import { escapeHtml as h } from '../digests/template.ts';
import { formatTime } from '../digests/digest-runner.ts';
import type { HeldForRecipient } from '../digests/digest-repository.ts';
import { describeReasons } from '../digests/categories.ts';
import type { RecipientList } from '@moat/rules';
import type { DeliveredForRecipient } from './enduser-learning.ts';

/**
 * The end users' pages: plain server-rendered HTML, no script at all (the CSP forbids it), one
 * stylesheet from this server. Every value is HTML-escaped here.
 */

export const STYLE = `body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}td,th{padding:.4rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
form.inline{display:inline}button{margin:.1rem;padding:.3rem .7rem;cursor:pointer}.note{color:#555}.bad{color:#a00}.good{color:#060}
input[type=text]{padding:.3rem;width:18rem}`;

export function layout(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">${head}<title>${h(title)}</title><link rel="stylesheet" href="/user/style.css"></head>
<body><h1>${h(title)}</h1>
${body}
</body></html>`;
}

const hidden = (name: string, value: string) => `<input type="hidden" name="${h(name)}" value="${h(value)}">`;
const button = (action: string, fields: Record<string, string>, label: string) =>
  `<form class="inline" method="post" action="${h(action)}">${Object.entries(fields).map(([k, v]) => hidden(k, v)).join('')}<button type="submit">${h(label)}</button></form>`;

const ACTION_LABEL = { release: 'Release', allow: 'Release and allow the sender', delete: 'Delete' } as const;
export type MessageAction = keyof typeof ACTION_LABEL;

export function messageSummary(m: HeldForRecipient): string {
  return `<table><tr><th>From</th><td>${h(m.mailFrom || '<>')}</td></tr><tr><th>Subject</th><td>${h(m.subject || '(no subject)')}</td></tr>
<tr><th>Received</th><td>${h(formatTime(m.createdAt))}</td></tr><tr><th>Why</th><td>${h(describeReasons(m.reasons))}</td></tr></table>`;
}

/** A link was followed: confirm with a button (a GET changes nothing, so link scanners that prefetch do no harm). */
export function confirmPage(action: MessageAction, m: HeldForRecipient, token: string): string {
  return layout(`${ACTION_LABEL[action]}?`, `${messageSummary(m)}
<p>${button('/user/link', { t: token }, ACTION_LABEL[action])} <a href="/user/">Your quarantine</a></p>`);
}

/**
 * The digest's "your quarantine" link was followed, and the session cookie set: now step to
 * the page from here. The link is usually clicked in webmail, another site, and a redirect
 * would stay part of that cross-site navigation, so the browser would leave the SameSite=Strict
 * cookie out and the page would say there is no session. A refresh (and the link, should the
 * browser not follow it) is a navigation this page starts on its own site: the cookie goes.
 */
export function continuePage(): string {
  return layout('Your quarantine', '<p>Opening your quarantine… <a href="/user/">Continue</a></p>', '<meta http-equiv="refresh" content="0;url=/user/">');
}

export function resultPage(title: string, text: string, good: boolean): string {
  return layout(title, `<p class="${good ? 'good' : 'bad'}">${h(text)}</p><p><a href="/user/">Your quarantine</a></p>`);
}

export function errorPage(title: string, text: string): string {
  return layout(title, `<p class="bad">${h(text)}</p>`);
}

/** The recipient's delivered mail with a kept copy, each with "Report spam" (or "Reported"). */
function deliveredSection(csrf: string, delivered: readonly DeliveredForRecipient[]): string {
  const rows = delivered.map((m) => {
    const action = m.reported ? '<span class="note">Reported as spam</span>' : button(`/user/delivered/${m.nodeId}/${m.id}/report`, { csrf }, 'Report spam');
    return `<tr><td>${h(m.mailFrom || '<>')}</td><td>${h(m.subject || '(no subject)')}</td><td>${h(formatTime(m.receivedAt))}</td><td>${action}</td></tr>`;
  });
  return `<h2>Delivered to you</h2><p class="note">Spam that reached your mailbox: report it, and the filter learns to catch mail like it, for everyone.</p>
${delivered.length === 0 ? '<p class="note">No recent message of yours can be reported.</p>' : `<table><tr><th>From</th><th>Subject</th><th>Received</th><th></th></tr>${rows.join('\n')}</table>`}`;
}

/** `delivered`: given when end users' actions teach the filter (a release is then "not spam" too). */
export function portalPage(recipient: string, csrf: string, held: readonly HeldForRecipient[], lists: RecipientList, notice?: string, delivered?: readonly DeliveredForRecipient[]): string {
  const rows = held.map((m) => {
    const path = `/user/messages/${m.nodeId}/${m.id}`;
    const actions = (['release', 'allow', 'delete'] as const).map((a) => button(`${path}/${a}`, { csrf }, ACTION_LABEL[a])).join('');
    return `<tr><td>${h(m.mailFrom || '<>')}</td><td>${h(m.subject || '(no subject)')}</td><td>${h(formatTime(m.createdAt))}</td><td>${h(describeReasons(m.reasons))}</td><td>${actions}</td></tr>`;
  });
  const listSection = (name: 'allow' | 'block', title: string, help: string) => `<h2>${h(title)}</h2><p class="note">${h(help)}</p>
<ul>${lists[name].map((p) => `<li>${h(p)} ${button(`/user/lists/${name}/remove`, { csrf, pattern: p }, 'Remove')}</li>`).join('') || '<li class="note">(empty)</li>'}</ul>
<form method="post" action="/user/lists/${name}/add">${hidden('csrf', csrf)}<input type="text" name="pattern" maxlength="320" placeholder="sender@example.com or example.com" required> <button type="submit">Add</button></form>`;
  return layout(`Quarantine of ${recipient}`, `${notice ? `<p class="good">${h(notice)}</p>` : ''}
<p class="note">Messages held for you. Released mail is delivered to your mailbox${delivered ? ', and the filter learns that it is not spam' : ''}.</p>
${held.length === 0 ? '<p>Nothing is held for you.</p>' : `<table><tr><th>From</th><th>Subject</th><th>Received</th><th>Why</th><th></th></tr>${rows.join('\n')}</table>`}
${delivered ? deliveredSection(csrf, delivered) : ''}
${listSection('allow', 'Senders you always accept', 'Mail from these senders to you skips the spam checks (virus and attachment checks still apply).')}
${listSection('block', 'Senders you refuse', 'Mail from these senders to you is refused.')}
<p>${button('/user/logout', { csrf }, 'Sign out')}</p>`);
}
