export { startLocalCluster, LOCAL_DEFAULTS, type LocalCluster } from './local-cluster.ts';
