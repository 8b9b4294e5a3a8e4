import { findBinary } from '@moat/engines';

/**
 * Whether a test of a real engine runs: skipped when its Debian package is missing, except
 * with MOAT_REQUIRE_ENGINES=1 (CI sets it), where a missing engine fails the test instead.
 */
export function engineSkip(binary: string, debianPackage: string): string | false {
  if (findBinary(binary)) return false;
  if (process.env['MOAT_REQUIRE_ENGINES'] === '1') return false; // the start fails and says what is missing
  return `${binary} is not installed (Debian package ${debianPackage}; .ci/run installs it and sets MOAT_REQUIRE_ENGINES=1)`;
}
