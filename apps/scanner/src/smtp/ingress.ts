import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import { removeDurably, SyncFailedError } from '@moat/storage';
import { checkClient, checkLocalPartRouting, checkRecipient, checkSender, greylistText, greylistTriplet, HarvestCounter, postmasterAddress, type CompiledRules, type EnvelopeDecision } from '@moat/rules';
import type { RecipientVerifier } from '../verify/verifier.ts';
import type { Greylister } from '../greylist/greylister.ts';
import type { ScannerConfig } from '../config.ts';
import { ConnectionLimiter } from './connection-limiter.ts';
import { isEnvelopeAddress } from './address-syntax.ts';
import { normalizeClientIp } from './client-address.ts';
import { confirmedHostname } from './client-hostname.ts';
import type { ResolveFn } from '../analyzers/dns-resolver.ts';
import type { StorageGuard } from '../store/storage-guard.ts';
import { smtpError, useOwnEnhancedCodes } from './reply.ts';
import { newMessageId } from '../store/ids.ts';
import { receiveToSpool } from '../store/spool.ts';
import type { Envelope, Reply } from '../pipeline/accept-message.ts';
import type { RulesSource } from '../rules-source/rules-source.ts';
import type { RefusalLog, RefusedTransaction } from './refusal-log.ts';
import type { NodeCounters } from '../metrics/node-counters.ts';

export interface IngressDeps {
  readonly config: ScannerConfig;
  readonly rules: RulesSource;
  readonly spoolDir: string;
  readonly log: Logger;
  readonly now: () => number;
  /** Decide and store one spooled message; resolves with the reply to send. */
  readonly accept: (env: Envelope, rules: CompiledRules, log: Logger) => Promise<Reply>;
  /** Consulted at RCPT TO when the rules turn greylisting on. */
  readonly greylist?: Greylister;
  /** Whether the node can store mail now; a node short of space greets with 421 4.3.1. */
  readonly storage?: StorageGuard;
  /** Where refused transactions go (the master's message log); none: they are only logged here. */
  readonly refusals?: RefusalLog;
  /** Recipient verification at RCPT TO (`recipientVerification` in the rules); absent: none. */
  readonly verifier?: RecipientVerifier;
  /** The DNS resolver for the client's name (`smtp.reverseDns`); absent: every client is unknown. */
  readonly resolve?: ResolveFn;
  /** Counts sessions and every 4xx/5xx reply handed to smtp-server (the heartbeat's `metrics`). */
  readonly counters?: Pick<NodeCounters, 'session' | 'refusal'>;
}

/** Refused recipients kept per transaction (a dictionary attack sends thousands); the wire entry keeps 1,000. */
const MAX_REFUSED_RCPTS = 1000;

/** A recipient refused in the current transaction, reported when the transaction ends. */
interface RefusedRcpt {
  readonly mailFrom: string;
  readonly rcpt: string;
  readonly reason: RefusedTransaction['reasons'][number];
  readonly reply: string;
}

/** What we keep per SMTP session beside smtp-server's own session object. */
interface SessionState {
  readonly ip: string;
  /** The client's forward-confirmed name, looked up once it is admitted (`smtp.reverseDns`); never rejects. */
  hostname: Promise<string | undefined>;
  readonly log: Logger;
  admitted: boolean;
  /** The rules snapshot of the current transaction, taken at MAIL FROM. */
  rules?: CompiledRules;
  /** Recipients refused in the current transaction: one refusal entry when it ends (next MAIL, DATA, close). */
  refusedRcpts: RefusedRcpt[];
}

/**
 * The SMTP front door: client checks at connect, envelope checks at MAIL/RCPT with the
 * transaction's rules snapshot, DATA streamed to a spool file, then the pipeline decides.
 * Every refusal is an error carrying its reply, handed to smtp-server's callback.
 */
