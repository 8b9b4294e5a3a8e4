/** Checks shared by the fuzz targets: what a clear rejection looks like. */
import assert from 'node:assert/strict';
import { ConfigError } from '@moat/config';

/** A refused config or rules document: a ConfigError, each error naming a key and saying why. */
export function assertConfigError(err: unknown, source: string): void {
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
  assert.equal(err.source, source);
  assert.ok(err.errors.length > 0, 'a ConfigError lists at least one error');
  for (const e of err.errors) {
    assert.equal(typeof e.key, 'string');
    assert.ok(e.key.length > 0, `error without a key: ${e.message}`);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0, `error without a message at ${e.key}`);
  }
}
