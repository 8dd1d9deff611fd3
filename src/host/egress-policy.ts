// An agent's egress policy as the gateway reads it at request time: from the agent's file, re-parsed only
// when the file changed, so `corral agent set` applies to the next request without a restart.
import fs from 'node:fs';
import path from 'node:path';
import { loadAgent } from '../config/agent-files.ts';
import { AgentName } from '../config/names.ts';
import type { HomePaths } from '../config/home.ts';
import { buildPolicy } from '../policy/egress.ts';
import type { EgressPolicy } from '../policy/egress.ts';

export function policyOf(agent: { egress: EgressPolicy['preset']; allow: readonly string[] }): EgressPolicy {
  return buildPolicy(agent.egress, agent.allow);
}

/** policy(agent) for GatewayDeps.egress; throws (and the gateway denies) when the file is gone or invalid. */
export function agentPolicyReader(home: HomePaths): (agent: string) => EgressPolicy {
  const cache = new Map<string, { key: string; policy: EgressPolicy }>();
  return (agent) => {
    const name = AgentName.parse(agent); // the socket's agent, but never a path trick
    // lstat: the cache key only; loadAgent refuses a symlink itself.
    const st = fs.lstatSync(path.join(home.agentsDir, `${name}.yaml`), { bigint: true });
    const key = `${st.ino}:${st.size}:${st.mtimeNs}`;
    const hit = cache.get(name);
    if (hit?.key === key) return hit.policy;
    const policy = policyOf(loadAgent(home, name));
    cache.set(name, { key, policy });
    return policy;
  };
}
