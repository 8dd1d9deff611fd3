// The daemon's view of $CORRAL_HOME/agents: every definition loaded at start and reloaded when its file changes
// (fs.watch, debounced), so `corral agent set` or a `git pull` applies without a restart. A file that stops
// validating keeps the last good definition running and logs the error with its file and line.
import fs from 'node:fs';
import path from 'node:path';
import { listAgentNames, loadAgent } from '../../config/agent-files.ts';
import type { HomePaths } from '../../config/home.ts';
import { AgentName } from '../../config/schema.ts';
import type { AgentConfig } from '../../config/schema.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';

/** Editors write a file in several steps; wait for them to settle. */
export const RELOAD_DEBOUNCE_MS = 200;

export type CatalogChange =
  | { type: 'loaded'; agent: AgentConfig }
  | { type: 'invalid'; name: string; error: string; keptLastGood: boolean }
  | { type: 'removed'; name: string };

export function createAgentCatalog(opts: {
  home: HomePaths;
  log: Logger;
  onChange?: (c: CatalogChange) => void;
  debounceMs?: number;
}) {
  const { home, log } = opts;
  const good = new Map<string, AgentConfig>();
  const broken = new Map<string, string>();
  const timers = new Map<string, NodeJS.Timeout>();
  let watcher: fs.FSWatcher | undefined;

  const reload = (name: string): void => {
    const file = path.join(home.agentsDir, `${name}.yaml`);
    if (!fs.existsSync(file)) {
      const had = good.delete(name) || broken.delete(name);
      if (had) {
        log.info('agent removed', { agent: name, file });
        opts.onChange?.({ type: 'removed', name });
      }
      return;
    }
    try {
      const agent = loadAgent(home, name);
      const before = good.get(name);
      good.set(name, agent);
      broken.delete(name);
      if (JSON.stringify(before) !== JSON.stringify(agent)) {
        log.info(before ? 'agent reloaded' : 'agent loaded', { agent: name });
        opts.onChange?.({ type: 'loaded', agent });
      }
    } catch (err) {
      const error = errorMessage(err);
      const keptLastGood = good.has(name);
      broken.set(name, error);
      // the message names file:line and field (see config/yaml-file.ts)
      log.error(
        keptLastGood ? 'agent file invalid; keeping the last good definition' : 'agent file invalid',
        {
          agent: name,
          error,
        },
      );
      opts.onChange?.({ type: 'invalid', name, error, keptLastGood });
    }
  };

  const schedule = (name: string): void => {
    clearTimeout(timers.get(name));
    timers.set(
      name,
      setTimeout(() => {
        timers.delete(name);
        reload(name);
      }, opts.debounceMs ?? RELOAD_DEBOUNCE_MS),
    );
  };

  return {
    /** Loads every definition, then follows changes. */
    start(): void {
      fs.mkdirSync(home.agentsDir, { recursive: true });
      for (const name of listAgentNames(home)) reload(name);
      watcher = fs.watch(home.agentsDir, (_event, filename) => {
        if (filename === null) return;
        const base = path.basename(filename.toString());
        if (!base.endsWith('.yaml')) return; // editors' and writeYaml's temporary files
        const name = base.slice(0, -'.yaml'.length);
        if (AgentName.safeParse(name).success) schedule(name);
      });
      watcher.on('error', (err) => log.error('cannot watch the agents directory', { err: err.message }));
    },
    /** The definition to run with, or why there is none. */
    get(name: string): AgentConfig | CorralError {
      const agent = good.get(name);
      if (agent !== undefined) return agent;
      const error = broken.get(name);
      if (error !== undefined)
        return new CorralError('agent_invalid', `agent '${name}' has no valid definition: ${error}`);
      return new CorralError(
        'agent_unknown',
        `unknown agent '${name}'`,
        `create it: corral agent add ${name}`,
      );
    },
    names: (): string[] => [...good.keys()].sort(),
    close(): void {
      watcher?.close();
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}

export type AgentCatalog = ReturnType<typeof createAgentCatalog>;
