// Usage per agent per UTC day (tokens and cost, priced with corral.yaml) and each agent's budgets: spent, left.
import { listAgentNames } from '../../config/agent-files.ts';
import { loadConfig } from '../../config/config-file.ts';
import type { HomePaths } from '../../config/home.ts';
import type { AgentBudget } from '../../config/schema.ts';
import { priceUsage, totalTokens } from '../../gateway/cost.ts';
import { spendOf, utcDayStart, utcMonthStart } from '../../gateway/budget.ts';
import type { AgentCatalog } from '../../host/daemon/agent-catalog.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';

export const DAY_MS = 86_400_000;

export interface AgentUsage {
  agent: string;
  days: string[];
  tokens: number[];
  /** null where a model of that day has no price */
  usd: (number | null)[];
  budget: AgentBudget | undefined;
  today: { usd: number; tokens: number; unpriced: boolean };
  month: { usd: number; unpriced: boolean };
}

export function usageByDay(
  deps: { home: HomePaths; store: Store; catalog: AgentCatalog },
  now: Date,
  dayCount: number,
): AgentUsage[] {
  const { prices } = loadConfig(deps.home);
  const end = utcDayStart(now).getTime() + DAY_MS;
  const days = Array.from({ length: dayCount }, (_, i) => new Date(end - (dayCount - i) * DAY_MS));
  const byAgent = new Map<string, { tokens: number[]; usd: (number | null)[] }>();
  const names = new Set([...listAgentNames(deps.home), ...deps.catalog.names()]);
  for (const n of names) byAgent.set(n, { tokens: days.map(() => 0), usd: days.map(() => 0) });
  days.forEach((day, i) => {
    const totals = deps.store.usageTotals({
      since: day.toISOString(),
      until: new Date(day.getTime() + DAY_MS).toISOString(),
    });
    for (const t of totals) {
      let row = byAgent.get(t.agent);
      if (row === undefined) {
        row = { tokens: days.map(() => 0), usd: days.map(() => 0) };
        byAgent.set(t.agent, row);
      }
      row.tokens[i] = (row.tokens[i] ?? 0) + totalTokens(t.usage);
      const cost = priceUsage(prices, t.provider, t.model, t.usage);
      const before = row.usd[i];
      row.usd[i] = cost === undefined || before === null || before === undefined ? null : before + cost;
    }
  });
  const today = utcDayStart(now).toISOString().slice(0, 10);
  const month = utcMonthStart(now).toISOString().slice(0, 10);
  return [...byAgent.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([agent, row]) => {
      const def = deps.catalog.get(agent);
      const d = spendOf(deps.store.dailyUsageTotals({ agent, sinceDay: today }), prices);
      const m = spendOf(deps.store.dailyUsageTotals({ agent, sinceDay: month }), prices);
      return {
        agent,
        days: days.map((x) => x.toISOString().slice(5, 10)),
        tokens: row.tokens,
        usd: row.usd,
        budget: def instanceof CorralError ? undefined : def.budget,
        today: { usd: d.usd, tokens: d.tokens, unpriced: d.unpriced.length > 0 },
        month: { usd: m.usd, unpriced: m.unpriced.length > 0 },
      };
    });
}
