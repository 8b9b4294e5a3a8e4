import { connectMaster, MasterApiError, OperationError, type MasterClient, type MasterTarget } from './master-client.ts';

/**
 * The frame of an operator's command over the REST API (`moat status`, `node`, `quarantine`):
 * sign in, run, and turn a refusal or an unreachable master into one `moat: …` line and exit
 * status 1 (a usage error is 2, before this runs). Anything else is a bug: its stack, exit 1.
 */
export async function operatorCommand(target: MasterTarget, body: (client: MasterClient) => Promise<number>): Promise<number> {
  try {
    return await body(await connectMaster(target));
  } catch (err) {
    if (!(err instanceof MasterApiError || err instanceof OperationError)) throw err;
    process.stderr.write(`moat: ${err.message}\n`);
    return 1;
  }
}
