export { startScanner, type Scanner, type ScannerOptions } from './scanner.ts';
export { ScannerConfigSchema, type ScannerConfig } from './config.ts';
export { createLogger } from './logger.ts';
