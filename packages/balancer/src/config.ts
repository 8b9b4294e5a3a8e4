import { Type, type Static } from 'typebox';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, parseYaml, validateDocument } from '@moat/config';

/**
 * The `balancer:` section (embedded in the scanner config, or the whole file of
 * `moat balancer --config FILE`). Every field is described and has its default beside it;
 * unknown keys are errors. Times are milliseconds (the election needs sub-second timers).
 */

const Host = (description: string) => Type.String({ minLength: 1, maxLength: 253, description });
const Port = (description: string) => Type.Integer({ minimum: 1, maximum: 65535, description });

const Listen = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'The virtual address clients connect to (in tests a loopback address such as 127.0.0.100).' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 2500, description: 'TCP port of the virtual address; 0 picks a free one.' }),
  },
  { additionalProperties: false, default: {} },
);

export const UpstreamSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'Unique name of the scanner, used in logs and status.' }),
    host: Host('Address of the scanner\'s SMTP listener (it must accept PROXY v1 from us when proxyProtocol is v1).'),
    port: Port('Its SMTP port.'),
    weight: Type.Integer({ minimum: 1, maximum: 256, default: 1, description: 'Share of new connections (nginx smooth weighted round-robin).' }),
    backup: Type.Boolean({ default: false, description: 'Used only when no primary upstream is usable.' }),
    down: Type.Boolean({ default: false, description: 'Maintenance: no new connections; sessions already relayed finish.' }),
    maxFails: Type.Integer({ minimum: 0, default: 1, description: 'Failed attempts within failTimeoutMs that make the upstream unusable for failTimeoutMs (nginx max_fails); 0 disables the accounting.' }),
    failTimeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Window for counting failures, and how long the upstream is then skipped (nginx fail_timeout).' }),
    maxConns: Type.Integer({ minimum: 0, default: 0, description: 'Most concurrent connections to this upstream; 0 is unlimited.' }),
  },
  { additionalProperties: false },
);

const HealthCheck = Type.Object(
  {
    type: Type.Union([Type.Literal('smtp'), Type.Literal('tcp'), Type.Literal('none')], {
      default: 'none',
      description: 'smtp: 220 greeting, EHLO → 2xx, QUIT (HAProxy smtpchk order); tcp: the connect alone; none: passive health only.',
    }),
    intervalMs: Type.Integer({ minimum: 10, default: 5000, description: 'Time between two checks of one upstream.' }),
    rise: Type.Integer({ minimum: 1, default: 2, description: 'Consecutive successes that bring a down upstream back.' }),
    fall: Type.Integer({ minimum: 1, default: 3, description: 'Consecutive failures that mark an up upstream down.' }),
    timeoutMs: Type.Integer({ minimum: 10, default: 2000, description: 'Limit on one whole check dialogue.' }),
    ehloName: Type.String({ minLength: 1, maxLength: 253, default: 'moat-balancer.invalid', description: 'Name sent with EHLO by the smtp check.' }),
  },
  { additionalProperties: false, default: {} },
);

const Multicast = Type.Object(
  {
    group: Type.String({ default: '224.0.0.18', pattern: '^(22[4-9]|23[0-9])\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$', description: 'IPv4 multicast group the adverts go to (224.0.0.18 is VRRP\'s; 239.x.x.x is site-local).' }),
    port: Port('UDP port of the group (the same on every node).'),
    interface: Type.Optional(Host('IPv4 address of the interface to send and join on; default: bind.host. In tests 127.0.0.1 (loopback).')),
    ttl: Type.Integer({ minimum: 1, maximum: 255, default: 1, description: 'Multicast TTL; 1 keeps adverts on the local link.' }),
  },
  { additionalProperties: false, description: 'Also (or only) send adverts to a multicast group and accept them from any source on it (the HMAC authenticates them).' },
);

