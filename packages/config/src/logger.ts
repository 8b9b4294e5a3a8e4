import pino, { type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { Type } from 'typebox';

/** `log.format` in the master's and the scanner's config. */
export const LogFormatSchema = Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
  default: 'auto',
  description: 'json: one JSON object per line (for collectors); pretty: one readable line per event; auto: pretty on a terminal, JSON otherwise, unless MOAT_LOG_FORMAT says json or pretty.',
});
export type LogFormat = 'auto' | 'json' | 'pretty';

/** What `auto` means here: MOAT_LOG_FORMAT if it names a format, else pretty on a terminal and JSON when piped or under a service manager. */
export function resolveLogFormat(format: LogFormat = 'auto', env: NodeJS.ProcessEnv = process.env, tty = process.stdout.isTTY === true): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  const asked = env.MOAT_LOG_FORMAT;
  if (asked === 'json' || asked === 'pretty') return asked;
  return tty ? 'pretty' : 'json';
}

export interface LoggerOptions {
  readonly format?: LogFormat;
  /** Where the lines go (stdout by default); tests capture them. */
  readonly destination?: DestinationStream;
}

/**
 * The logger of every Moat process: pino, secrets redacted wherever they appear, untrusted data
 * only under fixed keys. JSON lines, or on a terminal one readable line per event (pino-pretty,
 * written synchronously so the processes of `moat local` do not interleave within a line).
 */
export function createLogger(level: LevelWithSilent, base: Record<string, unknown>, options: LoggerOptions = {}): Logger {
  const opts = {
    level,
    base,
    redact: { paths: ['password', '*.password', 'secret', '*.secret', 'credential', '*.credential', 'token', '*.token'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (resolveLogFormat(options.format) === 'json') return options.destination ? pino(opts, options.destination) : pino(opts);
  return pino(opts, pretty({
    sync: true,
    colorize: options.destination === undefined && process.stdout.isTTY === true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,role,node,event',
    messageFormat: '{role}{if node} {node}{end}{if event} {event}{end}{if msg} {msg}{end}',
    ...(options.destination ? { destination: options.destination } : {}),
  }));
}
