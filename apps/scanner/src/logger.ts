/** The logger every Moat process uses (`@moat/config/logger`), kept here for the scanner's callers. */
export { createLogger, resolveLogFormat, type LogFormat, type LoggerOptions } from '@moat/config/logger';