const Track = Type.Object(
  {
    upstream: Type.Optional(Type.String({ minLength: 1, description: 'Follow this upstream\'s active health check (typically this node\'s own scanner). Give either upstream or command.' })),
    command: Type.Optional(Type.String({ minLength: 1, description: 'Or run this shell command (/bin/sh) every intervalMs; exit 0 passes (keepalived vrrp_script), e.g. a gateway ping.' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'Name of a command check, in logs and status (required with command).' })),
    intervalMs: Type.Integer({ minimum: 100, default: 2000, description: 'Command checks: time between two runs.' }),
    timeoutMs: Type.Integer({ minimum: 50, default: 1000, description: 'Command checks: a run still going after this long is killed and fails.' }),
    rise: Type.Integer({ minimum: 1, default: 2, description: 'Command checks: consecutive passes that bring a failed check back.' }),
    fall: Type.Integer({ minimum: 1, default: 2, description: 'Command checks: consecutive failures that make it fail.' }),
    weight: Type.Integer({ minimum: -254, maximum: 0, default: 0, description: '0: while the check fails this node is in FAULT and gives up the address; negative: the priority is lowered by that much instead (keepalived track weight).' }),
  },
  { additionalProperties: false },
);

const Hooks = Type.Object(
  {
    master: Type.Optional(Type.String({ minLength: 1, description: 'Shell command run on becoming master, before the listener opens (production: ip addr add + arping, or a cloud API call).' })),
    backup: Type.Optional(Type.String({ minLength: 1, description: 'Shell command run on becoming backup, after the listener closes (e.g. ip addr del).' })),
    fault: Type.Optional(Type.String({ minLength: 1, description: 'Shell command run on entering FAULT, after the listener closes.' })),
    stop: Type.Optional(Type.String({ minLength: 1, description: 'Shell command run when the balancer stops (state init), after the listener closes; default: the backup hook, so a stopped holder does not keep the address.' })),
    timeoutMs: Type.Integer({ minimum: 100, default: 10_000, description: 'A hook still running after this long is killed (with its process group) and logged as failed.' }),
  },
  { additionalProperties: false, default: {}, description: 'Commands run by /bin/sh on state changes, one at a time in order (at start the node enters backup, so the backup hook also clears an address left by a crash); env: MOAT_HA_STATE, MOAT_HA_PREVIOUS_STATE, MOAT_HA_REASON, MOAT_HA_VIP, MOAT_HA_VIP_PORT, MOAT_HA_PRIORITY, MOAT_HA_VRID, MOAT_HA_NODE_ID.' },
);

const Peer = Type.Object({ host: Host('Peer node address.'), port: Port('Its election UDP port.') }, { additionalProperties: false });

export const ElectionSchema = Type.Object(
  {
    nodeId: Type.String({ minLength: 1, maxLength: 64, description: 'Unique name of this node; our own looped-back adverts are dropped by it.' }),
    vrid: Type.Integer({ minimum: 1, maximum: 255, default: 1, description: 'Virtual router id; must match on every node of the group.' }),
    priority: Type.Integer({ minimum: 1, maximum: 255, default: 100, description: '1..254; 255 means the address owner, which becomes master at once (RFC 5798).' }),
    preempt: Type.Boolean({ default: true, description: 'A higher-priority backup takes the address from a lower-priority master (RFC 5798 Preempt_Mode).' }),
    preemptDelayMs: Type.Integer({ minimum: 0, default: 0, description: 'After start, accept lower-priority masters for this long before preempting (keepalived preempt_delay).' }),
    startupDelayMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0, description: 'After start, stay backup and listen to adverts for at least this long before becoming master, even as the owner (255), so a restarting node hears the current holder before it may take the address (keepalived vrrp_startup_delay).' }),
    advertIntervalMs: Type.Integer({ minimum: 10, maximum: 40_950, default: 1000, description: 'Time between the master\'s adverts; same on every node. Carried in centiseconds.' }),
    bind: Type.Object(
      { host: Host('This node\'s own address (its primary address in VRRP terms).'), port: Port('UDP port of the election.') },
      { additionalProperties: false, description: 'UDP address of this node; its IP is the tie-break on equal priority (higher wins).' },
    ),
    peers: Type.Array(Peer, { default: [], description: 'UDP addresses of the other nodes (unicast); unicast adverts from any other source are dropped. Peers, multicast, or both.' }),
    multicast: Type.Optional(Multicast),
    track: Type.Array(Track, { default: [], description: 'Checks that lower this node\'s priority or put it in FAULT: an upstream\'s active check (needs healthCheck.type smtp or tcp) or a command.' }),
    hooks: Hooks,
    key: Type.String({ minLength: 16, description: 'Shared secret: every advert carries an HMAC-SHA256 under it.' }),
    replayWindowMs: Type.Integer({ minimum: 100, default: 30_000, description: 'Adverts whose timestamp is further than this from our clock are dropped (anti-replay after a restart).' }),
  },
  { additionalProperties: false, description: 'VRRP-style election of the virtual-address holder. Without it, this balancer always holds the address.' },
);

