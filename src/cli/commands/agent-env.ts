// corral agent reset|snapshot|snapshots|restore: an agent's environment (writable layer + workspace).
import type { Command } from 'commander';
import { loadAgent } from '../../config/agent-files.ts';
import type { AgentEnvDeps, SnapshotManifest } from '../../host/agent-env.ts';
import { listSnapshots, resetAgentEnv, restoreAgentEnv, snapshotAgentEnv } from '../../host/agent-env.ts';
import { openHost, openStore } from '../../host/open.ts';
import type { SandboxBackend } from '../../sandbox/types.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

const MIB = 1024 * 1024;

/** Agent-environment deps with the agent's backend (which may keep part of the environment itself, e.g. Docker). */
async function withBackend<T>(
  ctx: CliContext,
  name: string,
  fn: (deps: AgentEnvDeps, backend: SandboxBackend | undefined) => Promise<T>,
): Promise<T> {
  const opened = openHost(ctx.home, ctx.log);
  try {
    const deps = { home: ctx.home, store: opened.store, isRoot: process.getuid?.() === 0, log: ctx.log };
    return await fn(deps, opened.sandboxes.get(name));
  } finally {
    await opened.close();
  }
}

function audit(ctx: CliContext, action: string, subject: string, detail: Record<string, unknown>): void {
  const store = openStore(ctx.home);
  try {
    store.appendAudit({ actor: 'operator', action, subject, detail });
  } finally {
    store.close();
  }
}

/** "snapshot helper: 120 MiB" rewritten in place on a terminal; nothing when stderr is a file or pipe. */
function progress(ctx: CliContext, label: string): { update(bytes: number): void; done(): void } {
  const tty = process.stderr.isTTY;
  let shown = false;
  return {
    update(bytes) {
      if (!tty) return;
      shown = true;
      ctx.err(`\r${label}: ${(bytes / MIB).toFixed(0)} MiB`);
    },
    done() {
      if (shown) ctx.err('\n');
    },
  };
}

function rows(list: SnapshotManifest[]): Record<string, unknown>[] {
  return list.map((m) => ({ tag: m.tag, created: m.created, size: `${(m.bytes / MIB).toFixed(1)} MiB` }));
}

export function registerAgentEnv(agent: Command, ctx: CliContext): void {
  const list = (name: string, json: boolean): void => {
    loadAgent(ctx.home, name);
    const found = listSnapshots(ctx.home, name);
    if (json) ctx.out(JSON.stringify(found, null, 2) + '\n');
    else
      printTable(
        ctx,
        rows(found),
        false,
        `agent ${name} has no snapshots; take one: corral agent snapshot ${name}`,
      );
  };
  agent
    .command('reset <name>')
    .description(
      "drop the agent's writable environment (installed packages, /etc, /root); the workspace stays",
    )
    .action(async (name: string) => {
      const a = loadAgent(ctx.home, name);
      // the agent's backend knows whether it keeps state of its own besides the layer directory
      const opened = openHost(ctx.home, ctx.log);
      try {
        await resetAgentEnv(
          { home: ctx.home, store: opened.store, isRoot: process.getuid?.() === 0, log: ctx.log },
          a,
          opened.sandboxes.get(a.backend),
        );
      } finally {
        await opened.close();
      }
      audit(ctx, 'agent.reset', name, {});
      ctx.err(`agent ${name}: environment reset to the base image\n`);
    });
  agent
    .command('snapshot <name> [tag]')
    .description(
      "save the agent's environment and workspace (tag: a timestamp unless given); `snapshot list NAME` lists",
    )
    .option('--json', 'print JSON (for snapshot list)')
    .action(async (name: string, tag: string | undefined, opts: { json?: boolean }) => {
      if (name === 'list' && tag !== undefined) {
        list(tag, opts.json === true);
        return;
      }
      const a = loadAgent(ctx.home, name);
      const bar = progress(ctx, `snapshot ${name}`);
      const m = await withBackend(ctx, a.backend, (deps, backend) =>
        snapshotAgentEnv(deps, a, tag, (b) => bar.update(b), backend),
      );
      bar.done();
      audit(ctx, 'agent.snapshot', name, { tag: m.tag, bytes: m.bytes, sha256: m.sha256 });
      if (opts.json === true) ctx.out(JSON.stringify(m, null, 2) + '\n');
      else ctx.out(`${m.tag}\n`);
      ctx.err(`agent ${name}: snapshot ${m.tag} (${(m.bytes / MIB).toFixed(1)} MiB)\n`);
    });
  agent
    .command('snapshots <name>')
    .description("list the agent's snapshots")
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean }) => list(name, opts.json === true));
  agent
    .command('restore <name> <tag>')
    .description("replace the agent's environment and workspace with a snapshot's")
    .action(async (name: string, tag: string) => {
      const a = loadAgent(ctx.home, name);
      const m = await withBackend(ctx, a.backend, (deps, backend) => restoreAgentEnv(deps, a, tag, backend));
      audit(ctx, 'agent.restore', name, { tag: m.tag, sha256: m.sha256 });
      ctx.err(`agent ${name}: environment and workspace restored from ${m.tag} (${m.created})\n`);
    });
}
