import { callMaster, MasterApiError, OperationError, type MasterClient } from './master-client.ts';

interface NodeRef {
  id: string;
  name: string;
  online: boolean;
}
interface StoredRules {
  version: number;
  document: { nodes?: Record<string, NodeSettings> } & Record<string, unknown>;
}
interface NodeSettings {
  weight?: number;
  backup?: boolean;
  maintenance?: boolean;
}

async function findNode(client: MasterClient, name: string): Promise<NodeRef> {
  const nodes = (await callMaster<{ items: NodeRef[] }>(client, 'GET', '/nodes')).items;
  const node = nodes.find((n) => n.name === name);
  if (!node) throw new OperationError(`no node named ${name} in the cluster (${nodes.length ? `its nodes: ${nodes.map((n) => n.name).join(', ')}` : 'no node has joined'})`);
  return node;
}

/**
 * `moat node drain|undrain NAME`: the node's `maintenance` flag in the rules' `nodes` map
 * (docs/operator-guide.md, "Draining a node for maintenance"): a new rules version pushed to
 * every scanner, whose balancers then send the node no new sessions (those open finish).
 * The edit names the version it started from, so it never undoes another admin's save made
 * meanwhile: the master refuses it (409 MOAT_ERR_STALE_RULES) and it is made again on the new one.
 */
export async function runDrain(client: MasterClient, name: string, drain: boolean, out: NodeJS.WritableStream): Promise<number> {
  const node = await findNode(client, name);
  for (let attempt = 1; ; attempt++) {
    const rules = await callMaster<StoredRules>(client, 'GET', '/rules');
    const nodes = { ...(rules.document.nodes ?? {}) };
    const before = nodes[name] ?? {};
    if ((before.maintenance === true) === drain) {
      out.write(`${name} is ${drain ? 'already drained' : 'not drained'} (rules version ${rules.version}): nothing to change\n`);
      return 0;
    }
    const after: NodeSettings = { ...before, maintenance: drain };
    // An entry back at its defaults is removed, so the node takes its config's values again (docs/cluster.md).
    if (!drain && (after.weight ?? 1) === 1 && after.backup !== true) delete nodes[name];
    else nodes[name] = after;
    const comment = `moat node ${drain ? 'drain' : 'undrain'} ${name}`;
    try {
      const saved = await callMaster<StoredRules>(client, 'PUT', `/rules?baseVersion=${rules.version}&comment=${encodeURIComponent(comment)}`, { ...rules.document, nodes });
      out.write(drain
        ? `${name} drained: rules version ${saved.version} pushed; the balancers send it no new sessions, those open finish${node.online ? '' : ' (it is offline now)'}\n`
        : `${name} undrained: rules version ${saved.version} pushed; it takes new sessions again\n`);
      return 0;
    } catch (err) {
      if (err instanceof MasterApiError && err.code === 'MOAT_ERR_STALE_RULES' && attempt < 3) continue;
      throw err;
    }
  }
}

/** `moat node remove NAME`: a stopped node leaves the cluster and its key is erased (DELETE /api/v1/nodes/{id}). */
export async function runRemove(client: MasterClient, name: string, out: NodeJS.WritableStream): Promise<number> {
  const node = await findNode(client, name);
  try {
    await callMaster(client, 'DELETE', `/nodes/${node.id}`);
  } catch (err) {
    if (err instanceof MasterApiError && err.code === 'MOAT_ERR_NODE_ONLINE') throw new OperationError(`${name} is connected: drain it, stop it, then remove it (${err.message})`);
    throw err;
  }
  out.write(`${name} removed: its key is erased; it can come back only with a new join token ('moat master join-token')\n`);
  return 0;
}
