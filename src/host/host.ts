// The host: owns sessions and the sandboxes behind them. Built from its parts so tests use real ones.
import type { LaunchDeps } from './launch.ts';
import { AgentSession } from './session.ts';

export interface Host {
  session(agent: string, key: string): AgentSession;
  /** the run a sandbox is serving right now (gateway usage is booked against it) */
  runOf(sandboxId: string): string | undefined;
  close(): Promise<void>;
}

export function createHost(deps: LaunchDeps): Host {
  const sessions = new Map<string, AgentSession>();
  const runs = new Map<string, string>();
  const hooks = {
    onRunStart: (sandboxId: string, runId: string) => void runs.set(sandboxId, runId),
    onRunEnd: (sandboxId: string) => void runs.delete(sandboxId),
  };
  return {
    session(agent, key) {
      const id = `${agent}\0${key}`;
      let s = sessions.get(id);
      if (s === undefined) {
        s = new AgentSession({ ...deps, hooks }, agent, key);
        sessions.set(id, s);
      }
      return s;
    },
    runOf: (sandboxId) => runs.get(sandboxId),
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.close()));
      sessions.clear();
    },
  };
}
