import { PROTOCOL_VERSION } from './frames.ts';

/**
 * Protocol version negotiation, so a cluster can be upgraded one node at a time: the two ends
 * may differ by one version. The scanner offers a version in its hello (its own, or the
 * master's when the master is one behind); the master accepts its own version or the one
 * before, and its welcome names the version both then speak. A frame type added in version N
 * is only sent to a peer whose session speaks N or later.
 */

/**
 * The oldest version still spoken. Version 2 changed the handshake (node key pairs and join
 * tokens instead of a shared join secret): a version-1 node cannot prove itself to a version-2
 * master at all, so it is refused by version, with a message that says to upgrade it.
 */
export const OLDEST_PROTOCOL_VERSION = 2;

export type Negotiation =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly message: string };

/** Master side: may a scanner offering `offered` join a master speaking `ours`, and in which version? */
export function acceptProtocol(offered: number, ours: number = PROTOCOL_VERSION): Negotiation {
  const oldest = Math.max(OLDEST_PROTOCOL_VERSION, ours - 1);
  if (offered <= ours && offered >= oldest) return { ok: true, version: offered };
  const accepted = oldest === ours ? `${ours}` : `${oldest} or ${ours}`;
  const advice = offered > ours ? 'upgrade the master first' : 'upgrade the scanner';
  return { ok: false, message: `scanner speaks protocol ${offered}, master speaks ${ours} and accepts ${accepted}: ${advice}` };
}

/** Scanner side: the version to offer in the hello, given the master's (from its challenge). */
export function offerProtocol(masterVersion: number, ours: number = PROTOCOL_VERSION): number {
  // A master one version behind gets its own version; a newer master decides (it accepts ours
  // when it is one ahead); anything further apart is refused by the master with both versions named.
  return masterVersion === ours - 1 && masterVersion >= OLDEST_PROTOCOL_VERSION ? masterVersion : ours;
}
