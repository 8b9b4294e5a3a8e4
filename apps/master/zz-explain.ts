import Database from 'better-sqlite3';
import { buildMessageSearch } from './src/data/messages-repository.ts';
import { messageQueries } from '../../test/bench/master-data-queries.ts';
const db = new Database('/tmp/moat-master-bench-tRDNd4/master.sqlite', { readonly: true });
const end = Date.UTC(2025, 5, 1);
const qs = messageQueries(42, { start: end - 30 * 86400000, end, nodes: ['1a2b3c4d5e6f7a01'] });
const seen = new Set<string>();
for (const { kind, q } of qs) { if (seen.has(kind)) continue; seen.add(kind); const b = buildMessageSearch({ ...q, limit: 50 }); console.log(kind, JSON.stringify(q), '\n   ', (db.prepare('EXPLAIN QUERY PLAN ' + b.sql).all(...b.params) as any[]).map((r) => r.detail).join(' | ')); }