export function createIngress(deps: IngressDeps): SMTPServer {
  useOwnEnhancedCodes();
  /** The callback, counting the refusal it carries: every reply of ours goes through one of these. */
  const counted = <A extends unknown[]>(stage: Parameters<NodeCounters['refusal']>[0], callback: (err?: Error | null, ...rest: A) => void) =>
    (err?: Error | null, ...rest: A): void => {
      const code = (err as { responseCode?: unknown } | null | undefined)?.responseCode;
      if (typeof code === 'number') deps.counters?.refusal(stage, code);
      callback(err, ...rest);
    };
  const { config, log } = deps;
  const smtp = config.smtp;
  const limiter = new ConnectionLimiter(
    { maxConcurrent: smtp.maxConnectionsPerIp, rateCount: smtp.connectionRate.count, rateWindowMs: smtp.connectionRate.windowSeconds * 1000 },
    deps.now,
  );
  const sessions = new Map<string, SessionState>();
  /** Unknown recipients per client address (directory harvesting, `recipientVerification.harvest`). */
  const harvest = new HarvestCounter();

  const server = new SMTPServer({
    name: smtp.hostname,
    banner: 'Moat ESMTP',
    size: deps.rules.current().rules.limits.maxMessageBytes,
    rejectOversized: true,
    hideENHANCEDSTATUSCODES: false,
    authOptional: true,
    disabledCommands: smtp.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(smtp.tls ? { key: readFileSync(smtp.tls.key), cert: readFileSync(smtp.tls.cert) } : {}),
    useProxy: smtp.trustedProxies.length > 0 ? [...smtp.trustedProxies] : false,
    disableReverseLookup: true,
    maxClients: smtp.maxClients,
    socketTimeout: smtp.socketTimeoutSeconds * 1000,
    closeTimeout: 30_000,
    logger: false,

    onConnect(session, connected) {
      deps.counters?.session();
      const callback = counted('connect', connected);
      const ip = normalizeClientIp(session.remoteAddress);
      const state: SessionState = { ip, hostname: Promise.resolve(undefined), log: log.child({ sid: session.id, ip }), admitted: false, refusedRcpts: [] };
      sessions.set(session.id, state);
      const low = deps.storage?.lowSpace();
      if (low !== undefined) {
        state.log.info({ event: 'SMTP_STORAGE_LOW', reason: low }, 'client sent elsewhere: short of disk space');
        return callback(smtpError(421, '4.3.1', 'Insufficient system storage here, try another server or later'));
      }
      const admission = limiter.admit(ip);
      if (!admission.ok) {
        state.log.warn({ event: 'SMTP_LIMIT', why: admission.why }, 'connection refused by limit');
        const text = admission.why === 'rate' ? 'Too many connections from your address, slow down' : 'Too many concurrent connections from your address';
        const reason = { kind: 'limit', rule: admission.why === 'rate' ? 'smtp.connectionRate' : 'smtp.maxConnectionsPerIp', match: ip };
        return void report(state, session, 'connect', '', [], [reason], `421 4.7.0 ${text}`).then(() => callback(smtpError(421, '4.7.0', text)));
      }
      state.admitted = true;
      const decision = checkClient(deps.rules.current(), ip);
      if (!decision.ok) return refuse(state, session, decision, 'connect', '', callback);
      // Looked up while the client talks: the answer is usually in before DATA ends.
      if (deps.resolve && smtp.reverseDns) state.hostname = confirmedHostname(ip, deps.resolve);
      state.log.debug({ event: 'SMTP_CONNECT' }, 'client connected');
      callback();
    },

    onClose(session) {
      const state = sessions.get(session.id);
      sessions.delete(session.id);
      if (state) reportRefusedRcpts(state, session);
      if (state?.admitted) limiter.release(state.ip);
    },

    onMailFrom(address: SMTPServerAddress, session, answer) {
      const callback = counted('mail', answer);
      const state = sessions.get(session.id);
      if (!state) return callback(smtpError(421, '4.3.0', 'Session state lost, try again'));
      reportRefusedRcpts(state, session); // a new transaction: the last one has ended
      if (!isEnvelopeAddress(address.address, 'sender')) return callback(smtpError(501, '5.1.7', 'Bad sender address syntax'));
      state.rules = deps.rules.current();
      const decision = checkSender(state.rules, state.ip, address.address);
      if (!decision.ok) return refuse(state, session, decision, 'mail', address.address, callback);
      callback();
    },

    onRcptTo(address: SMTPServerAddress, session, done) {
      // Always answered asynchronously (a microtask): smtp-server 3.21.6 loses the rest of a
      // pipelined session when a whole next transaction (MAIL, RCPT, DATA and its `.`) runs
      // synchronously inside its parser's continue() after our late DATA reply: continue()
      // clears the continuation only after calling it, erasing the one the next `.` just set,
      // so what followed (`QUIT`) was never read and the session hung (found by the SMTP
      // fuzzer; test in scanner-transport.integration.test.ts). A transaction needs a RCPT, so
      // an asynchronous RCPT reply breaks that chain.
      const callback = counted('rcpt', (err?: Error | null) => queueMicrotask(() => done(err)));
      const state = sessions.get(session.id);
      const rules = state?.rules;
      if (!state || !rules) return callback(smtpError(503, '5.5.1', 'Need MAIL command first'));
      if (!isEnvelopeAddress(address.address, 'recipient')) return callback(smtpError(501, '5.1.3', 'Bad recipient address syntax'));
      if (session.envelope.rcptTo.length >= rules.rules.limits.maxRecipients) {
        return callback(smtpError(452, '4.5.3', `Too many recipients, at most ${rules.rules.limits.maxRecipients} per message`));
      }
      const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      // RFC 5321 §4.1.1.3: `RCPT TO:<Postmaster>` without a domain must be accepted; it stands for
      // postmaster at our first accepted domain (rewritten: smtp-server keeps this object as the recipient).
      if (address.address.toLowerCase() === 'postmaster') address.address = postmasterAddress(rules) ?? address.address;
      const v = rules.rules.recipientVerification;
      const windowMs = v.harvest.windowSeconds * 1000;
      if (v.harvest.maxUnknown > 0 && v.harvest.action === 'refuse' && harvest.count(state.ip, deps.now(), windowMs) >= v.harvest.maxUnknown) {
        const reason = { kind: 'limit', rule: 'recipientVerification.harvest', match: state.ip };
        rememberRefusedRcpt(state, { mailFrom, rcpt: address.address, reason, reply: '450 4.7.1 Too many unknown recipients from your address, try again later' });
        return callback(smtpError(450, '4.7.1', 'Too many unknown recipients from your address, try again later'));
      }
      const decision = checkRecipient(rules, state.ip, mailFrom, address.address);
      if (!decision.ok) return refuse(state, session, decision, 'rcpt', mailFrom, callback, address.address);
      const routing = checkLocalPartRouting(v, address.address);
      if (!routing.ok) return refuse(state, session, routing, 'rcpt', mailFrom, callback, address.address);
      verify(state, rules, address.address).then(
        async (refusal) => {
          if (refusal) return refusal();
          if (decision.allowed || !rules.rules.greylisting.enabled || !deps.greylist) return callback();
          const deferral = await greylist(deps.greylist, state, rules, mailFrom, address.address);
          if (!deferral) return callback();
          rememberRefusedRcpt(state, { mailFrom, rcpt: address.address, reason: deferral.reason, reply: `451 4.7.1 ${deferral.text}` });
          callback(smtpError(451, '4.7.1', deferral.text));
        },
      ).catch((err: unknown) => {
        state.log.error({ event: 'RCPT_CHECK_ERROR', err }, 'recipient check failed');
        callback(smtpError(451, '4.3.0', 'Local error, try again later'));
      });

      /** Undefined: go on; else a function that sends the refusal. */
      async function verify(st: SessionState, r: CompiledRules, rcpt: string): Promise<(() => void) | undefined> {
        if (!deps.verifier) return undefined;
        const { decision: refusal, lookup } = await deps.verifier.check(r, rcpt);
        if (!refusal) return undefined;
        if (refusal.code !== 550) return () => refuse(st, session, refusal, 'rcpt', mailFrom, callback, rcpt);
        const unknown = harvest.record(st.ip, deps.now(), windowMs);
        st.log.info({ event: 'RCPT_UNKNOWN', rule: refusal.reason.rule, cached: lookup?.cached, unknownFromIp: unknown }, 'unknown recipient');
        if (v.harvest.maxUnknown > 0 && unknown > v.harvest.maxUnknown && v.harvest.action === 'disconnect') {
          st.log.warn({ event: 'RCPT_HARVEST', unknown, windowSeconds: v.harvest.windowSeconds }, 'too many unknown recipients from this address: closing the session');
          const reason = { kind: 'limit', rule: 'recipientVerification.harvest', match: st.ip };
          rememberRefusedRcpt(st, { mailFrom, rcpt, reason, reply: '421 4.7.0 Too many unknown recipients, closing connection' });
          return () => callback(smtpError(421, '4.7.0', 'Too many unknown recipients, closing connection'));
        }
        if (v.harvest.maxUnknown > 0 && unknown === v.harvest.maxUnknown) st.log.warn({ event: 'RCPT_HARVEST', unknown, windowSeconds: v.harvest.windowSeconds }, 'unknown-recipient cap reached for this address');
        return () => refuse(st, session, refusal, 'rcpt', mailFrom, callback, rcpt);
      }
    },

    onData(stream: Readable, session, answer) {
      const callback = counted('data', answer);
      const state = sessions.get(session.id);
      const rules = state?.rules;
      if (!state || !rules) {
        stream.resume();
        return stream.once('end', () => callback(smtpError(451, '4.3.0', 'Session state lost, try again')));
      }
      reportRefusedRcpts(state, session); // the transaction goes on with the recipients that were accepted
      handleData(stream, session, state, rules).then(
        (reply) => callback(reply.ok ? null : smtpError(reply.code, reply.enhanced, reply.text), reply.ok ? reply.text : undefined),
        (err: unknown) => {
          deps.storage?.noteWriteError(err);
          state.log.error({ event: 'SMTP_DATA_ERROR', err }, 'message could not be stored');
          callback(smtpError(451, '4.3.0', 'Local error while storing the message, try again later'));
        },
      );
    },
  });

  async function handleData(stream: Readable & { sizeExceeded?: boolean }, session: SMTPServerSession, state: SessionState, rules: CompiledRules): Promise<Reply> {
    const receivedAt = deps.now();
    const id = newMessageId(receivedAt);
    const msgLog = state.log.child({ queueId: id });
    const spoolFile = join(deps.spoolDir, `${id}.eml`);
    const dataTimer = setTimeout(() => {
      msgLog.warn({ event: 'SMTP_DATA_TIMEOUT' }, 'DATA took too long, closing the connection');
      stream.destroy(new Error('DATA time-out'));
      closeConnection(server, session.id, `4.4.2 DATA not completed within ${smtp.dataTimeoutSeconds} s, closing connection`);
    }, smtp.dataTimeoutSeconds * 1000);
    try {
      // The transaction's limit (its rules snapshot), or the one smtp-server enforces now if a
      // rules change lowered it since MAIL FROM: past it nothing more is written (store/spool.ts).
      const maxBytes = Math.min(rules.rules.limits.maxMessageBytes, Number((server.options as { size?: number }).size) || Infinity);
      const { size, oversized } = await receiveToSpool(stream, spoolFile, { maxBytes });
      // The time-out bounds the transfer only: the client has sent everything, and closing
      // the connection while we decide would lose the reply to a message we may queue.
      clearTimeout(dataTimer);
      if (oversized || stream.sizeExceeded) {
        if (!oversized) await removeDurably(spoolFile);
        msgLog.info({ event: 'SMTP_OVERSIZE', size, maxBytes }, 'message over the size limit: not stored');
        // Past smtp-server's own limit it answers 552 5.3.4 itself (rejectOversized) and this
        // error is not sent; past only the snapshot's, this is the reply.
        return { ok: false, code: 552, enhanced: '5.3.4', text: `Message size exceeds the limit of ${maxBytes} bytes` };
      }
      // A DNS answer still missing is waited for (the resolver's time-outs bound it).
      const clientHostname = await state.hostname;
      const env: Envelope = {
        id,
        receivedAt,
        clientIp: state.ip,
        ...(clientHostname ? { clientHostname } : {}),
        helo: session.hostNameAppearsAs ?? '',
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        rcptTo: session.envelope.rcptTo.map((r) => r.address),
        spoolFile,
        size,
        tls: session.secure,
      };
      msgLog.info({ event: 'SMTP_RECEIVED', size, from: env.mailFrom, rcpt: env.rcptTo.length, host: clientHostname ?? 'unknown' }, 'message received');
      return await deps.accept(env, rules, msgLog);
    } catch (err) {
      // Committed but perhaps not on disk: the row names this file, which must stay (the
      // client gets a 4xx and may send again: a duplicate at worst, never a loss).
      if (!(err instanceof SyncFailedError)) await removeDurably(spoolFile).catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(dataTimer);
    }
  }

  /** Undefined to accept the recipient, or the text and reason of the 451 4.7.1 deferral. */
  async function greylist(g: Greylister, state: SessionState, rules: CompiledRules, mailFrom: string, rcpt: string): Promise<{ text: string; reason: RefusedRcpt['reason'] } | undefined> {
    const settings = rules.rules.greylisting;
    const triplet = greylistTriplet(settings, state.ip, mailFrom, rcpt);
    if (!triplet) return undefined;
    const outcome = await g.check(settings, triplet);
    if (outcome.pass) {
      state.log.debug({ event: 'GREYLIST_PASS', source: outcome.source }, 'greylist passed');
      return undefined;
    }
    state.log.info({ event: 'GREYLIST_DEFER', source: outcome.source, network: triplet.network, retryInSeconds: outcome.retryInSeconds }, 'recipient greylisted');
    return {
      text: greylistText(rcpt, outcome.retryInSeconds),
      reason: { kind: 'greylist', rule: 'greylisting', match: `${triplet.network}, retry in ${outcome.retryInSeconds} s` },
    };
  }

  /**
   * Refuse at connect or MAIL FROM (the transaction ends here: its entry is committed before the
   * reply, like a message's) or at RCPT TO (the recipient is remembered; the transaction's one
   * entry is written when it ends).
   */
  function refuse(
    state: SessionState,
    session: SMTPServerSession,
    d: Extract<EnvelopeDecision, { ok: false }>,
    stage: RefusedTransaction['stage'],
    mailFrom: string,
    callback: (err?: Error | null) => void,
    rcpt?: string,
  ): void {
    state.log.info({ event: 'SMTP_REFUSED', stage, code: d.code, rule: d.reason.rule, kind: d.reason.kind }, d.text);
    const reply = `${d.code} ${d.enhanced} ${d.text}`;
    if (rcpt !== undefined) {
      rememberRefusedRcpt(state, { mailFrom, rcpt, reason: d.reason, reply });
      return callback(smtpError(d.code, d.enhanced, d.text));
    }
    void report(state, session, stage, mailFrom, [], [d.reason], reply).then(() => callback(smtpError(d.code, d.enhanced, d.text)));
  }

  function rememberRefusedRcpt(state: SessionState, r: RefusedRcpt): void {
    if (state.refusedRcpts.length < MAX_REFUSED_RCPTS) state.refusedRcpts.push(r);
  }

  /** The refused recipients of the transaction that just ended, as one refusal entry. */
  function reportRefusedRcpts(state: SessionState, session: SMTPServerSession): void {
    const refused = state.refusedRcpts;
    if (refused.length === 0) return;
    state.refusedRcpts = [];
    // smtp-server has reset the envelope by now after RSET: the sender was kept with each recipient.
    const mailFrom = refused[0]!.mailFrom;
    const reasons = [...new Map(refused.map((r) => [`${r.reason.kind}\0${r.reason.rule}\0${r.reason.match}`, r.reason])).values()];
    void report(state, session, 'rcpt', mailFrom, [...new Set(refused.map((r) => r.rcpt))], reasons, refused.at(-1)!.reply);
  }

  function report(state: SessionState, session: SMTPServerSession, stage: RefusedTransaction['stage'], mailFrom: string, rcptTo: string[], reasons: RefusedTransaction['reasons'], reply: string): Promise<void> {
    if (!deps.refusals) return Promise.resolve();
    const rulesVersion = (state.rules ?? deps.rules.current()).version;
    // Before HELO smtp-server's hostNameAppearsAs is not a string yet.
    const helo = typeof session.hostNameAppearsAs === 'string' ? session.hostNameAppearsAs : '';
    return deps.refusals.refused({ ip: state.ip, helo, stage, mailFrom, rcptTo, reasons, reply, rulesVersion });
  }

  deps.rules.onChange((rules) => {
    // New sessions see the new limit in EHLO; transactions in flight keep their snapshot.
    (server.options as { size?: number }).size = rules.rules.limits.maxMessageBytes;
  });

  return server;
}

/**
 * Answer 421 and close (smtp-server's send closes the connection after a 421). smtp-server
 * keeps its connections in `server.connections`; the session id is the connection id.
 */
function closeConnection(server: SMTPServer, sessionId: string, text: string): void {
  const connections = (server as unknown as { connections: Set<{ id: string; send(code: number, data: string): void }> }).connections;
  for (const conn of connections) if (conn.id === sessionId) conn.send(421, text);
}
