import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { probe } from '@moat/balancer';
import { writeFileDurably } from '@moat/storage';

/**
 * `moat healthcheck`: one command for every role, so one image has one HEALTHCHECK line.
 * A running role writes what to probe (with the port it really bound) to the file named by
 * MOAT_HEALTH_FILE; the check reads it and probes: the master's /healthz, a scanner's SMTP
 * greeting, a stand-alone balancer's process (a backup balancer listens on nothing, and that
 * is healthy). Exit 0 healthy, 1 not (Docker's contract).
 */
export type HealthProbe =
  | { readonly kind: 'http'; readonly url: string }
  | { readonly kind: 'smtp'; readonly host: string; readonly port: number; readonly sendProxy: boolean }
  | { readonly kind: 'process' };

export interface HealthDescriptor {
  readonly role: 'master' | 'scanner' | 'balancer';
  readonly pid: number;
  readonly probe: HealthProbe;
  /** The release running (the root package.json's version): `moat upgrade` waits for the new one. */
  readonly version?: string;
}

/** A wildcard listen address is probed on loopback; a specific one as it is. */
export function probeHost(listenHost: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '') return '127.0.0.1';
  if (listenHost === '::' || listenHost === '[::]') return '::1';
  return listenHost;
}

/** Write the descriptor when MOAT_HEALTH_FILE is set; returns a remover for shutdown. */
export async function publishHealth(descriptor: HealthDescriptor, file = process.env.MOAT_HEALTH_FILE): Promise<() => Promise<void>> {
  if (!file) return async () => undefined;
  await writeFileDurably(file, `${JSON.stringify(descriptor)}\n`);
  return () => rm(file, { force: true });
}

/** Probe what the descriptor names; resolves an explanation of the failure, or null when healthy. */
export async function checkHealth(file: string, timeoutMs = 4000): Promise<string | null> {
  let d: HealthDescriptor;
  try {
    d = JSON.parse(readFileSync(file, 'utf8')) as HealthDescriptor;
  } catch (err) {
    return `no health descriptor (${(err as Error).message}): not started yet`;
  }
  if (!alive(d.pid)) return `${d.role} process ${d.pid} is not running`;
  switch (d.probe.kind) {
    case 'process':
      return null;
    case 'smtp': {
      const reason = await probe({ type: 'smtp', host: d.probe.host, port: d.probe.port, timeoutMs, ehloName: 'moat-healthcheck.invalid', sendProxy: d.probe.sendProxy });
      return reason === null ? null : `scanner SMTP ${d.probe.host}:${d.probe.port} failed the check (${reason})`;
    }
    case 'http':
      return httpOk(`${d.probe.url}/healthz`, timeoutMs);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function httpOk(url: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const secure = url.startsWith('https:');
    // The master's certificate is usually self-signed and pinned by fingerprint elsewhere; this
    // local liveness probe only asks whether it answers.
    const req = (secure ? httpsRequest : httpRequest)(url, { method: 'GET', timeout: timeoutMs, ...(secure ? { rejectUnauthorized: false } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? null : `${url} answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve(`${url}: ${err.message}`));
    req.end();
  });
}
