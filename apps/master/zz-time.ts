import Database from 'better-sqlite3';
import { buildMessageSearch } from './src/data/messages-repository.ts';
const db = new Database('/tmp/moat-master-bench-tRDNd4/master.sqlite', { readonly: true });
for (const q of [{ subject: 'zanzibar', from: 1747267200000, to: 1747353600000 }, { action: 'quarantine' }]) {
  const b = buildMessageSearch({ ...q, limit: 50 });
  const t = performance.now(); const n = db.prepare(b.sql).all(...b.params).length; console.log(JSON.stringify(q), n, (performance.now() - t).toFixed(0), 'ms');
}
