// Tools the host carries out for the agent: schedule_task and send_message. The runtime only forwards the
// validated input over the control stream; the host decides (policy) and acts, and its answer is the result.
import { ScheduleTaskInput, SendMessageInput } from '../../protocol/requests.ts';
import type { Tool } from './types.ts';
import { fail } from './types.ts';

const NO_HOST = 'this tool needs the corral host service (corral up); it is not available here';

export const scheduleTaskTool: Tool<typeof ScheduleTaskInput> = {
  name: 'schedule_task',
  description:
    'Schedule a prompt to be given to you later, in a session of its own: exactly one of cron (with optional tz), ' +
    'every or at. Use it for reminders and recurring work. Returns the task id and its next run.',
  input: ScheduleTaskInput,
  run: (input, ctx, signal) =>
    ctx.host ? ctx.host({ action: 'schedule_task', ...input }, signal) : Promise.resolve(fail(NO_HOST)),
};

export const sendMessageTool: Tool<typeof SendMessageInput> = {
  name: 'send_message',
  description:
    'Send a message to another agent by name (where the policy allows it). Its reply comes back to this ' +
    'conversation later, as a new message; do not wait for it.',
  input: SendMessageInput,
  run: (input, ctx, signal) =>
    ctx.host ? ctx.host({ action: 'send_message', ...input }, signal) : Promise.resolve(fail(NO_HOST)),
};
