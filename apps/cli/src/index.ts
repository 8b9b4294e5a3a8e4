export { startLocalCluster, LOCAL_DEFAULTS, type LocalCluster } from './local-cluster.ts';
export { render as renderGeneratedDocs, DOC_FILE as CONFIG_DOC_FILE } from './gen-docs.ts';
