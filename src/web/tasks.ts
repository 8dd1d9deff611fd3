// /v1/tasks and /v1/agents/{name}/tasks: scheduled tasks over the API, with the same checks as `corral task`.
// The caller is the authenticated operator (src/web/auth.ts: viewers read, admins write); every change is decided
// by authorize() (`task.schedule` on agent:NAME) and audited in src/host/schedule/tasks.ts, then the scheduler's
// timer is re-armed. Tasks declared in an agent's file are listed but not changed here (409 task_declared).
import { z } from 'zod';
import type { AgentConfig } from '../config/schema.ts';
import { AgentName } from '../config/names.ts';
import type { TaskDeps } from '../host/schedule/tasks.ts';
import { addTask, MAX_PROMPT_CHARS, removeTask, setTaskPaused } from '../host/schedule/tasks.ts';
import type { Principal } from '../policy/actions.ts';
import { CorralError } from '../util/errors.ts';
import { API_OPERATOR, callerOf } from './auth.ts';
import type { Handler, Route } from './http-util.ts';
import { HttpError, readJsonBody, sendJson } from './http-util.ts';
import { MAX_BODY_BYTES } from './server.ts';

export const PostTask = z
  .object({
    prompt: z.string().min(1).max(MAX_PROMPT_CHARS).describe('what the agent is asked each time'),
    cron: z.string().max(200).optional().describe('five-field cron expression or @daily, @hourly, …'),
    tz: z.string().max(64).optional().describe('IANA zone of cron and at (default: the host zone)'),
    every: z.string().max(64).optional().describe('interval from the end of the previous run, e.g. 30m'),
    at: z
      .string()
      .max(64)
      .optional()
      .describe('once: 2030-01-31T09:00:00Z, "2030-01-31 09:00" (in tz) or +10m'),
    missed: z.enum(['run', 'skip']).optional().describe('a run missed while the host was down (default run)'),
  })
  .strict();

const ID = /^t-[0-9a-f]{8}$/;

/** What the schedule parsers and the task rules throw, as the HTTP status that fits. */
const STATUS: Record<string, number> = {
  invalid_argument: 400,
  invalid_cron: 400,
  invalid_time_zone: 400,
  task_declared: 409,
  too_many_tasks: 409,
  approval_required: 202,
};

export function taskRoutes(deps: {
  tasks: TaskDeps;
  /** the definition the daemon runs the agent with, or why there is none */
  agent: (name: string) => AgentConfig | CorralError;
  /** re-arms the scheduler's timer after a change */
  refresh: () => void;
  principal?: Principal;
  maxBodyBytes?: number;
}): Route[] {
  const { store } = deps.tasks;
  const by = (p: Principal) => ({ principal: p });
  const taskId = (raw: string | undefined): string => {
    if (!ID.test(raw ?? '')) throw new HttpError(404, 'task_unknown', `no task '${raw ?? ''}'`);
    return raw ?? '';
  };
  /** A known agent's name; `loaded` also asks for a valid definition (to add a task, as the CLI does). */
  const agentName = (raw: string | undefined, loaded: boolean): string => {
    const name = decodeURIComponent(raw ?? '');
    if (!AgentName.safeParse(name).success)
      throw new HttpError(404, 'agent_unknown', `unknown agent '${name}'`);
    const a = deps.agent(name);
    if (a instanceof CorralError && (loaded || a.code === 'agent_unknown')) throw a;
    return name;
  };
  const mapped =
    (h: Handler): Handler =>
    async (req, res, params, url) => {
      try {
        await h(req, res, params, url);
      } catch (err) {
        const status = err instanceof CorralError ? STATUS[err.code] : undefined;
        if (!(err instanceof CorralError) || status === undefined) throw err;
        if (status === 202) {
          // held for an approval (policy effect ask): the identical request passes once it is approved
          const approval = /ap-[0-9a-f]{8}/.exec(err.hint ?? '')?.[0];
          return sendJson(
            res,
            202,
            { status: 'held', reason: err.message, ...(approval === undefined ? {} : { approval }) },
            approval === undefined ? {} : { location: `/v1/approvals/${approval}` },
          );
        }
        throw new HttpError(status, err.code, err.message, err.hint);
      }
    };
  const change = (paused: boolean): Handler =>
    mapped(async (req, res, [raw]) => {
      const t = await setTaskPaused(
        deps.tasks,
        by(callerOf(req) ?? deps.principal ?? API_OPERATOR),
        taskId(raw),
        paused,
      );
      deps.refresh();
      sendJson(res, 200, t);
    });
  return [
    {
      method: 'GET',
      path: /^\/v1\/tasks$/,
      handler: (_req, res, _p, url) => {
        const agent = url.searchParams.get('agent');
        if (agent !== null && !AgentName.safeParse(agent).success)
          throw new HttpError(400, 'invalid_query', `agent '${agent}' is not an agent name`);
        sendJson(res, 200, { tasks: store.listTasks(agent ?? undefined) });
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/tasks\/([^/]+)$/,
      handler: (_req, res, [raw]) => {
        const t = store.getTask(taskId(raw));
        if (t === undefined) throw new HttpError(404, 'task_unknown', `no task '${raw ?? ''}'`);
        sendJson(res, 200, t);
      },
    },
    {
      method: 'DELETE',
      path: /^\/v1\/tasks\/([^/]+)$/,
      handler: mapped(async (req, res, [raw]) => {
        const t = await removeTask(
          deps.tasks,
          by(callerOf(req) ?? deps.principal ?? API_OPERATOR),
          taskId(raw),
        );
        deps.refresh();
        sendJson(res, 200, { removed: t });
      }),
    },
    { method: 'POST', path: /^\/v1\/tasks\/([^/]+)\/pause$/, handler: change(true) },
    { method: 'POST', path: /^\/v1\/tasks\/([^/]+)\/resume$/, handler: change(false) },
    {
      method: 'GET',
      path: /^\/v1\/agents\/([^/]+)\/tasks$/,
      handler: (_req, res, [raw]) => {
        const agent = agentName(raw, false);
        sendJson(res, 200, { agent, tasks: store.listTasks(agent) });
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/agents\/([^/]+)\/tasks$/,
      handler: mapped(async (req, res, [raw]) => {
        const agent = agentName(raw, true);
        const body = await readJsonBody(req, deps.maxBodyBytes ?? MAX_BODY_BYTES, PostTask);
        const { prompt, missed, ...schedule } = body;
        const t = await addTask(deps.tasks, by(callerOf(req) ?? deps.principal ?? API_OPERATOR), {
          agent,
          prompt,
          schedule,
          ...(missed === undefined ? {} : { missed: missed === 'skip' ? 'skip' : 'run_once' }),
          flag: '',
        });
        deps.refresh();
        sendJson(res, 201, t, { location: `/v1/tasks/${t.id}` });
      }),
    },
  ];
}
