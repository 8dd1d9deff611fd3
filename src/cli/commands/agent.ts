// corral agent add|list|show|rm: agent definitions are files under $CORRAL_HOME/agents.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import {
  agentExists,
  listAgentNames,
  loadAgent,
  removeAgentFile,
  saveAgent,
} from '../../config/agent-files.ts';
import { loadConfig, resolveProvider } from '../../config/config-file.ts';
import { AgentConfig } from '../../config/schema.ts';
import { purgeAgentEnv } from '../../host/agent-env.ts';
import { agentDataDir, removeAgentVolume } from '../../host/agent-volume.ts';
import { openHost, openStore } from '../../host/open.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';
import type { BudgetOptions } from './agent-budget.ts';
import { addBudgetOptions, budgetFlagsGiven, nextBudget, recordBudget } from './agent-budget.ts';
import type { EgressOptions } from '../../policy/egress-change.ts';
import type { LimitOptions } from './agent-limits.ts';
import { addLimitOptions, describeLimits, limitFlagsGiven, nextLimits } from './agent-limits.ts';
import { sandboxLimits, timeLimits } from '../../host/limits.ts';
import { nextEgress } from '../../policy/egress-change.ts';
import { addEgressOptions } from './agent-egress.ts';
import { registerAgentEnv } from './agent-env.ts';
import { collect, nextGrants, recordGrants, registerAgentSet } from './agent-set.ts';
import { authorizeAgentChange, parseMountFlag } from './agent-authorize.ts';

interface AddOptions extends BudgetOptions, Omit<EgressOptions, 'disallow'>, LimitOptions {
  model?: string;
  instructions?: string;
  backend?: string;
  maxSteps?: string;
  grant: string[];
  mount: string[];
}

export function registerAgent(program: Command, ctx: CliContext): void {
  const agent = program.command('agent').description('define, list and remove agents');
  addLimitOptions(addEgressOptions(addBudgetOptions(agent.command('add <name>')), false))
    .description('define a new agent (defaults: the configured default model and backend)')
    .option('--model <provider:model>', 'model, e.g. anthropic:claude-sonnet-4-5 or ollama:llama3.1')
    .option('--instructions <text>', 'system instructions')
    .option('--backend <name>', 'sandbox backend (bwrap)')
    .option('--max-steps <n>', 'model calls per turn')
    .option('--grant <secret>', 'let the agent use this secret (repeatable)', collect, [])
    .option(
      '--mount <host:/mnt/name[:rw]>',
      'show it a host folder, read-only unless :rw (repeatable)',
      collect,
      [],
    )
    .action(async (name: string, opts: AddOptions) => {
      const config = loadConfig(ctx.home);
      if (agentExists(ctx.home, name)) {
        throw new CorralError(
          'agent_exists',
          `agent ${name} already exists`,
          `see it: corral agent show ${name}`,
        );
      }
      const parsed = AgentConfig.safeParse({
        name,
        model: opts.model ?? config.defaults.model,
        backend: opts.backend ?? config.defaults.backend,
        ...(opts.instructions === undefined ? {} : { instructions: opts.instructions }),
        ...(opts.maxSteps === undefined ? {} : { maxSteps: Number(opts.maxSteps) }),
        ...(budgetFlagsGiven(opts) ? { budget: nextBudget(undefined, opts) } : {}),
        grants: nextGrants([], opts.grant, []),
        mounts: opts.mount.map(parseMountFlag),
        ...(limitFlagsGiven(opts) ? { limits: nextLimits({}, opts) } : {}),
        ...nextEgress({ egress: 'none', allow: [] }, { ...opts, disallow: [] }),
      });
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        throw new CorralError(
          'invalid_argument',
          `agent ${name}: ${i?.path.map(String).join('.')}: ${i?.message}`,
        );
      }
      resolveProvider(config, parsed.data.model); // unknown provider: say so now, not at the first message
      await authorizeAgentChange(ctx, {
        action: 'agent.create',
        agent: name,
        payload: parsed.data,
        newGrants: parsed.data.grants,
        newMounts: parsed.data.mounts,
      });
      saveAgent(ctx.home, parsed.data);
      if (parsed.data.budget !== undefined) recordBudget(ctx, parsed.data);
      recordGrants(ctx, name, [], parsed.data.grants);
      const store = openStore(ctx.home);
      try {
        store.ensureAgent(name);
        store.appendAudit({
          actor: 'operator',
          action: 'agent.add',
          subject: name,
          detail: { model: parsed.data.model },
        });
      } finally {
        store.close();
      }
      ctx.err(
        `agent ${name} (${parsed.data.model}, ${parsed.data.backend}) → ${path.join(ctx.home.agentsDir, `${name}.yaml`)}\n`,
      );
    });
  registerAgentSet(agent, ctx);
  registerAgentEnv(agent, ctx);
  agent
    .command('list')
    .description('list agents')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const rows = listAgentNames(ctx.home).map((n) => {
        const a = loadAgent(ctx.home, n);
        return { name: a.name, model: a.model, backend: a.backend };
      });
      printTable(ctx, rows, opts.json === true, 'no agents; add one: corral agent add NAME');
    });
  agent
    .command('show <name>')
    .description('print an agent definition')
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean }) => {
      const a = loadAgent(ctx.home, name);
      const effective = { ...sandboxLimits(a.limits), ...timeLimits(a.limits) };
      if (opts.json === true) ctx.out(JSON.stringify({ ...a, effectiveLimits: effective }, null, 2) + '\n');
      else ctx.out(`${stringify(a)}# limits in force: ${describeLimits(a.limits).join(', ')}\n`);
    });
  agent
    .command('rm <name>')
    .description('remove an agent definition (its workspace is kept unless --purge)')
    .option('--purge', 'also delete its workspace, environment, snapshots and stored conversations')
    .action(async (name: string, opts: { purge?: boolean }) => {
      const a = loadAgent(ctx.home, name);
      await authorizeAgentChange(ctx, {
        action: 'agent.delete',
        agent: name,
        payload: { name, purge: opts.purge === true },
      });
      // refused while a sandbox runs on its environment: checked before anything is removed
      if (opts.purge === true) {
        // the backend may keep part of the environment itself (Docker: a container, snapshot images)
        const opened = openHost(ctx.home, ctx.log);
        try {
          const layerDir = path.join(agentDataDir(ctx.home, name), 'layer');
          await purgeAgentEnv(ctx.home, name, layerDir, opened.sandboxes.get(a.backend));
        } finally {
          await opened.close();
        }
      }
      removeAgentFile(ctx.home, name);
      const store = openStore(ctx.home);
      try {
        if (opts.purge === true) {
          store.deleteAgent(name);
          fs.rmSync(path.join(ctx.home.workspacesDir, name), { recursive: true, force: true });
          await removeAgentVolume(ctx.home, name);
        }
        store.appendAudit({
          actor: 'operator',
          action: 'agent.rm',
          subject: name,
          detail: { purge: opts.purge === true },
        });
      } finally {
        store.close();
      }
    });
}
