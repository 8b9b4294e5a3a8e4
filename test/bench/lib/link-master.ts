/**
 * A real Moat master in its own process for the master link benchmark: startMaster() with the
 * master's own logger (JSON lines on stdout at info, which the benchmark sends to a file and
 * reads the RULES_ACKED times from) and an admin password, on SQLite in its data folder or on
 * PostgreSQL (`database.url`; masters sharing one database have their own `node.name`);
 * `joinTokens` makes the simulated nodes' join tokens. Started with an IPC channel
 * (lib/ipc-rpc.ts): `start`, `joinTokens`, `cpu`, `verify` (read-only counts in its database), `stop`.
 */
import { cpuUsage } from 'node:process';
import { sql } from 'kysely';
import { validateDocument } from '@moat/config';
import { MasterConfigSchema, startMaster, type Master } from '@moat/master';
import { validateRules } from '@moat/rules';
import { serveRpc } from './ipc-rpc.ts';

let master: Master | undefined;

serveRpc({
  async start(a: { dataDir: string; heartbeatSeconds: number; adminPassword: string; seedRules: unknown; databaseUrl?: string; nodeName: string }) {
    const config = validateDocument(
      MasterConfigSchema,
      {
        node: { name: a.nodeName },
        dataDir: a.dataDir,
        ...(a.databaseUrl ? { database: { url: a.databaseUrl } } : {}),
        http: { host: '127.0.0.1', port: 0 },
        cluster: { heartbeatSeconds: a.heartbeatSeconds },
        admin: { username: 'admin', password: a.adminPassword },
        log: { level: 'info' },
      },
      'bench master',
    );
    master = await startMaster(config, { seedRules: validateRules(a.seedRules) });
    return { port: master.port, url: master.url, pid: process.pid };
  },

  /** One-time join tokens for the simulated nodes (replace: a name may join again after a disconnect). */
  async joinTokens(a: { names: string[] }) {
    if (!master) throw new Error('master not started');
    const hub = master.hub;
    return Object.fromEntries(await Promise.all(a.names.map(async (name) => {
      const made = await hub.joinTokens.mint(name, { ttlSeconds: 3600, replace: true, createdBy: 'bench', now: Date.now() });
      if (!made.ok) throw new Error(made.message);
      return [name, made.minted.token] as const;
    })));
  },

  cpu: () => {
    const c = cpuUsage();
    return (c.user + c.system) / 1000;
  },

  /** What the master stored: for the exactly-once check after the ingest run (either engine). */
  async verify() {
    if (!master) throw new Error('master not started');
    const db = master.database.db;
    const one = async (query: string): Promise<number> => Number((await sql.raw<{ n: number }>(query).execute(db)).rows[0]!.n);
    return {
      messages: await one('SELECT count(*) AS n FROM messages'),
      distinctMessages: await one('SELECT count(*) AS n FROM (SELECT DISTINCT node_id, id FROM messages) AS d'),
      events: await one('SELECT count(*) AS n FROM events'),
      rejected: await one('SELECT count(*) AS n FROM events WHERE rejected IS NOT NULL'),
      nodes: (await sql.raw<{ name: string; lastAckedSeq: number; events: number; messages: number }>(
        'SELECT name, last_acked_seq AS "lastAckedSeq", (SELECT count(*) FROM events e WHERE e.node_id = nodes.id) AS events, ' +
          '(SELECT count(*) FROM messages m WHERE m.node_id = nodes.id) AS messages FROM nodes ORDER BY name',
      ).execute(db)).rows.map((r) => ({ name: r.name, lastAckedSeq: Number(r.lastAckedSeq), events: Number(r.events), messages: Number(r.messages) })),
    };
  },

  async stop() {
    await master?.close();
    master = undefined;
    setTimeout(() => process.exit(0), 50);
    return true;
  },
});
