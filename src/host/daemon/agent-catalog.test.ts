// The agent catalog on a real directory with real inotify events: new, changed, broken and removed files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveAgent } from '../../config/agent-files.ts';
import type { HomePaths } from '../../config/home.ts';
import { resolveHome } from '../../config/home.ts';
import { AgentConfig } from '../../config/schema.ts';
import { createLogger } from '../../util/log.ts';
import type { CatalogChange } from './agent-catalog.ts';
import { createAgentCatalog } from './agent-catalog.ts';

let home: HomePaths;
let changes: CatalogChange[];
let logs: string[];
let catalog: ReturnType<typeof createAgentCatalog>;

beforeEach(() => {
  home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-catalog-')) });
  fs.mkdirSync(home.agentsDir, { recursive: true });
  changes = [];
  logs = [];
  saveAgent(home, AgentConfig.parse({ name: 'alpha', model: 'p:one' }));
  catalog = createAgentCatalog({
    home,
    log: createLogger({ level: 'info', write: (l) => void logs.push(l) }),
    onChange: (c) => void changes.push(c),
    debounceMs: 20,
  });
  catalog.start();
  changes.splice(0); // the initial load
});
afterEach(() => {
  catalog.close();
  fs.rmSync(home.root, { recursive: true, force: true });
});

/** Waits for the next change matching `pred` (inotify is fast, but not synchronous). */
async function next(pred: (c: CatalogChange) => boolean): Promise<CatalogChange> {
  for (let i = 0; i < 200; i++) {
    const found = changes.find(pred);
    if (found) {
      changes.splice(changes.indexOf(found), 1);
      return found;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no such change; seen: ${JSON.stringify(changes)}`);
}

const modelOf = (name: string): string => {
  const a = catalog.get(name);
  return a instanceof Error ? `error: ${a.message}` : a.model;
};

describe('agent catalog', () => {
  it('loads existing files and picks up a new and a changed one without a restart', async () => {
    expect(modelOf('alpha')).toBe('p:one');
    saveAgent(home, AgentConfig.parse({ name: 'beta', model: 'p:two' }));
    await next((c) => c.type === 'loaded' && c.agent.name === 'beta');
    expect(catalog.names()).toEqual(['alpha', 'beta']);
    saveAgent(home, AgentConfig.parse({ name: 'alpha', model: 'p:three' }));
    await next((c) => c.type === 'loaded' && c.agent.name === 'alpha');
    expect(modelOf('alpha')).toBe('p:three');
  });

  it('keeps the last good definition when a file breaks, naming file and line, until it is fixed', async () => {
    const file = path.join(home.agentsDir, 'alpha.yaml');
    fs.writeFileSync(file, 'name: alpha\nmodel: p:one\nmaxSteps: lots\n');
    const bad = await next((c) => c.type === 'invalid');
    expect(bad).toMatchObject({ name: 'alpha', keptLastGood: true });
    expect(bad.type === 'invalid' && bad.error).toContain(`${file}:3: maxSteps`);
    expect(modelOf('alpha')).toBe('p:one');
    expect(logs.join('')).toContain('keeping the last good definition');
    fs.writeFileSync(file, 'name: alpha\nmodel: p:fixed\n');
    await next((c) => c.type === 'loaded');
    expect(modelOf('alpha')).toBe('p:fixed');
  });

  it('refuses an agent that never had a valid file, and forgets a removed one', async () => {
    fs.writeFileSync(path.join(home.agentsDir, 'gamma.yaml'), 'name: gamma\n');
    await next((c) => c.type === 'invalid' && c.name === 'gamma');
    expect(modelOf('gamma')).toMatch(/^error: agent 'gamma' has no valid definition: .*gamma\.yaml/);
    fs.rmSync(path.join(home.agentsDir, 'alpha.yaml'));
    await next((c) => c.type === 'removed' && c.name === 'alpha');
    expect(modelOf('alpha')).toBe("error: unknown agent 'alpha'");
  });
});
