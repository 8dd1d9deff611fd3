// An agent's declared rights, read from its definition, in the form decide() takes.
import type { AgentConfig } from '../config/schema.ts';
import type { AgentRights } from './decide.ts';
import { buildPolicy } from './egress.ts';

export function agentRights(
  agent: Pick<AgentConfig, 'name' | 'egress' | 'allow' | 'grants' | 'mayMessage' | 'senders'>,
): AgentRights {
  return {
    name: agent.name,
    egress: buildPolicy(agent.egress, agent.allow),
    grants: agent.grants,
    mayMessage: agent.mayMessage,
    senders: agent.senders,
  };
}

/** Rights of an agent whose definition declares nothing (callers add the part they know, e.g. egress rules). */
export function declaredOnly(name: string): AgentRights {
  return {
    name,
    egress: buildPolicy('none', []),
    grants: [],
    mayMessage: [],
    senders: { allow: [], unknown: 'deny' },
  };
}
