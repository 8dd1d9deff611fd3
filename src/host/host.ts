// The host: owns sessions and the sandboxes behind them. Built from its parts so tests use real ones.
import type { LaunchDeps } from './launch.ts';
import { AgentSession } from './session.ts';
import type { SessionHooks } from './turn-exec.ts';

/** Which run each sandbox serves right now: gateway usage is booked against it. */
export interface RunTracker extends SessionHooks {
  runOf(sandboxId: string): string | undefined;
}

export function createRunTracker(): RunTracker {
  const runs = new Map<string, string>();
  return {
    onRunStart: (sandboxId, runId) => void runs.set(sandboxId, runId),
    onRunEnd: (sandboxId) => void runs.delete(sandboxId),
    runOf: (sandboxId) => runs.get(sandboxId),
  };
}

export interface Host {
  session(agent: string, key: string): AgentSession;
  /** the run a sandbox is serving right now (gateway usage is booked against it) */
  runOf(sandboxId: string): string | undefined;
  close(): Promise<void>;
}

export function createHost(deps: LaunchDeps & { runs?: RunTracker }): Host {
  const sessions = new Map<string, AgentSession>();
  const runs = deps.runs ?? createRunTracker();
  return {
    session(agent, key) {
      const id = `${agent}\0${key}`;
      let s = sessions.get(id);
      if (s === undefined) {
        s = new AgentSession({ ...deps, hooks: runs }, agent, key);
        sessions.set(id, s);
      }
      return s;
    },
    runOf: (sandboxId) => runs.runOf(sandboxId),
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.close()));
      sessions.clear();
    },
  };
}
