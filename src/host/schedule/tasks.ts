// Creating and changing scheduled tasks, for the CLI (the local operator) and the schedule_task tool (the agent):
// every change is decided by authorize() with action 'task.schedule' on `agent:NAME`, and audited.
import type { Principal } from '../../policy/actions.ts';
import { principalText } from '../../policy/actions.ts';
import type { DecisionContext } from '../../policy/decide.ts';
import type { MissedPolicy, TaskRow } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';
import type { Governance } from '../authorize.ts';
import { authorize, mustAllow } from '../authorize.ts';
import type { ScheduleInput } from './schedule.ts';
import { nextRunAfter, parseSchedule } from './schedule.ts';

/** A runaway agent (or script) must not fill the table: tasks per agent. */
export const MAX_TASKS_PER_AGENT = 100;
export const MAX_PROMPT_CHARS = 20_000;

export interface NewTask {
  agent: string;
  prompt: string;
  schedule: ScheduleInput;
  missed?: MissedPolicy;
  /** how errors name the schedule's fields: '--' (the CLI's flags, the default) or '' (an API body, a tool call) */
  flag?: string;
}

export interface TaskDeps {
  store: Store;
  gov: Governance;
  now: () => Date;
}

export interface Actor {
  principal: Principal;
  /** what decide() needs about the agent concerned (its declared rights) */
  context?: DecisionContext;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

async function allowed(
  deps: TaskDeps,
  by: Actor,
  agent: string,
  what: string,
  payload: Record<string, unknown>,
) {
  const d = await authorize(deps.gov, {
    principal: by.principal,
    action: 'task.schedule',
    resource: `agent:${agent}`,
    payload,
    ...(by.context === undefined ? {} : { context: by.context }),
  });
  mustAllow(d, what);
}

function audit(deps: TaskDeps, by: Actor, action: string, t: TaskRow, detail: Record<string, unknown> = {}) {
  deps.store.appendAudit({
    actor: principalText(by.principal),
    action,
    subject: t.agent,
    detail: { taskId: t.id, ...detail },
  });
}

export async function addTask(deps: TaskDeps, by: Actor, t: NewTask): Promise<TaskRow> {
  const prompt = t.prompt.trim();
  if (prompt === '') throw new CorralError('invalid_argument', 'a task needs a prompt', 'add --prompt TEXT');
  if (prompt.length > MAX_PROMPT_CHARS)
    throw new CorralError('invalid_argument', `the prompt is longer than ${MAX_PROMPT_CHARS} characters`);
  const s = parseSchedule(t.schedule, deps.now().getTime(), t.flag);
  const missed = t.missed ?? 'run_once';
  const payload = { agent: t.agent, prompt, kind: s.kind, schedule: s.schedule, tz: s.tz, missed };
  await allowed(deps, by, t.agent, `schedule a task for agent ${t.agent}`, payload);
  if (deps.store.listTasks(t.agent).length >= MAX_TASKS_PER_AGENT)
    throw new CorralError(
      'too_many_tasks',
      `agent ${t.agent} has ${MAX_TASKS_PER_AGENT} tasks already`,
      'remove some: corral task list, corral task rm ID',
    );
  deps.store.ensureAgent(t.agent);
  const row = deps.store.createTask({
    agent: t.agent,
    prompt,
    kind: s.kind,
    schedule: s.schedule,
    tz: s.tz,
    missed,
    nextRunAt: iso(s.firstRun),
    createdBy: principalText(by.principal),
  });
  audit(deps, by, 'task.create', row, { ...payload, nextRunAt: row.nextRunAt });
  return row;
}

function mustGet(store: Store, id: string): TaskRow {
  const t = store.getTask(id);
  if (t === undefined)
    throw new CorralError('task_unknown', `no task '${id}'`, 'list them with: corral task list');
  return t;
}

/** A task declared in an agent's file changes with the file only: the next reload would undo anything else. */
function mustBeAdded(t: TaskRow, verb: string): void {
  if (t.source !== 'file') return;
  throw new CorralError(
    'task_declared',
    `task ${t.id} is declared in agents/${t.agent}.yaml (schedules: ${t.name ?? '?'}); it cannot be ${verb} here`,
    verb === 'removed'
      ? `remove the entry '${t.name ?? '?'}' from agents/${t.agent}.yaml; the running host applies it`
      : `set paused: ${verb === 'paused' ? 'true' : 'false'} on the entry '${t.name ?? '?'}' in agents/${t.agent}.yaml; the running host applies it`,
  );
}

/** When a resumed task runs next: its schedule from now; a one-off that already ran stays done. */
export function resumedNext(t: TaskRow, nowMs: number): string | null {
  if (t.kind === 'at')
    return t.lastRunAt !== null ? null : new Date(Math.max(Date.parse(t.schedule), nowMs)).toISOString();
  return iso(nextRunAfter(t, nowMs));
}

export async function setTaskPaused(
  deps: TaskDeps,
  by: Actor,
  id: string,
  paused: boolean,
): Promise<TaskRow> {
  const t = mustGet(deps.store, id);
  mustBeAdded(t, paused ? 'paused' : 'resumed');
  const verb = paused ? 'pause' : 'resume';
  await allowed(deps, by, t.agent, `${verb} task ${id}`, { task: id, paused });
  const next = paused ? t.nextRunAt : resumedNext(t, deps.now().getTime());
  const row = deps.store.setTaskPaused(id, paused, next);
  audit(deps, by, `task.${verb}`, row, { nextRunAt: row.nextRunAt });
  return row;
}

export async function removeTask(deps: TaskDeps, by: Actor, id: string): Promise<TaskRow> {
  const t = mustGet(deps.store, id);
  mustBeAdded(t, 'removed');
  await allowed(deps, by, t.agent, `remove task ${id}`, { task: id, remove: true });
  deps.store.deleteTask(id);
  audit(deps, by, 'task.remove', t);
  return t;
}
