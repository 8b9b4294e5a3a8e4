import type { MessageDetail, MessageSummary } from '../../data/messages-repository.ts';
import type { QuarantineDetail, QuarantineEntry } from '../../data/quarantine-repository.ts';
import { iso, isoOrNull } from '../../http/schemas.ts';

/** Repository rows (epoch ms) → API objects (ISO 8601 times). */

export const messageSummaryOut = (m: MessageSummary) => ({ ...m, receivedAt: iso(m.receivedAt) });

export const messageDetailOut = (m: MessageDetail) => ({
  ...m,
  receivedAt: iso(m.receivedAt),
  delivery: { ...m.delivery, lastAttemptAt: isoOrNull(m.delivery.lastAttemptAt) },
  quarantine: m.quarantine && { ...m.quarantine, statusAt: isoOrNull(m.quarantine.statusAt) },
  retained: m.retained && { ...m.retained, expiredAt: isoOrNull(m.retained.expiredAt) },
  refusal: m.refusal && { ...m.refusal, firstAt: iso(m.refusal.firstAt), lastAt: iso(m.refusal.lastAt) },
});

export const quarantineEntryOut = (q: QuarantineEntry) => ({ ...q, createdAt: iso(q.createdAt), statusAt: isoOrNull(q.statusAt) });

/** The file name stays on the master: the API has no use for it, and it names a path on a node. */
export const quarantineDetailOut = ({ file: _file, ...q }: QuarantineDetail) => ({ ...q, createdAt: iso(q.createdAt), statusAt: isoOrNull(q.statusAt) });
