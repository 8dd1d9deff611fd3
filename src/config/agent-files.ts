// Agent definitions: one YAML file per agent under $CORRAL_HOME/agents, so they can live in git.
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../util/errors.ts';
import type { HomePaths } from './home.ts';
import { AgentName, AgentConfig } from './schema.ts';
import { parseYaml, readRegularFile, writeYaml } from './yaml-file.ts';

function agentFile(home: HomePaths, name: string): string {
  const checked = AgentName.safeParse(name);
  if (!checked.success) {
    throw new CorralError(
      'agent_name_invalid',
      `invalid agent name '${name}': ${checked.error.issues[0]?.message}`,
    );
  }
  return path.join(home.agentsDir, `${checked.data}.yaml`);
}

export function agentExists(home: HomePaths, name: string): boolean {
  return fs.existsSync(agentFile(home, name));
}

export function loadAgent(home: HomePaths, name: string): AgentConfig {
  const file = agentFile(home, name);
  const text = readRegularFile(file);
  if (text === undefined) {
    throw new CorralError('agent_unknown', `unknown agent '${name}'`, `create it: corral agent add ${name}`);
  }
  const agent = parseYaml(file, text, AgentConfig);
  if (agent.name !== name) {
    throw new CorralError(
      'config_invalid',
      `${file}: name '${agent.name}' does not match the file name '${name}'`,
    );
  }
  return agent;
}

export function saveAgent(home: HomePaths, agent: AgentConfig): void {
  writeYaml(agentFile(home, agent.name), AgentConfig.parse(agent));
}

export function listAgentNames(home: HomePaths): string[] {
  if (!fs.existsSync(home.agentsDir)) return [];
  return fs
    .readdirSync(home.agentsDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .filter((n) => AgentName.safeParse(n).success)
    .sort();
}

export function removeAgentFile(home: HomePaths, name: string): void {
  fs.rmSync(agentFile(home, name), { force: true });
}
