import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import SMTPPool from 'nodemailer/lib/smtp-pool';
import type { AttemptResult } from './outcome.ts';

export interface DownstreamSettings {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly requireTls: boolean;
  readonly rejectUnauthorized: boolean;
  /** Never STARTTLS (a route's `tls: none`). */
  readonly ignoreTls?: boolean;
  /** PEM of the CA the server's certificate must chain to (a route's `ca`). */
  readonly ca?: string;
  /** The server's name for TLS (SNI, certificate check) when `host` is an address we resolved; default `host`. */
  readonly servername?: string;
  readonly maxConnections: number;
  readonly timeoutMs: number;
  /** Our name in EHLO. */
  readonly hostname: string;
}

/** Sends one message to the downstream server and reports per recipient; never throws. */
export interface Downstream {
  /**
   * `open` gives the message's bytes as they go out; it is called when a pooled connection
   * takes the message (not at all if none can be made), and again if the pool has to send it
   * over another connection; the caller closes what it opened once the promise settles.
   * `queueId` names the attempt in nodemailer's own log lines.
   */
  send(envelope: { from: string; to: readonly string[] }, open: () => Readable, queueId: string): Promise<AttemptResult>;
  close(): void;
}

interface SmtpFailure extends Error {
  code?: string;
  /** The SMTP command that failed, or `API` for nodemailer's own checks before any command. */
  command?: string;
  responseCode?: number;
  response?: string;
  rejectedErrors?: SmtpFailure[];
  recipient?: string;
  rejected?: string[];
}

interface SentInfo {
  accepted?: unknown[];
  rejectedErrors?: SmtpFailure[];
}

/**
 * nodemailer's SMTP connection pool: connections are reused across messages (the speed of a
 * relay is mostly its connection reuse), with time-outs on connect, greeting and socket.
 *
 * The pool is used on its own, as a nodemailer transport is by its Mailer: the message goes
 * out as it is on disk, so nodemailer's mail composer (a MIME tree built for a raw message,
 * random bytes for a boundary it never writes, a stream pipeline with its AbortController) is
 * not needed — about 4% of the scanner's event loop with 10 KB messages. What the pool reads
 * of a message is the transport interface nodemailer documents for its transports: the
 * envelope, a Message-ID for its log lines and a fresh stream of the bytes
 * (test/e2e/scanner-relay.integration.test.ts covers delivery, refusals and reuse).
 */
export function createDownstream(s: DownstreamSettings): Downstream {
  const pool = new SMTPPool({
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.requireTls,
    ignoreTLS: s.ignoreTls ?? false,
    tls: { rejectUnauthorized: s.rejectUnauthorized, ...(s.ca ? { ca: s.ca } : {}), ...(s.servername ? { servername: s.servername } : isIP(s.host) ? {} : { servername: s.host }) },
    maxConnections: s.maxConnections,
    maxMessages: 1000,
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    name: s.hostname,
  });

  return {
    send(envelope, open, queueId) {
      const messageId = `<${queueId}@moat.relay>`;
      const mail = {
        data: {},
        message: {
          getEnvelope: () => ({ from: envelope.from, to: [...envelope.to] }),
          messageId: () => messageId,
          getHeader: (name: string) => (name.toLowerCase() === 'message-id' ? messageId : undefined),
          createReadStream: open,
        },
      };
      return new Promise<AttemptResult>((resolve) => {
        pool.send(mail as unknown as Parameters<SMTPPool['send']>[0], (err: Error | null, info?: SentInfo) => {
          if (!err) {
            const accepted = (info?.accepted ?? []).map(String);
            return resolve({ accepted, refused: (info?.rejectedErrors ?? []).map(toRefusal) });
          }
          const failure = err as SmtpFailure;
          if (failure.rejectedErrors?.length) return resolve({ accepted: [], refused: failure.rejectedErrors.map(toRefusal) });
          if (failure.code === 'EENVELOPE' && failure.command === 'API' && failure.responseCode === undefined) {
            // nodemailer refused the envelope itself, before talking to anyone (an address it
            // cannot use): every retry would fail alike, so it is permanent.
            const status = /sender/i.test(failure.message) ? '5.1.7' : '5.1.3';
            return resolve({ accepted: [], refused: envelope.to.map((address) => ({ address, code: 553, text: `${status} Address not usable by the relay's SMTP client: ${failure.message}` })) });
          }
          const text = failure.response ?? failure.message;
          if (failure.code === 'ETLS' || failure.command === 'STARTTLS' || (failure.command === 'CONN' && /TLS|certificate/i.test(failure.message))) {
            // TLS that is required and fails (not offered, refused, a certificate that does not
            // verify) is the server's or our setting's fault, never the recipient's: wait, do not bounce.
            return resolve({ accepted: [], refused: envelope.to.map((address) => ({ address, text: `4.7.5 TLS required but failed with ${s.host}:${s.port}: ${text}` })) });
          }
          resolve({ accepted: [], refused: envelope.to.map((address) => ({ address, code: failure.responseCode, text })) });
        });
      });
    },
    close: () => pool.close(),
  };
}

function toRefusal(e: SmtpFailure) {
  return { address: e.recipient ?? '', code: e.responseCode, text: e.response ?? e.message };
}
