// What the dashboard changes in agent definitions: the YAML as the operator wrote it (validated by the same
// zod schema and line-numbered errors as the CLI and the host), pause/resume, delete and "allow this host".
// Every change goes through the policy (authorize) and the audit trail; the host's file watcher applies it.
import fs from 'node:fs';
import path from 'node:path';
import { egressAuditEntry, nextEgress } from '../../policy/egress-change.ts';
import { loadAgent, removeAgentFile, saveAgent } from '../../config/agent-files.ts';
import { loadConfig, resolveProvider } from '../../config/config-file.ts';
import type { HomePaths } from '../../config/home.ts';
import { AgentConfig, AgentName } from '../../config/schema.ts';
import { parseYaml, readRegularFile } from '../../config/yaml-file.ts';
import type { Governance } from '../../host/authorize.ts';
import { authorize } from '../../host/authorize.ts';
import type { Action, Principal } from '../../policy/actions.ts';
import { principalText } from '../../policy/actions.ts';
import type { Store } from '../../store/types.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';

export const MAX_YAML_BYTES = 64 * 1024;

export interface YamlProblem {
  line: number | null;
  message: string;
}
export type YamlVerdict = { ok: true; agent: AgentConfig } | { ok: false; problems: YamlProblem[] };

const label = (name: string): string => `agents/${name}.yaml`;

/** The definition file's text, or undefined when there is none. */
export function readAgentYaml(home: HomePaths, name: string): string | undefined {
  return readRegularFile(path.join(home.agentsDir, `${AgentName.parse(name)}.yaml`));
}

/**
 * Validates a definition exactly as the host will load it (parseYaml with AgentConfig), plus what `agent add`
 * checks: the name is the file's, and the model's provider exists. Problems carry their line where known.
 */
export function validateAgentYaml(home: HomePaths, text: string, expectedName?: string): YamlVerdict {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES)
    return { ok: false, problems: [{ line: null, message: `larger than ${MAX_YAML_BYTES} bytes` }] };
  const nameMatch = /^name:\s*['"]?([^'"\s#]+)/m.exec(text);
  const name = expectedName ?? nameMatch?.[1] ?? '';
  const named = AgentName.safeParse(name);
  if (!named.success)
    return {
      ok: false,
      problems: [{ line: null, message: `name: ${named.error.issues[0]?.message ?? 'invalid agent name'}` }],
    };
  let agent: AgentConfig;
  try {
    agent = parseYaml(label(name), text, AgentConfig);
  } catch (err) {
    if (!(err instanceof CorralError)) throw err;
    const prefix = label(name);
    const problems = err.message.split('\n').map((line): YamlProblem => {
      const m = /^(?:[^:]*?):(\d+): (.*)$/.exec(line);
      if (line.startsWith(prefix) && m !== null) return { line: Number(m[1]), message: m[2] ?? line };
      return { line: null, message: line.startsWith(prefix + ': ') ? line.slice(prefix.length + 2) : line };
    });
    return { ok: false, problems };
  }
  if (agent.name !== name)
    return { ok: false, problems: [{ line: null, message: `name must stay '${name}' (the file's name)` }] };
  try {
    resolveProvider(loadConfig(home), agent.model);
  } catch (err) {
    return { ok: false, problems: [{ line: null, message: `model: ${errorMessage(err)}` }] };
  }
  return { ok: true, agent };
}

/** A starting definition for a new agent: the configured default model and backend. */
export function agentTemplate(home: HomePaths): string {
  const { defaults } = loadConfig(home);
  return [
    'name: new-agent',
    `model: ${defaults.model}`,
    `backend: ${defaults.backend}`,
    'instructions: You are a helpful agent. Your files are in /workspace.',
    'egress: none',
    'allow: []',
    '',
  ].join('\n');
}

export interface AdminDeps {
  home: HomePaths;
  store: Store;
  governance: Governance;
}

export type Outcome =
  { ok: true; message: string } | { ok: false; message: string; problems?: YamlProblem[] };

