// --budget-usd N[/day|/month] and --budget-tokens N[/day] for `corral agent add|set`; `off` removes a limit.
import type { Command } from 'commander';
import { loadConfig, resolveProvider } from '../../config/config-file.ts';
import type { AgentBudget, AgentConfig } from '../../config/schema.ts';
import { findPrice } from '../../gateway/cost.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';

export interface BudgetOptions {
  budgetUsd: string[];
  budgetTokens?: string;
}

const collectValues = (value: string, previous: string[]): string[] => [...previous, value];

export function addBudgetOptions(cmd: Command): Command {
  return cmd
    .option(
      '--budget-usd <n[/day|/month]>',
      'USD limit per UTC day (the default) or month; repeat for both; off removes both',
      collectValues,
      [],
    )
    .option('--budget-tokens <n[/day]>', 'tokens per UTC day (all kinds); off removes it');
}

const bad = (flag: string, value: string, want: string): CorralError =>
  new CorralError('invalid_argument', `cannot read ${flag} '${value}'`, `write ${want}`);

/** The budget after applying the flags; undefined when no limit is left. */
export function nextBudget(current: AgentBudget | undefined, opts: BudgetOptions): AgentBudget | undefined {
  const b: AgentBudget = { ...current };
  for (const value of opts.budgetUsd) {
    if (value === 'off') {
      delete b.usdPerDay;
      delete b.usdPerMonth;
      continue;
    }
    const m = /^(\d+(?:\.\d+)?)(?:\/(day|month))?$/.exec(value);
    const usd = Number(m?.[1]);
    if (m === null || !(usd > 0))
      throw bad('--budget-usd', value, 'a positive amount, e.g. 4, 4/day or 100/month');
    if (m[2] === 'month') b.usdPerMonth = usd;
    else b.usdPerDay = usd;
  }
  const tokens = opts.budgetTokens;
  if (tokens === 'off') delete b.tokensPerDay;
  else if (tokens !== undefined) {
    const m = /^(\d+)(?:\/day)?$/.exec(tokens);
    const n = Number(m?.[1]);
    if (m === null || !(n > 0) || !Number.isSafeInteger(n))
      throw bad('--budget-tokens', tokens, 'a positive whole number, e.g. 200000/day');
    b.tokensPerDay = n;
  }
  return Object.keys(b).length > 0 ? b : undefined;
}

export const budgetFlagsGiven = (opts: BudgetOptions): boolean =>
  opts.budgetUsd.length > 0 || opts.budgetTokens !== undefined;

export function describeBudget(b: AgentBudget | undefined): string {
  if (b === undefined) return 'no budget';
  const parts = [
    b.usdPerDay === undefined ? undefined : `$${b.usdPerDay}/day`,
    b.usdPerMonth === undefined ? undefined : `$${b.usdPerMonth}/month`,
    b.tokensPerDay === undefined ? undefined : `${b.tokensPerDay.toLocaleString('en-US')} tokens/day`,
  ];
  return `budget ${parts.filter((p) => p !== undefined).join(', ')}`;
}

/** Audits the change and warns when a USD limit meets a model without a price (its calls would be refused). */
export function recordBudget(ctx: CliContext, agent: AgentConfig): void {
  const b = agent.budget;
  const config = loadConfig(ctx.home);
  const { name: provider, model } = resolveProvider(config, agent.model);
  if (
    (b?.usdPerDay ?? b?.usdPerMonth) !== undefined &&
    findPrice(config.prices, provider, model) === undefined
  )
    ctx.err(
      `note: ${agent.model} has no price in corral.yaml, so a USD budget refuses its calls; add one under prices:\n`,
    );
  const store = openStore(ctx.home);
  try {
    store.ensureAgent(agent.name);
    store.appendAudit({
      actor: 'operator',
      action: 'agent.budget',
      subject: agent.name,
      detail: { budget: b ?? null },
    });
  } finally {
    store.close();
  }
}
