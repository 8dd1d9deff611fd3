// What the runtime may ask the host to do for the agent (the schedule_task and send_message tools): sent as a
// `request` frame, answered by a `request_result` frame after the host's policy decision.
import * as z from './zod-mini.ts';

export const MAX_REQUEST_TEXT = 20_000;

export const ScheduleTaskInput = z.object({
  prompt: z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(MAX_REQUEST_TEXT),
      z.describe('what you will be asked each time the task runs'),
    ),
  cron: z.optional(
    z.string().check(z.describe('five-field cron expression, e.g. "0 9 * * mon-fri", or @hourly/@daily')),
  ),
  every: z.optional(
    z.string().check(z.describe('interval, e.g. 30m or 2h (from the end of the previous run)')),
  ),
  at: z.optional(
    z.string().check(z.describe('once: an ISO-8601 time such as 2030-01-31T09:00:00Z, or +10m')),
  ),
  tz: z.optional(z.string().check(z.describe('IANA time zone for cron and at, e.g. Europe/Berlin'))),
  missed: z.optional(z.enum(['run', 'skip']).check(z.describe('a run missed while the host was down'))),
});
export type ScheduleTaskInput = z.infer<typeof ScheduleTaskInput>;

export const SendMessageInput = z.object({
  to: z.string().check(z.minLength(1), z.maxLength(64), z.describe('the name of the agent to message')),
  text: z.string().check(z.minLength(1), z.maxLength(MAX_REQUEST_TEXT), z.describe('the message')),
  thread: z.optional(
    z
      .string()
      .check(
        z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
        z.describe('conversation with that agent (default "default"); letters, digits, . _ -'),
      ),
  ),
});
export type SendMessageInput = z.infer<typeof SendMessageInput>;

export const HostRequest = z.discriminatedUnion('action', [
  z.extend(ScheduleTaskInput, { action: z.literal('schedule_task') }),
  z.extend(SendMessageInput, { action: z.literal('send_message') }),
]);
export type HostRequest = z.infer<typeof HostRequest>;
