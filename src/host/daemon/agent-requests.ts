// The daemon's answers to what an agent asks the host during a turn (schedule_task, send_message): each decided by
// the policy for principal agent:NAME, and each answer is the tool result the model reads.
import type { AgentConfig } from '../../config/schema.ts';
import { agentRights } from '../../policy/rights.ts';
import type { InboundRow } from '../../store/daemon-types.ts';
import type { Clock } from '../../util/clock.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import { describeSchedule } from '../schedule/schedule.ts';
import type { Scheduler } from '../schedule/scheduler.ts';
import { addTask } from '../schedule/tasks.ts';
import type { RequestHandler } from '../turn.ts';
import type { AgentMessageDeps } from './agent-messages.ts';
import { sendAgentMessage } from './agent-messages.ts';

export function createAgentRequests(deps: AgentMessageDeps & { clock: Clock; scheduler: Scheduler }) {
  return (agent: AgentConfig, current: InboundRow): RequestHandler =>
    async (r) => {
      try {
        switch (r.action) {
          case 'schedule_task': {
            const { prompt, missed, action: _action, ...schedule } = r;
            const task = await addTask(
              { store: deps.store, gov: deps.gov, now: () => deps.clock.now() },
              { principal: { kind: 'agent', name: agent.name }, context: { agent: agentRights(agent) } },
              {
                agent: agent.name,
                prompt,
                schedule,
                flag: '', // the tool's arguments are named cron, every, at and tz, not --cron …
                ...(missed === undefined ? {} : { missed: missed === 'run' ? 'run_once' : 'skip' }),
              },
            );
            deps.scheduler.refresh();
            const output = `scheduled task ${task.id}: ${describeSchedule(task)}, next run ${task.nextRunAt ?? '-'}`;
            return { output, isError: false };
          }
          case 'send_message':
            return { output: await sendAgentMessage(deps, agent, current, r), isError: false };
          case 'send_file': // the turn keeps its files itself (src/host/turn-exec.ts); never sent here
            return { output: 'send_file is not available in this turn', isError: true };
        }
      } catch (err) {
        // held for an approval: say which, so the agent can tell its user; the identical call passes once approved
        const told =
          err instanceof CorralError && (err.code === 'hop_limit' || err.code === 'approval_required');
        const hint = told && err.hint !== undefined ? ` (${err.hint})` : '';
        return { output: `${errorMessage(err)}${hint}`, isError: true };
      }
    };
}
