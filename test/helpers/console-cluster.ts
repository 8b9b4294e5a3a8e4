import type { TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { apiClient, startClusterScanner, startTestMaster, type ApiClient } from './cluster-harness.ts';
import { launchChromium } from './console-browser.ts';
import { startDownstream, type Downstream, type DownstreamBehaviour } from './downstream.ts';
import { waitUntil } from './wait.ts';

/**
 * What most console tests stand on: a downstream, a master, one scanner (`scanner-1`) linked to
 * it and seen online by the master, headless Chromium, and an admin API client; all stopped when
 * the test ends, browser first. `downstream`: how the downstream answers (default: takes all).
 */
export async function startConsoleCluster(t: TestContext, options: { downstream?: DownstreamBehaviour } = {}): Promise<{ downstream: Downstream; master: Awaited<ReturnType<typeof startTestMaster>>; scanner: Awaited<ReturnType<typeof startClusterScanner>>; browser: Browser; api: ApiClient }> {
  const downstream = await startDownstream(options.downstream);
  const master = await startTestMaster();
  const scanner = await startClusterScanner('scanner-1', master.wsUrl, downstream.port);
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await scanner.close();
    await master.close();
    await downstream.close();
  });
  const api = await apiClient(master.url);
  await waitUntil(() => scanner.link?.isConnected, 'the scanner linked');
  await waitUntil(async () => (await api.get('/api/v1/nodes')).json.items[0]?.online, 'the scanner online');
  return { downstream, master, scanner, browser, api };
}
