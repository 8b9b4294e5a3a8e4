import { openDatabase } from '@moat/storage';
import { DATA_MIGRATION } from '/work/main/apps/master/src/db/migration-002-data.ts';
import { CLUSTER_MIGRATION } from '/work/main/apps/master/src/db/migration-003-cluster.ts';
import { createIngest } from '/work/main/apps/master/src/data/ingest.ts';
import { mailMaker, benchId } from '/work/main/test/bench/master-data-generate.ts';
import { mkdtempSync } from 'node:fs';
const dir = mkdtempSync('/tmp/prof-');
const db = openDatabase(dir + '/m.sqlite', [DATA_MIGRATION, CLUSTER_MIGRATION]);
if (process.argv[2] === 'normal') db.pragma('synchronous = NORMAL');
const ing = createIngest(db);
const make = mailMaker(1);
let seq = 0;
const t0 = performance.now();
for (let b = 0; b < 20; b++) {
  const evs = [];
  for (let i = 0; i < 1000; i++) { seq++; evs.push({ seq, type: 'message.logged', payload: make.message(benchId('X', seq), 1748000000000 + seq * 1000), createdAt: 0 }); }
  const t = performance.now();
  ing.ingestBatch('1a2b3c4d5e6f7a01', evs as any);
  if (b % 5 === 0) console.log('batch', (performance.now() - t).toFixed(1), 'ms');
}
console.log('events/s', Math.round(20000 / ((performance.now() - t0) / 1000)));
