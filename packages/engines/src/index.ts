export { findBinary, startDaemon, type Daemon } from './daemon.ts';
export { freePort, workDir, type WorkDir } from './workdir.ts';
export { startClamd, EICAR, systemSignaturesPresent, type Clamd, type ClamdOptions } from './clamd.ts';
export { startRspamd, type Rspamd, type RspamdOptions } from './rspamd.ts';
export { startSpamd, type Spamd, type SpamdOptions } from './spamd.ts';
export { startRedis, type Redis, type RedisOptions } from './redis.ts';
export { startDnsStub, stubAnswer, type DnsStub } from './dns-stub.ts';
export { startSlapd, type Slapd, type SlapdOptions } from './slapd.ts';
export { startPostgres, postgresBinDir, type Postgres, type PostgresOptions } from './postgres.ts';
