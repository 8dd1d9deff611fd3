// One row per agent for the Fleet page: its state from the queue (running, queued N), its definition (paused,
// invalid) and the audit trail (last activity, a last run that failed), and what it spent today (UTC).
import { listAgentNames } from '../../config/agent-files.ts';
import { loadConfig } from '../../config/config-file.ts';
import type { HomePaths } from '../../config/home.ts';
import { spendOf, utcDayStart } from '../../gateway/budget.ts';
import type { AgentCatalog } from '../../host/daemon/agent-catalog.ts';
import type { Router } from '../../host/queue/router.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';

export type AgentState = 'idle' | 'running' | 'queued' | 'failing' | 'paused' | 'invalid';

export interface FleetRow {
  name: string;
  state: AgentState;
  running: number;
  queued: number;
  backend: string;
  model: string;
  lastActivity: string | null;
  todayUsd: number;
  /** usage today without a price: the spend shown is a lower bound */
  unpriced: boolean;
  problem: string | null;
}

export interface FleetDeps {
  home: HomePaths;
  store: Store;
  catalog: AgentCatalog;
  router: Pick<Router, 'depths' | 'runningByAgent'>;
  now: () => Date;
}

export function fleetRows(deps: FleetDeps): FleetRow[] {
  const names = [...new Set([...listAgentNames(deps.home), ...deps.catalog.names()])].sort();
  const depths = deps.router.depths();
  const running = deps.router.runningByAgent();
  const { prices } = loadConfig(deps.home);
  const today = utcDayStart(deps.now()).toISOString().slice(0, 10);
  return names.map((name): FleetRow => {
    const def = deps.catalog.get(name);
    const queued = depths.get(name) ?? 0;
    const busy = running.get(name) ?? 0;
    const lastRun = deps.store.queryAudit({ agent: name, action: 'run', limit: 1 })[0];
    const last = deps.store.queryAudit({ agent: name, limit: 1 })[0];
    const spend = spendOf(deps.store.dailyUsageTotals({ agent: name, sinceDay: today }), prices);
    const invalid = def instanceof CorralError;
    const state: AgentState = invalid
      ? 'invalid'
      : def.paused
        ? 'paused'
        : busy > 0
          ? 'running'
          : queued > 0
            ? 'queued'
            : lastRun?.action === 'run.failed'
              ? 'failing'
              : 'idle';
    return {
      name,
      state,
      running: busy,
      queued,
      backend: invalid ? '?' : def.backend,
      model: invalid ? '?' : def.model,
      lastActivity: last?.at ?? null,
      todayUsd: spend.usd,
      unpriced: spend.unpriced.length > 0,
      problem: invalid ? def.message : null,
    };
  });
}
