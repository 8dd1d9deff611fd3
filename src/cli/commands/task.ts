// corral task add|list|pause|resume|rm: scheduled prompts for an agent, decided by the policy as the local
// operator and written to the store; a running host is told through its run directory and re-arms its timer.
import type { Command } from 'commander';
import { loadAgent } from '../../config/agent-files.ts';
import { openGovernance } from '../../host/governance.ts';
import { openStore } from '../../host/open.ts';
import { describeSchedule } from '../../host/schedule/schedule.ts';
import type { TaskDeps } from '../../host/schedule/tasks.ts';
import { addTask, removeTask, setTaskPaused } from '../../host/schedule/tasks.ts';
import { notifyTasksChanged } from '../../host/schedule/wake.ts';
import { LOCAL_OPERATOR } from '../../policy/actions.ts';
import type { MissedPolicy, TaskRow } from '../../store/daemon-types.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { printTable } from '../context.ts';

interface AddOptions {
  cron?: string;
  every?: string;
  at?: string;
  tz?: string;
  prompt: string;
  missed: string;
}

const operator = { principal: LOCAL_OPERATOR };

async function withTasks<T>(ctx: CliContext, fn: (deps: TaskDeps) => Promise<T> | T): Promise<T> {
  const store = openStore(ctx.home);
  try {
    return await fn({ store, gov: openGovernance(ctx.home, store), now: () => new Date() });
  } finally {
    store.close();
  }
}

function missedPolicy(text: string): MissedPolicy {
  if (text === 'run') return 'run_once';
  if (text === 'skip') return 'skip';
  throw new CorralError('invalid_argument', `--missed ${text}: use run or skip`);
}

function status(t: TaskRow): string {
  if (t.paused) return 'paused';
  return t.nextRunAt === null ? 'done' : 'active';
}

export function registerTask(program: Command, ctx: CliContext): void {
  const cmd = program.command('task').description('prompts an agent runs on a schedule (in its own session)');
  cmd
    .command('add <agent>')
    .description('schedule a prompt: --cron EXPR [--tz ZONE], --every DURATION or --at TIME')
    .option('--cron <expr>', 'five-field cron expression or @hourly/@daily/…, e.g. "30 9 * * mon-fri"')
    .option('--tz <zone>', 'IANA time zone of --cron and --at (default: the host zone)')
    .option('--every <duration>', 'interval, counted from the end of the previous run, e.g. 30m')
    .option('--at <time>', 'once: 2030-01-31T09:00:00Z, "2030-01-31 09:00" (in --tz) or +10m')
    .requiredOption('--prompt <text>', 'what the agent is asked each time')
    .option(
      '--missed <run|skip>',
      'a run missed while the host was down: run it once on start, or skip it',
      'run',
    )
    .option('--json', 'print the task as JSON')
    .action(async (agent: string, opts: AddOptions & { json?: boolean }) => {
      loadAgent(ctx.home, agent); // an unknown or broken agent file fails here, with its own message
      const schedule = {
        ...(opts.cron === undefined ? {} : { cron: opts.cron }),
        ...(opts.every === undefined ? {} : { every: opts.every }),
        ...(opts.at === undefined ? {} : { at: opts.at }),
        ...(opts.tz === undefined ? {} : { tz: opts.tz }),
      };
      const missed = missedPolicy(opts.missed);
      const task = await withTasks(ctx, (deps) =>
        addTask(deps, operator, { agent, prompt: opts.prompt, schedule, missed }),
      );
      notifyTasksChanged(ctx.home);
      if (opts.json === true) return ctx.out(JSON.stringify(task, null, 2) + '\n');
      ctx.out(`${task.id}\n`);
      ctx.err(`task ${task.id}: ${describeSchedule(task)}, next run ${task.nextRunAt ?? '-'}\n`);
    });
  cmd
    .command('list')
    .description('scheduled tasks and when they run next')
    .option('--agent <name>', 'only this agent’s tasks')
    .option('--json', 'print JSON')
    .action(async (opts: { agent?: string; json?: boolean }) => {
      const tasks = await withTasks(ctx, ({ store }) => store.listTasks(opts.agent));
      if (opts.json === true) return ctx.out(JSON.stringify(tasks, null, 2) + '\n');
      const rows = tasks.map((t) => ({
        id: t.id,
        agent: t.agent,
        status: status(t),
        schedule: describeSchedule(t),
        next: t.paused ? null : t.nextRunAt,
        last: t.lastRunAt,
        missed: t.missed === 'run_once' ? 'run' : 'skip',
        // declared in the agent's file (change it there) or added by the CLI, the API or the agent itself
        source: t.source === 'file' ? `file: ${t.name ?? '?'}` : t.createdBy,
        prompt: t.prompt.length > 40 ? `${t.prompt.slice(0, 39)}…` : t.prompt,
      }));
      printTable(ctx, rows, false, 'no tasks (add one: corral task add AGENT --every 1h --prompt "…")');
    });
  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const)
    cmd
      .command(`${name} <id>`)
      .description(paused ? 'stop running a task until resumed' : 'run a paused task again, from now on')
      .action(async (id: string) => {
        const t = await withTasks(ctx, (deps) => setTaskPaused(deps, operator, id, paused));
        notifyTasksChanged(ctx.home);
        ctx.err(`task ${t.id} ${paused ? 'paused' : `resumed; next run ${t.nextRunAt ?? '-'}`}\n`);
      });
  cmd
    .command('rm <id>')
    .description('remove a task (its past runs stay in its session)')
    .action(async (id: string) => {
      await withTasks(ctx, (deps) => removeTask(deps, operator, id));
      notifyTasksChanged(ctx.home);
      ctx.err(`task ${id} removed\n`);
    });
}
