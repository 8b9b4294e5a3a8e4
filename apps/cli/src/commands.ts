import type { CommandSpec, OptionSpec } from './args.ts';

/**
 * Every `moat` command and its options: parsed and documented (`moat --help`, `moat COMMAND
 * --help`) from this one table. Each command's body is its `case` in moat.ts.
 */

const CONFIG = { type: 'string', value: 'FILE', required: true, description: "the role's YAML config file" } as const satisfies OptionSpec;
const SET = {
  type: 'string',
  value: 'KEY=VALUE',
  multiple: true,
  description: 'override a config key for this run, e.g. --set smtp.listen.port=2525 --set dataDir=/srv/moat',
} as const satisfies OptionSpec;
const PRINT_CONFIG = { type: 'boolean', description: 'print the resolved config (secrets redacted) and exit' } as const satisfies OptionSpec;
/** Where an operator's command finds the master: another cluster's with a token, or the local one. */
const MASTER = { type: 'string', value: 'URL', description: "another cluster's master (with an API token in MOAT_TOKEN); default: the local cluster of 'pnpm start'" } as const satisfies OptionSpec;
const VAR = { type: 'string', value: 'DIR', description: "the local cluster's state folder, for its admin password (default var)" } as const satisfies OptionSpec;
const JSON_OUT = { type: 'boolean', description: 'print JSON (for scripts) instead of a table' } as const satisfies OptionSpec;
const API_NOTES = [
  'MOAT_TOKEN=TOKEN: an API token (POST /api/v1/tokens, or the console\'s Tokens page); with --master it is required.',
  "Without --master: the local cluster of 'pnpm start' (MOAT_TOKEN if set, else its admin password in var/master/).",
  'Exit status: 0 done, 1 the master refused or could not do it (its reason on stderr), 2 a usage error.',
];
const NODE_NAME = [{ name: 'NAME', description: "the scanner's node name (as 'moat status' lists it)" }] as const;

const ROLE_NOTES = [
  "MOAT_HEALTH_FILE=FILE: the running role writes there what 'moat healthcheck' probes.",
  'MOAT_PID_FILE=FILE: the running role writes its process id there (removed when it stops).',
];