export const BalancerConfigSchema = Type.Object(
  {
    listen: Listen,
    mode: Type.Union([Type.Literal('active-active'), Type.Literal('active-passive')], {
      default: 'active-active',
      description: 'active-active: the holder spreads connections over every usable upstream by weight; active-passive: only localUpstream takes traffic, the others stand by (used only when it is unusable).',
    }),
    localUpstream: Type.Optional(Type.String({ minLength: 1, description: 'Name of the upstream that is this node\'s own scanner (required by active-passive; embedded in a scanner it defaults to node.name when an upstream has that name).' })),
    status: Type.Optional(Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address of the status endpoint (GET /status JSON, GET /metrics Prometheus).' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, description: 'Its TCP port; 0 picks a free one.' }),
        token: Type.Optional(Type.String({ minLength: 16, description: 'When set, requests need Authorization: Bearer <token>; required unless host is a loopback address.' })),
      },
      { additionalProperties: false, description: 'HTTP status and metrics endpoint of this balancer (read-only).' },
    )),
    proxyProtocol: Type.Union([Type.Literal('v1'), Type.Literal('off')], {
      default: 'v1',
      description: 'Send a PROXY protocol v1 line first, so each scanner sees the real client address (smtp-server accepts v1 only).',
    }),
    sourceAddress: Type.Optional(Type.String({ minLength: 1, description: 'Local address to connect to the scanners from, so they can trust PROXY lines from exactly this address (their smtp.trustedProxies) while other clients on the same host connect directly.' })),
    connectTimeoutMs: Type.Integer({ minimum: 1, default: 4000, description: 'Limit on the TCP connect to one upstream; then the next one is tried.' }),
    greetingTimeoutMs: Type.Integer({ minimum: 1, default: 10_000, description: 'Limit on the upstream\'s 220 greeting; then the next one is tried.' }),
    relay: Type.Union([Type.Literal('auto'), Type.Literal('handles'), Type.Literal('stream')], {
      default: 'auto',
      description: 'How connections are relayed (docs/balancer.md, "Relay paths"). auto: accept, connect and greeting gate on bare libuv TCP handles (Node internals, checked at start) and the bytes moved by the native relay (a C thread, built by `pnpm run build` when a C compiler is there) when every upstream is given by IP address; without the native relay, the bytes on the handles in JavaScript; with an upstream given by name, the greeting gate on streams and the relay on handles; streams when the internals are not in the expected shape (each fallback logged once with its reason). handles: as auto, without the native relay. stream: net.Socket streams throughout (public API only).',
    }),
    idleTimeoutMs: Type.Integer({ minimum: 1, default: 600_000, description: 'An idle relayed session is cut after this long (RFC 5321: at least 10 minutes).' }),
    upstreams: Type.Array(UpstreamSchema, { minItems: 1, description: 'The scanners behind the virtual address.' }),
    healthCheck: HealthCheck,
    election: Type.Optional(ElectionSchema),
  },
  { additionalProperties: false },
);

export type BalancerConfig = Static<typeof BalancerConfigSchema>;
export type UpstreamConfig = Static<typeof UpstreamSchema>;
export type ElectionConfig = Static<typeof ElectionSchema>;
export type HealthCheckConfig = BalancerConfig['healthCheck'];
export type TrackConfig = ElectionConfig['track'][number];
export type CommandTrackConfig = TrackConfig & { readonly command: string; readonly name: string };

