import { useEffect, useState } from 'preact/hooks';
import { api, onUnauthenticated, type Role } from './lib/api.ts';
import { go, useRoute } from './lib/router.ts';
import { SignIn } from './pages/sign-in.tsx';
import { Dashboard } from './pages/dashboard.tsx';
import { QuarantineList } from './pages/quarantine-list.tsx';
import { QuarantineDetail } from './pages/quarantine-detail.tsx';
import { RulesPage } from './pages/rules.tsx';
import { MessagesPage } from './pages/messages.tsx';
import { ReportsPage } from './pages/reports.tsx';
import { UsersPage } from './pages/users.tsx';
import { TokensPage } from './pages/tokens.tsx';
import { AuditPage } from './pages/audit.tsx';
import { MessageDetail } from './pages/message-detail.tsx';
import { DigestsPage } from './pages/digests.tsx';
import { ScheduledReportsPage } from './pages/scheduled-reports.tsx';
import { DomainsPage } from './pages/domains.tsx';
import { QueuePage } from './pages/queue.tsx';
import { AccountPage } from './pages/account.tsx';
import { MessageTestPage } from './pages/message-test.tsx';
import { can } from './lib/roles.ts';

export interface Me {
  readonly username: string;
  readonly role: Role;
}

/** The navigation; a page with `show` is listed only for the roles it admits (the API enforces the same). */
const PAGES: ReadonlyArray<readonly [string, string, ((role: Role) => boolean)?]> = [
  ['dashboard', 'Dashboard'],
  ['quarantine', 'Quarantine'],
  ['messages', 'Messages'],
  ['queue', 'Queue'],
  ['rules', 'Rules'],
  ['test', 'Test a message', can.testMessages],
  ['domains', 'Domains'],
  ['reports', 'Reports'],
  ['users', 'Users', can.manageUsers],
  ['tokens', 'Tokens'],
  ['digests', 'Digests', can.editRules],
  ['scheduled-reports', 'Scheduled reports', can.editRules],
  ['audit', 'Audit log'],
];

/** The shell: who is signed in, the navigation, the page the fragment names. */
export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const route = useRoute();
  // Narrow screens: the navigation folds behind a Menu button, and closes on every page change.
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [route.join('/')]);

  useEffect(() => {
    api<Me>('GET', '/auth/me').then(setMe, () => setMe(null));
    return onUnauthenticated(() => setMe(null));
  }, []);

  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={setMe} />;

  const signOut = async () => {
    await api('POST', '/auth/logout').catch(() => undefined);
    setMe(null);
    go('dashboard');
  };
  const page = route[0] ?? 'dashboard';
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Moat</span>
        <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="pages-nav" onClick={() => setMenuOpen(!menuOpen)}>Menu</button>
        <nav id="pages-nav" aria-label="Pages" class={menuOpen ? 'open' : undefined}>
          {PAGES.filter(([, , show]) => show === undefined || show(me.role)).map(([path, label]) => (
            <a href={`#/${path}`} aria-current={page === path ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
        <a class="who" data-testid="who" href="#/account" title="Your account: change your password" aria-current={page === 'account' ? 'page' : undefined}>
          {me.username} <span class={`role role-${me.role}`}>{me.role}</span>
        </a>
        <button type="button" class="link" onClick={signOut}>Sign out</button>
      </header>
      <main>{pageFor(page, route[1], route.slice(2), me)}</main>
    </div>
  );
}

function pageFor(page: string, arg: string | undefined, rest: string[], me: Me) {
  switch (page) {
    case 'dashboard':
      return <Dashboard me={me} />;
    case 'quarantine':
      return arg === undefined ? <QuarantineList me={me} /> : <QuarantineDetail key={arg} id={arg} me={me} />;
    case 'messages':
      return arg === undefined ? <MessagesPage /> : <MessageDetail key={arg} nodeId={arg} id={rest[0] ?? ''} me={me} />;
    case 'queue':
      return <QueuePage me={me} nodeId={arg} />;
    case 'rules':
      return <RulesPage me={me} />;
    case 'test':
      if (!can.testMessages(me.role)) return <p class="error" role="alert">Testing a message needs the operator or admin role.</p>;
      return <MessageTestPage key={`${arg}/${rest[0]}`} logRef={arg !== undefined && rest[0] !== undefined ? { nodeId: arg, id: rest[0] } : undefined} />;
    case 'domains':
      return <DomainsPage me={me} />;
    case 'reports':
      return <ReportsPage />;
    case 'users':
      return <UsersPage me={me} />;
    case 'tokens':
      return <TokensPage me={me} />;
    case 'audit':
      return <AuditPage />;
    case 'account':
      return <AccountPage me={me} />;
    case 'digests':
      return <DigestsPage />;
    case 'scheduled-reports':
      if (!can.editRules(me.role)) return <p class="error" role="alert">Scheduled reports need the admin role.</p>;
      return <ScheduledReportsPage />;
    default:
      return <p>No such page. <a href="#/dashboard">Dashboard</a></p>;
  }
}