/** Asks the policy; an `ask` leaves the action untaken and names the approval to decide first. */
async function allowed(
  deps: AdminDeps,
  who: Principal,
  action: Action,
  name: string,
  payload: Record<string, unknown>,
): Promise<Outcome | undefined> {
  const d = await authorize(deps.governance, {
    principal: who,
    action,
    resource: `agent:${name}`,
    payload,
  });
  if (d.effect === 'allow') return undefined;
  if (d.approval !== undefined)
    return {
      ok: false,
      message: `${action} on agent ${name} waits for approval ${d.approval}; approve it, then save again`,
    };
  return { ok: false, message: `${action} on agent ${name} refused: ${d.reason}` };
}

/** Writes the text atomically (a reader sees the old file or the new one). */
function writeAgentText(home: HomePaths, name: string, text: string): void {
  const file = path.join(home.agentsDir, `${AgentName.parse(name)}.yaml`);
  const tmp = `${file}.${process.pid}.web.tmp`;
  fs.mkdirSync(home.agentsDir, { recursive: true });
  fs.writeFileSync(tmp, text, { mode: 0o644, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/** Creates (`create`) or replaces an agent's definition with the operator's YAML, comments kept. */
export async function saveAgentYaml(
  deps: AdminDeps,
  who: Principal,
  text: string,
  opts: { create: boolean; name?: string },
): Promise<Outcome> {
  const v = validateAgentYaml(deps.home, text, opts.name);
  if (!v.ok) return { ok: false, message: 'the definition does not validate', problems: v.problems };
  const { name } = v.agent;
  const exists = readAgentYaml(deps.home, name) !== undefined;
  if (opts.create && exists) return { ok: false, message: `agent ${name} already exists` };
  if (!opts.create && !exists) return { ok: false, message: `unknown agent '${name}'` };
  const action = opts.create ? 'agent.create' : 'agent.update';
  const refused = await allowed(deps, who, action, name, { definition: v.agent });
  if (refused !== undefined) return refused;
  writeAgentText(deps.home, name, text);
  deps.store.appendAudit({
    actor: principalText(who),
    action: opts.create ? 'agent.add' : 'agent.set',
    subject: name,
    detail: { via: 'dashboard' },
  });
  return { ok: true, message: `agent ${name} ${opts.create ? 'created' : 'saved'}` };
}

export async function setPaused(
  deps: AdminDeps,
  who: Principal,
  name: string,
  paused: boolean,
): Promise<Outcome> {
  const agent = loadAgent(deps.home, name);
  const refused = await allowed(deps, who, 'agent.update', name, { paused });
  if (refused !== undefined) return refused;
  saveAgent(deps.home, { ...agent, paused });
  deps.store.appendAudit({
    actor: principalText(who),
    action: paused ? 'agent.pause' : 'agent.resume',
    subject: name,
    detail: { via: 'dashboard' },
  });
  return {
    ok: true,
    message: paused
      ? `agent ${name} paused: its messages wait in its queue`
      : `agent ${name} resumed: waiting messages run now`,
  };
}

/** Removes the definition; the workspace and the stored conversations stay (as `corral agent rm`). */
export async function deleteAgent(deps: AdminDeps, who: Principal, name: string): Promise<Outcome> {
  loadAgent(deps.home, name);
  const refused = await allowed(deps, who, 'agent.delete', name, {});
  if (refused !== undefined) return refused;
  removeAgentFile(deps.home, name);
  deps.store.appendAudit({
    actor: principalText(who),
    action: 'agent.rm',
    subject: name,
    detail: { purge: false, via: 'dashboard' },
  });
  return { ok: true, message: `agent ${name} removed (its workspace is kept)` };
}

/** "Allow this host": the CLI's `agent set --allow PATTERN` (same validation, same file write, same audit). */
export async function allowHost(
  deps: AdminDeps,
  who: Principal,
  name: string,
  pattern: string,
): Promise<Outcome> {
  const agent = loadAgent(deps.home, name);
  let next;
  try {
    next = nextEgress(agent, { allow: [pattern], disallow: [] });
  } catch (err) {
    return { ok: false, message: errorMessage(err) };
  }
  const refused = await allowed(deps, who, 'agent.update', name, { allow: next.allow });
  if (refused !== undefined) return refused;
  saveAgent(deps.home, { ...agent, ...next });
  const entry = egressAuditEntry(name, agent, next);
  if (entry !== undefined) deps.store.appendAudit({ ...entry, actor: principalText(who) });
  return { ok: true, message: `agent ${name} may now reach ${pattern}` };
}
