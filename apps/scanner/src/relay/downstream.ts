import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type { AttemptResult } from './outcome.ts';

export interface DownstreamSettings {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly requireTls: boolean;
  readonly rejectUnauthorized: boolean;
  readonly maxConnections: number;
  readonly timeoutMs: number;
  /** Our name in EHLO. */
  readonly hostname: string;
}

/** Sends one message to the downstream server and reports per recipient; never throws. */
export interface Downstream {
  /** `queueId` names the attempt for nodemailer (so it does not make up a Message-ID for a raw message it never uses). */
  send(envelope: { from: string; to: readonly string[] }, raw: Readable, queueId: string): Promise<AttemptResult>;
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

/**
 * nodemailer's pooled SMTP transport: connections are reused across messages (the speed of
 * a relay is mostly its connection reuse), with time-outs on connect, greeting and socket.
 */
export function createDownstream(s: DownstreamSettings): Downstream {
  const transport = nodemailer.createTransport({
    pool: true,
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.requireTls,
    tls: { rejectUnauthorized: s.rejectUnauthorized },
    maxConnections: s.maxConnections,
    maxMessages: 1000,
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    name: s.hostname,
    disableFileAccess: true,
    disableUrlAccess: true,
  });

  return {
    async send(envelope, raw, queueId) {
      try {
        // With `raw` the message goes out byte for byte; a messageId only spares nodemailer
        // generating one (random bytes per message) for a header it never writes.
        const info = await transport.sendMail({ envelope: { from: envelope.from, to: [...envelope.to] }, raw, messageId: `<${queueId}@moat.relay>` });
        const accepted = (info.accepted as string[]).map(String);
        const rejectedErrors = ((info as { rejectedErrors?: SmtpFailure[] }).rejectedErrors ?? []);
        return { accepted, refused: rejectedErrors.map(toRefusal) };
      } catch (err) {
        raw.destroy();
        const failure = err as SmtpFailure;
        if (failure.rejectedErrors?.length) return { accepted: [], refused: failure.rejectedErrors.map(toRefusal) };
        if (failure.code === 'EENVELOPE' && failure.command === 'API' && failure.responseCode === undefined) {
          // nodemailer refused the envelope itself, before talking to anyone (an address it cannot
          // parse: "No recipients defined"): every retry would fail alike, so it is permanent.
          const status = /sender/i.test(failure.message) ? '5.1.7' : '5.1.3';
          return { accepted: [], refused: envelope.to.map((address) => ({ address, code: 553, text: `${status} Address not usable by the relay's SMTP client: ${failure.message}` })) };
        }
        const text = failure.response ?? failure.message;
        return { accepted: [], refused: envelope.to.map((address) => ({ address, code: failure.responseCode, text })) };
      }
    },
    close: () => transport.close(),
  };
}

function toRefusal(e: SmtpFailure) {
  return { address: e.recipient ?? '', code: e.responseCode, text: e.response ?? e.message };
}
