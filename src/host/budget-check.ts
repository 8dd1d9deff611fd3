// The gateway's budget check, built from the agent's file, the price table and the store, all read at each
// model call: a budget raised with `corral agent set` or a price edited in corral.yaml applies to the next call.
import { loadAgent } from '../config/agent-files.ts';
import { loadConfig } from '../config/config-file.ts';
import type { HomePaths } from '../config/home.ts';
import type { BudgetVerdict } from '../gateway/budget.ts';
import { BUDGET_OK, judgeBudget, spendOf, utcDayStart, utcMonthStart } from '../gateway/budget.ts';
import type { Store } from '../store/types.ts';
import { errorMessage } from '../util/errors.ts';

export function createBudgetCheck(deps: {
  home: HomePaths;
  store: Store;
  clock?: () => Date;
}): (agent: string) => BudgetVerdict {
  const clock = deps.clock ?? (() => new Date());
  return (agent) => {
    try {
      const budget = loadAgent(deps.home, agent).budget;
      if (budget === undefined) return BUDGET_OK;
      const now = clock();
      const { prices } = loadConfig(deps.home);
      const spentSince = (start: Date) =>
        spendOf(deps.store.usageTotals({ agent, since: start.toISOString() }), prices);
      const day = spentSince(utcDayStart(now));
      const month = budget.usdPerMonth === undefined ? day : spentSince(utcMonthStart(now));
      return judgeBudget(agent, budget, { day, month });
    } catch (err) {
      // Fail closed: a budget that cannot be read is not a budget that allows everything.
      return { ok: false, message: `cannot check the budget of agent ${agent}: ${errorMessage(err)}` };
    }
  };
}