export const COMMANDS = [
  {
    name: 'master',
    summary: 'run the master node (console, API, cluster link)',
    options: { config: CONFIG, set: SET, 'print-config': PRINT_CONFIG },
    notes: ROLE_NOTES,
  },
  {
    name: 'master reset-password',
    summary: 'set a new generated password for a console user and print it',
    options: { config: CONFIG, set: SET, user: { type: 'string', value: 'NAME', description: 'the user (default: the config\'s admin.username, "admin")' } },
  },
  {
    name: 'master join-token',
    summary: 'make a one-time join token for a scanner and print it (docs/operator-guide.md, "Join a scanner")',
    options: {
      config: CONFIG,
      set: SET,
      node: { type: 'string', value: 'NAME', required: true, description: "the scanner's node.name: the token admits only that name" },
      ttl: { type: 'string', value: 'TIME', description: 'how long the token is valid: seconds, or 90m, 2h, 7d (default 1h, a minute to a week)' },
      replace: { type: 'boolean', description: 'the name is in the cluster now: give it a new key (the old one is refused from then on)' },
    },
  },
  {
    name: 'master migrate',
    summary: "copy a SQLite master into PostgreSQL and verify every table's rows (docs/database.md, \"Moving a master from SQLite to PostgreSQL\")",
    options: {
      config: CONFIG,
      set: SET,
      to: { type: 'string', value: 'URL', required: true, description: 'the new, empty PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DB' },
    },
    notes: [
      'Stop the master first (its writes after the copy would be lost), and take a backup: moat backup master.',
      "The target is migrated to this release's schema, must hold no rows, and receives the copy in one transaction:",
      'each table\'s row count and checksum are compared before it commits, so a failure leaves it empty.',
      'Then set database.url in the config to that URL and start the master. Exit status: 0 copied and verified, 1 refused or failed (the table named).',
    ],
  },
  {
    name: 'scanner',
    summary: 'run a scanner node',
    options: { config: CONFIG, set: SET, 'print-config': PRINT_CONFIG },
    notes: ROLE_NOTES,
  },
  {
    name: 'balancer',
    summary: 'run a stand-alone balancer (virtual SMTP address + election)',
    options: { config: CONFIG, set: SET },
    notes: ROLE_NOTES,
  },
  {
    name: 'sink',
    summary: 'run a downstream sink that writes mail to files',
    options: {
      host: { type: 'string', value: 'HOST', description: 'address to listen on (default 127.0.0.1)' },
      port: { type: 'string', value: 'PORT', description: 'port to listen on (default 2600)' },
      dir: { type: 'string', value: 'DIR', description: 'folder for delivered mail (default var/delivered)' },
    },
  },
  {
    name: 'local',
    summary: "run the local cluster on loopback (what 'pnpm start' runs; docs/local-cluster.md)",
    options: {
      var: { type: 'string', value: 'DIR', description: 'folder for its state (default var)' },
      ha: { type: 'boolean', description: "two masters (8080, 8081) on a private PostgreSQL primary and synchronous standby under pg_auto_failover, state in DIR/ha/ (what 'pnpm start:ha' runs; docs/database.md)" },
    },
  },
  {
    name: 'learn',
    summary: 'teach the cluster spam and not-spam mail (docs/detection.md, "Learning")',
    options: {
      spam: { type: 'string', value: 'PATH', multiple: true, description: 'spam: an mbox, a Maildir, a message file or a folder of them (repeatable)' },
      ham: { type: 'string', value: 'PATH', multiple: true, description: 'not spam, likewise' },
      master: MASTER,
      var: VAR,
      wait: { type: 'string', value: 'SECONDS', description: 'most time to wait for every online scanner to apply it all (default 3600)' },
    },
    notes: ['Returns when every online scanner has applied every message; exit 1 if any failed or is still pending.'],
  },
  {
    name: 'status',
    summary: 'the cluster now: masters, and every node\'s state, rules version, queue, outbox, engines, who holds the virtual address',
    options: { master: MASTER, var: VAR, json: JSON_OUT },
    notes: [...API_NOTES, 'Any role may run it (an auditor token is enough).'],
  },
  {
    name: 'node drain',
    summary: 'take a scanner out of the balancers\' rotation: no new sessions, those open finish (the rules\' nodes.NAME.maintenance)',
    operands: NODE_NAME,
    options: { master: MASTER, var: VAR },
    notes: [...API_NOTES, 'Stores a new rules version (an admin\'s token).'],
  },
  {
    name: 'node undrain',
    summary: 'put a drained scanner back into rotation',
    operands: NODE_NAME,
    options: { master: MASTER, var: VAR },
    notes: [...API_NOTES, 'Stores a new rules version (an admin\'s token).'],
  },
  {
    name: 'node remove',
    summary: 'remove a stopped scanner from the cluster (its key is erased)',
    operands: NODE_NAME,
    options: { master: MASTER, var: VAR },
    notes: [...API_NOTES, 'Refused while the node is connected: drain it, stop it, then remove it. An admin\'s token.'],
  },
  {
    name: 'quarantine list',
    summary: 'search the quarantine of every node (held messages, newest first)',
    options: {
      sender: { type: 'string', value: 'TEXT', description: 'the sender\'s address contains TEXT' },
      recipient: { type: 'string', value: 'TEXT', description: 'a recipient\'s address contains TEXT' },
      subject: { type: 'string', value: 'TEXT', description: 'the subject contains TEXT (any case)' },
      node: { type: 'string', value: 'NAME', description: 'only messages held on this node' },
      status: { type: 'string', value: 'STATUS', description: 'held (default), released, deleted, expired or all' },
      limit: { type: 'string', value: 'N', description: 'at most N messages, 1 to 500 (default 50)' },
      master: MASTER,
      var: VAR,
      json: JSON_OUT,
    },
    notes: API_NOTES,
  },
  {
    name: 'quarantine release',
    summary: 'release a held message: its node relays it to its recipients',
    operands: [{ name: 'ID', description: "the message's id (as 'moat quarantine list' shows it)" }],
    options: {
      node: { type: 'string', value: 'NAME', description: 'the node that holds it: refused if the message is elsewhere' },
      master: MASTER,
      var: VAR,
    },
    notes: [...API_NOTES, 'An operator\'s or admin\'s token; an admin\'s release also teaches the message as not spam.'],
  },
  {
    name: 'healthcheck',
    summary: 'probe the role running here (exit 0 healthy, 1 not)',
    options: { file: { type: 'string', value: 'FILE', description: 'the health file the role writes (default: MOAT_HEALTH_FILE)' } },
  },
  {
    name: 'upgrade',
    summary: 'install a release artifact beside the running one, switch to it, restart, and roll back if it is not healthy',
    operands: [{ name: 'ARTIFACT', description: "a release artifact (moat-VERSION-PLATFORM.tar.gz, from 'pnpm release')" }],
    options: {
      checksum: { type: 'string', value: 'FILE', description: 'its sha256 file (default: ARTIFACT.sha256); a mismatch refuses the upgrade' },
      prefix: { type: 'string', value: 'DIR', description: 'the installation: DIR/releases/VERSION and DIR/current (default: the one this moat runs from)' },
      service: { type: 'string', value: 'UNIT', multiple: true, description: 'a systemd unit to restart (default: every moat-*.service in /etc/systemd/system)' },
      'restart-command': { type: 'string', value: 'CMD', description: 'restart with this shell command instead of systemctl (another supervisor)' },
      'health-file': { type: 'string', value: 'FILE', multiple: true, description: "a restarted role's MOAT_HEALTH_FILE (default: the one each unit sets)" },
      timeout: { type: 'string', value: 'SECONDS', description: 'how long each role has to come back healthy on the new release (default 120)' },
    },
    notes: [
      'Exit status: 0 upgraded (or already on that release); 1 refused with nothing changed (checksum, unpack,',
      'another platform, a release that does not run), or rolled back to the previous release; 2 a usage error.',
      'Rolling upgrade of a cluster: docs/operator-guide.md, "Upgrading".',
    ],
  },
  {
    name: 'backup',
    summary: "online backup of a node's database (+ a scanner's quarantine)",
    operands: [{ name: 'ROLE', description: 'the role whose config is given', choices: ['master', 'scanner'] }],
    options: { config: CONFIG, set: SET, out: { type: 'string', value: 'DIR', required: true, description: 'folder to write the backup to' } },
  },
] as const satisfies readonly CommandSpec[];

/** Shown at the end of `moat --help`. */
export const ROOT_NOTES = [
  'master, scanner, balancer and backup take any number of --set KEY=VALUE: a config key',
  'overridden for this run (e.g. --set smtp.listen.port=2525 --set dataDir=/srv/moat).',
  "MOAT_HEALTH_FILE=FILE: a running role writes there what 'moat healthcheck' probes.",
  'MOAT_PID_FILE=FILE: a running role writes its process id there (removed when it stops).',
];