/** A tracker's name: the upstream it follows, or the command check's name (validated: one is set). */
export function trackName(t: TrackConfig): string {
  return t.upstream ?? t.name ?? '';
}

export function isCommandTrack(t: TrackConfig): t is CommandTrackConfig {
  return t.command !== undefined && t.name !== undefined;
}

/** Defaults applied, validated, frozen; throws ConfigError naming each bad key. */
export function validateBalancerConfig(input: unknown, source = 'balancer'): BalancerConfig {
  const config = validateDocument(BalancerConfigSchema, input, source);
  const names = new Set<string>();
  for (const u of config.upstreams) {
    if (names.has(u.name)) throw new ConfigError(source, [{ key: 'upstreams', message: `duplicate name ${u.name}` }]);
    names.add(u.name);
  }
  const errors = crossChecks(config, names);
  if (errors.length > 0) throw new ConfigError(source, errors);
  return config;
}

/** `moat balancer --config FILE`: the whole YAML file is the balancer section. */
export function loadBalancerConfigFile(path: string): BalancerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '(file)', message: (err as Error).message }]);
  }
  return validateBalancerConfig(parseYaml(text, path), path);
}

function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1' || host === 'localhost';
}

/** Rules that span keys (the schema checks each key alone). */
function crossChecks(config: BalancerConfig, names: ReadonlySet<string>): Array<{ key: string; message: string }> {
  const errors: Array<{ key: string; message: string }> = [];
  if (config.localUpstream !== undefined && !names.has(config.localUpstream)) {
    errors.push({ key: 'localUpstream', message: `no upstream named ${config.localUpstream}` });
  }
  if (config.mode === 'active-passive' && config.localUpstream === undefined) {
    errors.push({ key: 'localUpstream', message: 'required when mode is active-passive' });
  }
  if (config.status && config.status.token === undefined && !isLoopback(config.status.host)) {
    errors.push({ key: 'status.token', message: `required when the status endpoint listens on ${config.status.host} (not loopback)` });
  }
  const e = config.election;
  if (e) {
    if (e.peers.length === 0 && !e.multicast) errors.push({ key: 'election.peers', message: 'give peers, multicast, or both' });
    // One UDP socket sends everything, so the peers are of bind.host's family; multicast is IPv4 only.
    const family = isIP(e.bind.host);
    e.peers.forEach((p, i) => {
      if (family !== 0 && isIP(p.host) !== 0 && isIP(p.host) !== family) {
        errors.push({ key: `election.peers.${i}.host`, message: `IPv${isIP(p.host)} peer but bind.host ${e.bind.host} is IPv${family}: use one family` });
      }
    });
    if (e.multicast && family === 6) errors.push({ key: 'election.multicast', message: 'multicast adverts are IPv4 only: use unicast peers with an IPv6 bind.host' });
    const trackNames = new Set<string>();
    e.track.forEach((t, i) => {
      const key = `election.track.${i}`;
      if ((t.upstream === undefined) === (t.command === undefined)) return errors.push({ key, message: 'give either upstream or command' });
      if (t.command !== undefined && t.name === undefined) return errors.push({ key: `${key}.name`, message: 'required with command' });
      if (t.upstream !== undefined && t.name !== undefined) return errors.push({ key: `${key}.name`, message: 'only for command checks (an upstream tracker is named by its upstream)' });
      const name = trackName(t);
      if (trackNames.has(name)) errors.push({ key, message: `tracker ${name} listed twice` });
      trackNames.add(name);
      if (t.upstream !== undefined && !names.has(t.upstream)) errors.push({ key: `${key}.upstream`, message: `no upstream named ${t.upstream}` });
      return undefined;
    });
    if (e.track.some((t) => t.upstream !== undefined) && config.healthCheck.type === 'none') {
      errors.push({ key: 'healthCheck.type', message: 'tracking an upstream needs active checks (smtp or tcp)' });
    }
  }
  return errors;
}
