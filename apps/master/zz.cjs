const D=require('better-sqlite3');require('fs').rmSync('/tmp/zf.sqlite',{force:true});const db=new D('/tmp/zf.sqlite');db.pragma('journal_mode=WAL');db.pragma('cache_size=-524288');
db.exec("create virtual table f using fts5(subject, tokenize='trigram', content='', contentless_delete=1)");
const ins=db.prepare('insert into f(rowid,subject) values (?,?)');
const W=['invoice','payment','meeting','report','offer','urgent','winner','prize','discount','verify'];
let t=performance.now();db.transaction(()=>{for(let i=0;i<200000;i++)ins.run(i+1,`${W[i%10]} ${W[(i*7)%10]} ${W[(i*3)%10]} #${(i*7919)%1000000}`)})();console.log('fts µs/row',((performance.now()-t)*1000/200000).toFixed(2));
t=performance.now();console.log(db.prepare("select count(*) from f where f match '\"prize\"'").pluck().get(), ((performance.now()-t)).toFixed(1),'ms count common');
t=performance.now();console.log(db.prepare("select rowid from f where f match '\"#12345\"'").all().length, ((performance.now()-t)).toFixed(1),'ms rare');
t=performance.now();console.log(db.prepare("select rowid from f where f match '\"prize\"' limit 2000").all().length, ((performance.now()-t)).toFixed(1),'ms capped');
