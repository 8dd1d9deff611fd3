// An agent's limits as configured (agents/<name>.yaml) turned into what the sandbox and the turn enforce.
import type { AgentLimits } from '../config/schema.ts';
import type { SandboxLimits } from '../sandbox/types.ts';
import { DEFAULT_LIMITS } from '../sandbox/types.ts';

export const DEFAULT_TURN_SECONDS = 600;
export const DEFAULT_TOOL_SECONDS = 120;

export function sandboxLimits(l: AgentLimits | undefined): SandboxLimits {
  const diskBytes = l?.disk ?? DEFAULT_LIMITS.diskBytes;
  return {
    ...DEFAULT_LIMITS,
    memoryBytes: l?.memory ?? DEFAULT_LIMITS.memoryBytes,
    cpus: l?.cpus ?? DEFAULT_LIMITS.cpus,
    maxProcesses: l?.processes ?? DEFAULT_LIMITS.maxProcesses,
    diskBytes,
    // one file can never be larger than the whole disk allowance; where there is no volume, this is the limit
    maxFileBytes: diskBytes,
  };
}

export interface TimeLimits {
  turnSeconds: number;
  toolSeconds: number;
}

export function timeLimits(l: AgentLimits | undefined): TimeLimits {
  return {
    turnSeconds: l?.turnSeconds ?? DEFAULT_TURN_SECONDS,
    toolSeconds: l?.toolSeconds ?? DEFAULT_TOOL_SECONDS,
  };
}
