export { ConfigError, loadConfigFile, validateDocument, parseYaml, deepFreeze } from './load-config.ts';
export { collectErrors, pointerToKey, type FieldError } from './schema-errors.ts';
