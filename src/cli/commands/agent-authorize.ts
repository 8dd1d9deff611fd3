// `corral agent add|set|rm` through the decision point: the local operator creates, changes or deletes an agent
// (payload: the whole definition it would write), grants each new secret and adds each new mount. An `ask` holds
// the change as an approval; once approved, running the identical command again goes through.
import type { AgentMount } from '../../config/governance.ts';
import { loadConfig } from '../../config/config-file.ts';
import { authorize, mustAllow } from '../../host/authorize.ts';
import { openGovernance } from '../../host/governance.ts';
import { checkMount } from '../../host/mounts.ts';
import { openStore } from '../../host/open.ts';
import { LOCAL_OPERATOR } from '../../policy/actions.ts';
import type { DecisionContext } from '../../policy/decide.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';

export interface AgentChange {
  action: 'agent.create' | 'agent.update' | 'agent.delete';
  agent: string;
  payload: Record<string, unknown>;
  /** secrets this change grants that the agent did not have */
  newGrants?: readonly string[];
  /** mounts this change adds */
  newMounts?: readonly AgentMount[];
}

/** Throws policy_denied or approval_required unless every part of the change is allowed. */
export async function authorizeAgentChange(ctx: CliContext, change: AgentChange): Promise<void> {
  const store = openStore(ctx.home);
  try {
    const gov = openGovernance(ctx.home, store);
    const one = async (
      action: 'agent.create' | 'agent.update' | 'agent.delete' | 'secret.grant' | 'mount',
      resource: string,
      payload: Record<string, unknown>,
      context: DecisionContext = {},
    ): Promise<void> => {
      const d = await authorize(gov, { principal: LOCAL_OPERATOR, action, resource, payload, context });
      mustAllow(d, `${action} ${resource}`);
    };
    await one(change.action, `agent:${change.agent}`, change.payload);
    for (const s of change.newGrants ?? [])
      await one('secret.grant', `secret:${s}`, { agent: change.agent, secret: s });
    const allow = (change.newMounts ?? []).length > 0 ? (loadConfig(ctx.home).mounts?.allow ?? []) : [];
    for (const m of change.newMounts ?? []) {
      const c = checkMount(m, { allow, home: ctx.home.root });
      await one('mount', c.resource, { agent: change.agent, ...m }, { mount: c.facts });
    }
  } finally {
    store.close();
  }
}

/** `--mount HOST:/mnt/NAME[:rw]` (read-only unless :rw). */
export function parseMountFlag(text: string): AgentMount {
  const m = /^(\/[^:]*):(\/mnt\/[^:]+)(?::(ro|rw))?$/.exec(text);
  if (m === null || m[1] === undefined || m[2] === undefined)
    throw new CorralError(
      'invalid_argument',
      `--mount ${text}: write HOST_PATH:/mnt/NAME, or HOST_PATH:/mnt/NAME:rw`,
    );
  return { host: m[1], path: m[2], write: m[3] === 'rw' };
}
