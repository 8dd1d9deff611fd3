// The gateway's budget check, built from the agent's file, the price table and the store, all read at each
// model call (files re-parsed only when changed): a raised budget or an edited price applies to the next call.
import path from 'node:path';
import { loadAgent } from '../config/agent-files.ts';
import { loadConfig } from '../config/config-file.ts';
import type { HomePaths } from '../config/home.ts';
import type { AgentConfig } from '../config/schema.ts';
import type { BudgetVerdict } from '../gateway/budget.ts';
import { BUDGET_OK, judgeBudget, spendOf, utcDayStart, utcMonthStart } from '../gateway/budget.ts';
import type { Store } from '../store/types.ts';
import { errorMessage } from '../util/errors.ts';
import { readWhenChanged } from './file-cache.ts';

export function createBudgetCheck(deps: {
  home: HomePaths;
  store: Store;
  clock?: () => Date;
  /** where definitions come from when not from the files (the daemon's catalog, which keeps the last good one) */
  agentOf?: (name: string) => AgentConfig;
}): (agent: string) => BudgetVerdict {
  const clock = deps.clock ?? (() => new Date());
  const { home } = deps;
  const budgetOf = readWhenChanged((file) => loadAgent(home, path.basename(file, '.yaml')).budget);
  const pricesIn = readWhenChanged(() => loadConfig(home).prices);
  return (agent) => {
    try {
      const budget = deps.agentOf
        ? deps.agentOf(agent).budget
        : budgetOf(path.join(home.agentsDir, `${path.basename(agent)}.yaml`));
      if (budget === undefined) return BUDGET_OK;
      const now = clock();
      const prices = pricesIn(home.configFile);
      // per-day sums: the cost of a check does not grow with the number of calls made today
      const spentSince = (start: Date) =>
        spendOf(deps.store.dailyUsageTotals({ agent, sinceDay: start.toISOString().slice(0, 10) }), prices);
      const day = spentSince(utcDayStart(now));
      const month = budget.usdPerMonth === undefined ? day : spentSince(utcMonthStart(now));
      return judgeBudget(agent, budget, { day, month });
    } catch (err) {
      // Fail closed: a budget that cannot be read is not a budget that allows everything.
      return { ok: false, message: `cannot check the budget of agent ${agent}: ${errorMessage(err)}` };
    }
  };
}
