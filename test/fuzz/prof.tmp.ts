import { writeFileSync, readFileSync } from 'node:fs';
import { loadConfigFile } from '@moat/config';
import { MasterConfigSchema } from '@moat/master';
const c = JSON.parse(readFileSync('test/fuzz/corpus/config/found-3a8a0828b46a.json', 'utf8'));
writeFileSync('/tmp/x.yaml', c.input.text, 'latin1');
try { loadConfigFile(MasterConfigSchema, '/tmp/x.yaml'); } catch (e) { console.log(e); }
writeFileSync('/tmp/y.yaml', 'a: *x\n');
try { loadConfigFile(MasterConfigSchema, '/tmp/y.yaml'); } catch (e) { console.log(e); }
