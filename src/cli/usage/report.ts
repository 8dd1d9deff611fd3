// The usage report: store totals priced with corral.yaml's table; an unpriced model makes its cost (and the
// total's) unknown — null in JSON, `?` on screen — never zero.
import type { PriceTable } from '../../config/prices.ts';
import { formatUsd, priceUsage } from '../../gateway/cost.ts';
import type { UsageTotal } from '../../store/types.ts';

export interface ReportRow {
  agent: string;
  provider: string;
  model: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number | null;
}
export interface UsageReport {
  since: string;
  until: string;
  rows: ReportRow[];
  total: Omit<ReportRow, 'agent' | 'provider' | 'model'> & { pricedCostUsd: number };
  /** PROVIDER:MODEL without a price in corral.yaml */
  unpriced: string[];
}

export function buildReport(
  totals: readonly UsageTotal[],
  prices: PriceTable,
  window: { since: Date; until: Date },
): UsageReport {
  const rows = totals.map((t): ReportRow => ({
    agent: t.agent,
    provider: t.provider,
    model: t.model,
    calls: t.calls,
    ...t.usage,
    costUsd: priceUsage(prices, t.provider, t.model, t.usage) ?? null,
  }));
  const sum = (pick: (r: ReportRow) => number): number => rows.reduce((acc, r) => acc + pick(r), 0);
  const pricedCostUsd = sum((r) => r.costUsd ?? 0);
  const unpriced = [
    ...new Set(rows.filter((r) => r.costUsd === null).map((r) => `${r.provider}:${r.model}`)),
  ];
  return {
    since: window.since.toISOString(),
    until: window.until.toISOString(),
    rows,
    total: {
      calls: sum((r) => r.calls),
      inputTokens: sum((r) => r.inputTokens),
      outputTokens: sum((r) => r.outputTokens),
      cacheReadTokens: sum((r) => r.cacheReadTokens),
      cacheWriteTokens: sum((r) => r.cacheWriteTokens),
      costUsd: unpriced.length > 0 ? null : pricedCostUsd,
      pricedCostUsd,
    },
    unpriced,
  };
}

/** Table rows for printTable, the total last; an unknown part of the total shows as `+ ?`. */
export function reportTable(r: UsageReport): Record<string, string | number>[] {
  const n = (x: number): string => x.toLocaleString('en-US');
  const line = (
    agent: string,
    model: string,
    x: Omit<ReportRow, 'agent' | 'provider' | 'model'>,
    cost: string,
  ) => ({
    agent,
    model,
    calls: n(x.calls),
    input: n(x.inputTokens),
    output: n(x.outputTokens),
    cache_read: n(x.cacheReadTokens),
    cache_write: n(x.cacheWriteTokens),
    cost,
  });
  const total = r.total;
  const totalCost =
    total.costUsd !== null
      ? formatUsd(total.costUsd)
      : total.pricedCostUsd > 0
        ? `${formatUsd(total.pricedCostUsd)} + ?`
        : '?';
  return [
    ...r.rows.map((row) =>
      line(row.agent, `${row.provider}:${row.model}`, row, formatUsd(row.costUsd ?? undefined)),
    ),
    line('TOTAL', '', total, totalCost),
  ];
}
