// corral agent set NAME: changes an existing agent definition; applies to the next request or turn.
// Grants name the secrets an agent may use (it sees sentinels; the gateway sends values to bound hosts).
import type { Command } from 'commander';
import { loadAgent, saveAgent } from '../../config/agent-files.ts';
import { SecretName } from '../../config/names.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { EgressOptions } from './agent-egress.ts';
import {
  addEgressOptions,
  describeEgress,
  egressFlagsGiven,
  nextEgress,
  recordEgress,
} from './agent-egress.ts';
import type { CliContext } from '../context.ts';
import type { LimitOptions } from './agent-limits.ts';
import {
  addLimitOptions,
  describeLimits,
  limitFlagsGiven,
  nextLimits,
  recordLimits,
} from './agent-limits.ts';
import type { BudgetOptions } from './agent-budget.ts';
import {
  addBudgetOptions,
  budgetFlagsGiven,
  describeBudget,
  nextBudget,
  recordBudget,
} from './agent-budget.ts';

/** Commander collector for repeatable options. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function checkSecretNames(names: readonly string[]): string[] {
  return names.map((n) => {
    const r = SecretName.safeParse(n);
    if (!r.success)
      throw new CorralError('invalid_argument', `invalid secret name '${n}': ${r.error.issues[0]?.message}`);
    return r.data;
  });
}

/** The grants after adding and removing, sorted and without duplicates. */
export function nextGrants(
  current: readonly string[],
  grant: readonly string[],
  revoke: readonly string[],
): string[] {
  const out = new Set([...current, ...checkSecretNames(grant)]);
  for (const r of checkSecretNames(revoke)) out.delete(r);
  return [...out].sort();
}

/** Records the grant changes and says which granted secrets cannot be used yet. */
export function recordGrants(
  ctx: CliContext,
  agent: string,
  before: readonly string[],
  after: readonly string[],
): void {
  const store = openStore(ctx.home);
  try {
    for (const s of after.filter((g) => !before.includes(g)))
      store.appendAudit({ actor: 'operator', action: 'agent.grant', subject: agent, detail: { secret: s } });
    for (const s of before.filter((g) => !after.includes(g)))
      store.appendAudit({ actor: 'operator', action: 'agent.revoke', subject: agent, detail: { secret: s } });
    const known = new Set(store.listSecrets().map((s) => s.name));
    const bound = new Set(store.listSecretBindings().map((b) => b.name));
    for (const s of after) {
      if (!known.has(s))
        ctx.err(`note: secret ${s} is not set yet: printf %s "$VALUE" | corral secret set ${s}\n`);
      else if (!bound.has(s))
        ctx.err(
          `note: secret ${s} is bound to no host, so it is never sent: corral secret set ${s} --host HOST\n`,
        );
    }
  } finally {
    store.close();
  }
}

type SetOptions = { grant: string[]; revoke: string[] } & BudgetOptions & EgressOptions & LimitOptions;

export function registerAgentSet(agent: Command, ctx: CliContext): void {
  addLimitOptions(addEgressOptions(addBudgetOptions(agent.command('set <name>')), true))
    .description('change an agent: grants, budgets, egress, limits (applies to the next request or sandbox)')
    .option('--grant <secret>', 'let the agent use this secret (repeatable)', collect, [])
    .option('--revoke <secret>', 'take a grant away (repeatable)', collect, [])
    .action((name: string, opts: SetOptions) => {
      const a = loadAgent(ctx.home, name);
      const limits = limitFlagsGiven(opts) ? nextLimits(a.limits, opts) : a.limits;
      const grants = nextGrants(a.grants, opts.grant, opts.revoke);
      const budget = budgetFlagsGiven(opts) ? nextBudget(a.budget, opts) : a.budget;
      const egress = nextEgress(a, opts);
      saveAgent(ctx.home, { ...a, grants, budget, ...egress, limits });
      if (limitFlagsGiven(opts)) {
        recordLimits(ctx, { ...a, limits });
        ctx.err(`agent ${name}: limits ${describeLimits(limits).join(', ')} (from its next sandbox)\n`);
      }
      recordEgress(ctx, name, a, egress);
      if (egressFlagsGiven(opts)) ctx.err(`agent ${name}: ${describeEgress(egress)}\n`);
      recordGrants(ctx, name, a.grants, grants);
      if (budgetFlagsGiven(opts)) {
        recordBudget(ctx, { ...a, budget });
        ctx.err(`agent ${name}: ${describeBudget(budget)}\n`);
      }
      const other = budgetFlagsGiven(opts) || egressFlagsGiven(opts) || limitFlagsGiven(opts);
      if (opts.grant.length + opts.revoke.length > 0 || !other)
        ctx.err(`agent ${name}: grants ${grants.length > 0 ? grants.join(', ') : '(none)'}\n`);
    });
}
