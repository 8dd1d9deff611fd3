// corral agent set NAME: changes an existing agent definition; applies to the next request or turn.
// Grants name the secrets an agent may use (it sees sentinels; the gateway sends values to bound hosts).
import type { Command } from 'commander';
import { loadAgent, saveAgent } from '../../config/agent-files.ts';
import { SecretName } from '../../config/names.ts';
import { openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { AgentMount } from '../../config/governance.ts';
import { authorizeAgentChange, parseMountFlag } from './agent-authorize.ts';
import type { EgressOptions } from '../../policy/egress-change.ts';
import { describeEgress, nextEgress } from '../../policy/egress-change.ts';
import { addEgressOptions, egressFlagsGiven, recordEgress } from './agent-egress.ts';
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
import type { ChannelOptions } from './agent-channel.ts';
import { addChannelOptions, channelFlagsGiven, describeChannels, nextChannels } from './agent-channel.ts';
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

type SetOptions = { grant: string[]; revoke: string[]; mount: string[]; unmount: string[] } & BudgetOptions &
  EgressOptions &
  LimitOptions &
  ChannelOptions;

const sameMount = (a: AgentMount, b: AgentMount): boolean =>
  a.host === b.host && a.path === b.path && a.write === b.write;

/** The mounts after adding (a new one at a path replaces the old) and removing by path. */
export function nextMounts(
  current: readonly AgentMount[],
  add: readonly string[],
  remove: readonly string[],
): AgentMount[] {
  const added = add.map(parseMountFlag);
  for (const p of remove)
    if (!current.some((m) => m.path === p))
      throw new CorralError('invalid_argument', `--unmount ${p}: the agent has no mount at ${p}`);
  const kept = current.filter((m) => !remove.includes(m.path) && !added.some((a) => a.path === m.path));
  return [...kept, ...added];
}

export function registerAgentSet(agent: Command, ctx: CliContext): void {
  addChannelOptions(addLimitOptions(addEgressOptions(addBudgetOptions(agent.command('set <name>')), true)))
    .description(
      'change an agent: grants, budgets, egress, limits, channels (applies to the next request or sandbox)',
    )
    .option('--grant <secret>', 'let the agent use this secret (repeatable)', collect, [])
    .option('--revoke <secret>', 'take a grant away (repeatable)', collect, [])
    .option(
      '--mount <host:/mnt/name[:rw]>',
      'show it a host folder, read-only unless :rw (repeatable)',
      collect,
      [],
    )
    .option('--unmount </mnt/name>', 'take a mount away (repeatable)', collect, [])
    .action(async (name: string, opts: SetOptions) => {
      const a = loadAgent(ctx.home, name);
      const mounts = nextMounts(a.mounts, opts.mount, opts.unmount);
      const limits = limitFlagsGiven(opts) ? nextLimits(a.limits, opts) : a.limits;
      const grants = nextGrants(a.grants, opts.grant, opts.revoke);
      const budget = budgetFlagsGiven(opts) ? nextBudget(a.budget, opts) : a.budget;
      const egress = nextEgress(a, opts);
      const channels =
        channelFlagsGiven(opts) || opts.trigger !== undefined ? nextChannels(a.channels, opts) : a.channels;
      const next = { ...a, grants, budget, ...egress, limits, mounts, channels };
      await authorizeAgentChange(ctx, {
        action: 'agent.update',
        agent: name,
        payload: next,
        newGrants: grants.filter((g) => !a.grants.includes(g)),
        newMounts: mounts.filter((m) => !a.mounts.some((b) => sameMount(m, b))),
      });
      saveAgent(ctx.home, next);
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
      if (opts.mount.length + opts.unmount.length > 0)
        ctx.err(
          `agent ${name}: mounts ${mounts.map((m) => `${m.host}:${m.path}${m.write ? ':rw' : ''}`).join(', ') || '(none)'} (from its next sandbox)\n`,
        );
      if (channelFlagsGiven(opts)) ctx.err(`agent ${name}: ${describeChannels(ctx, channels)}\n`);
      const other =
        channelFlagsGiven(opts) ||
        budgetFlagsGiven(opts) ||
        egressFlagsGiven(opts) ||
        limitFlagsGiven(opts) ||
        opts.mount.length + opts.unmount.length > 0;
      if (opts.grant.length + opts.revoke.length > 0 || !other)
        ctx.err(`agent ${name}: grants ${grants.length > 0 ? grants.join(', ') : '(none)'}\n`);
    });
}
