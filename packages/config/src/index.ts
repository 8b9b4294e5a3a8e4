export { ConfigError, loadConfigFile, validateDocument, parseYaml, deepFreeze } from './load-config.ts';
export { collectErrors, pointerToKey, type FieldError } from './schema-errors.ts';
export { describeSchema, keyTable, type KeyDoc } from './describe-schema.ts';
export { applyOverrides } from './overrides.ts';
