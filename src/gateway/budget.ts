// Per-agent budgets: what an agent has spent today and this month (UTC), judged against its limits, and the
// message a refused model call carries. Pure: the host supplies the totals, read from the store per call.
import type { AgentBudget } from '../config/schema.ts';
import type { PriceTable } from '../config/prices.ts';
import type { Usage } from '../protocol/transcript.ts';
import { formatUsd, priceUsage, totalTokens } from './cost.ts';

export type BudgetVerdict = { ok: true } | { ok: false; message: string };
export const BUDGET_OK: BudgetVerdict = { ok: true };

export interface Spend {
  usd: number;
  tokens: number;
  /** PROVIDER:MODEL of usage without a price: a USD budget cannot be judged while any is present */
  unpriced: string[];
}

export function utcDayStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}
export function utcMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export function spendOf(
  totals: readonly { provider: string; model: string; usage: Usage }[],
  prices: PriceTable,
): Spend {
  const spend: Spend = { usd: 0, tokens: 0, unpriced: [] };
  for (const t of totals) {
    spend.tokens += totalTokens(t.usage);
    const usd = priceUsage(prices, t.provider, t.model, t.usage);
    if (usd === undefined) spend.unpriced.push(`${t.provider}:${t.model}`);
    else spend.usd += usd;
  }
  return spend;
}

const exhausted = (agent: string, spent: string, flag: string): BudgetVerdict => ({
  ok: false,
  message: `budget exhausted for agent ${agent}: ${spent}; raise it with corral agent set ${agent} ${flag}`,
});

/** Refuses once spend reaches a limit; a USD limit with unpriced usage in its window fails closed. */
export function judgeBudget(
  agent: string,
  budget: AgentBudget,
  spent: { day: Spend; month: Spend },
): BudgetVerdict {
  const { usdPerDay, usdPerMonth, tokensPerDay } = budget;
  const usdChecks: [number | undefined, Spend, string, string][] = [
    [usdPerDay, spent.day, 'today', '/day'],
    [usdPerMonth, spent.month, 'this month', '/month'],
  ];
  for (const [limit, spend, when, per] of usdChecks) {
    if (limit === undefined) continue;
    if (spend.unpriced.length > 0) {
      return {
        ok: false,
        message:
          `budget of agent ${agent} cannot be checked: no price for ${spend.unpriced.join(', ')}; ` +
          `add one under prices: in corral.yaml (0 for a free model)`,
      };
    }
    if (spend.usd >= limit)
      return exhausted(
        agent,
        `${formatUsd(spend.usd)} of ${formatUsd(limit)} ${when}`,
        `--budget-usd N${per}`,
      );
  }
  if (tokensPerDay !== undefined && spent.day.tokens >= tokensPerDay) {
    const n = (x: number): string => x.toLocaleString('en-US');
    return exhausted(
      agent,
      `${n(spent.day.tokens)} of ${n(tokensPerDay)} tokens today`,
      '--budget-tokens N/day',
    );
  }
  return BUDGET_OK;
}
