import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** An SMTP refusal that carries its reply: basic code, enhanced status code (RFC 3463), text. */
export interface SmtpReplyError extends Error {
  responseCode: number;
  enhancedCode: string;
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/** Build the error handed to smtp-server's callback; the text never carries CR/LF. */
export function smtpError(responseCode: number, enhancedCode: string, text: string): SmtpReplyError {
  const err = new Error(`${enhancedCode} ${text.replace(/[\r\n]+/g, ' ')}`) as SmtpReplyError;
  err.responseCode = responseCode;
  err.enhancedCode = enhancedCode;
  return err;
}

let installed = false;

/**
 * smtp-server derives the enhanced status code from the basic code alone (550 → 5.1.1), so a
 * policy refusal would read "550 5.1.1" instead of "550 5.7.1". Our replies already start with
 * their own enhanced code; for those, tell smtp-server not to add one (its `context === false`).
 */
export function useOwnEnhancedCodes(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as { send(code: number, data: unknown, context?: unknown): void };
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data: unknown, context?: unknown) {
    const own = typeof data === 'string' && ENHANCED.test(data);
    return original.call(this, code, data, own ? false : context);
  };
}
