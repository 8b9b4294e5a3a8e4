export { ConfigError, loadConfigFile, validateDocument, parseYaml, parseYamlDocument, locateErrors, deepFreeze } from './load-config.ts';
export { formatFieldError, type Position, type PositionOf } from './yaml-positions.ts';
export { collectErrors, pointerToKey, type FieldError } from './schema-errors.ts';
export { describeSchema, keyTable, type KeyDoc } from './describe-schema.ts';
export { applyOverrides } from './overrides.ts';
export { RetiredKey } from './retired-key.ts';
