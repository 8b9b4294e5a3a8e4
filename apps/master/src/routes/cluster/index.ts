import type { FastifyPluginAsync } from 'fastify';
import type { AppDeps } from '../../app-deps.ts';
import type { ClusterHub } from '../../cluster/hub.ts';
import { currentRules } from '../../rules/rules-repository.ts';
import type { TypedApp } from '../data/typed-app.ts';
import { registerNodeRoutes } from './nodes-routes.ts';
import { registerQuarantineActionRoutes } from './quarantine-actions-routes.ts';
import { registerQuarantineBulkRoutes } from './quarantine-bulk-routes.ts';
import { registerRetainedRoutes } from './retained-routes.ts';
import { registerLearnRoutes } from './learn-routes.ts';
import { registerVerificationRoutes } from './verification-routes.ts';
import { registerRoutesRoutes } from './routes-routes.ts';
import { registerMessageTestRoutes } from './message-test-routes.ts';
import { registerTrendRoutes } from './trends-routes.ts';

/** Routes that go through the cluster link; registered under /api/v1. */
export function clusterRoutes(hub: ClusterHub, deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    const typed = app as unknown as TypedApp;
    registerNodeRoutes(typed, hub, async () => (await currentRules(deps.database.db))?.version ?? 0);
    registerTrendRoutes(typed, hub, deps.now);
    registerQuarantineActionRoutes(typed, hub, deps);
    registerQuarantineBulkRoutes(typed, hub, deps);
    registerRetainedRoutes(typed, hub, deps);
    registerLearnRoutes(typed, hub, deps);
    registerVerificationRoutes(typed, hub, deps);
    registerRoutesRoutes(typed, hub, async () => (await currentRules(deps.database.db))?.document);
    registerMessageTestRoutes(typed, hub, deps);
  };
}
