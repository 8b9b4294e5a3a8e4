import pino, { type Logger, type LevelWithSilent } from 'pino';

/**
 * JSON lines on stdout. Secrets never reach a log line: known secret keys are redacted
 * wherever they appear, and untrusted data is only ever logged under fixed keys.
 */
export function createLogger(level: LevelWithSilent, base: Record<string, unknown>): Logger {
  return pino({
    level,
    base,
    redact: { paths: ['password', '*.password', 'secret', '*.secret', 'credential', '*.credential', 'token', '*.token'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
