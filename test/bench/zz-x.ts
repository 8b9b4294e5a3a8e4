import { openDatabase } from '@moat/storage';
import { DATA_MIGRATION } from '../../apps/master/src/db/migration-002-data.ts';
import { CLUSTER_MIGRATION } from '../../apps/master/src/db/migration-003-cluster.ts';
import { mkdtempSync } from 'node:fs';
const mode = process.argv[2];
const db = openDatabase(mkdtempSync('/tmp/x-') + '/m.sqlite', [DATA_MIGRATION, CLUSTER_MIGRATION]);
db.pragma('cache_size = -524288');
if (mode === 'noidx') db.exec('DROP INDEX messages_received; DROP INDEX messages_sender; DROP INDEX messages_sender_domain;');
const cols = 21;
const tuple = `(${Array(cols).fill('?').join(',')})`;
const N = 100;
const many = db.prepare(`INSERT INTO messages (rid, node_id, id, received_at, client_ip, helo, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count,
    subject, message_id, size, action, score, reasons, rules_version, status, attempts, delivered) VALUES ${Array(N).fill(tuple).join(',')}`);
const one = db.prepare(`INSERT INTO messages (rid, node_id, id, received_at, client_ip, helo, mail_from, sender_domain, rcpt_to, first_rcpt, rcpt_count,
    subject, message_id, size, action, score, reasons, rules_version, status, attempts, delivered) VALUES ${tuple}`);
const row = (i: number) => [i + 1, 'node', 'B' + String(i).padStart(19, '0'), 1748000000000 + i * 10, '1.2.3.4', 'helo', `s${(i * 7919) % 50000}@d${i % 5000}.ex`, `d${i % 5000}.ex`, '["a@b"]', 'a@b', 1, 'subject text here #12345', '<x@y>', 12345, 'deliver', 1.5, '[]', 3, 'delivered', 1, '["a@b"]'];
let t = performance.now();
db.transaction(() => {
  if (mode === 'single') for (let i = 0; i < 200000; i++) one.run(row(i));
  else for (let i = 0; i < 200000; i += N) { const buf: unknown[] = []; for (let j = i; j < i + N; j++) buf.push(...row(j)); many.run(buf); }
})();
console.log(mode, 'µs/row', ((performance.now() - t) * 1000 / 200000).toFixed(2));
