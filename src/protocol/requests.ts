// What the runtime may ask the host to do for the agent (the schedule_task, send_message and send_file tools): sent
// as a `request` frame, answered by a `request_result` frame after the host's decision.
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

/** The biggest file send_file takes; the runtime refuses bigger ones, the host checks again. */
export const MAX_SEND_FILE_BYTES = 20 * 1024 * 1024;
export { FILE_CHUNK_BYTES } from './wire.ts';

export const SendFileInput = z.object({
  path: z
    .string()
    .check(z.minLength(1), z.maxLength(4096), z.describe('the file, relative to the workspace')),
  caption: z.optional(
    z.string().check(z.maxLength(1024), z.describe('a short text shown with the file (max 1024 characters)')),
  ),
});
export type SendFileInput = z.infer<typeof SendFileInput>;

/** What send_file asks of the host: the file's bytes come first, as file_chunk frames with the request's id. */
export const SendFileRequest = z.object({
  action: z.literal('send_file'),
  /** the file's base name as the agent sees it; the host sanitises it again */
  name: z.string().check(z.minLength(1), z.maxLength(1024)),
  size: z.int().check(z.nonnegative()),
  /** hex sha256 of the bytes, so the host knows the chunks arrived whole */
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  caption: z.optional(z.string().check(z.maxLength(1024))),
});
export type SendFileRequest = z.infer<typeof SendFileRequest>;

export const HostRequest = z.discriminatedUnion('action', [
  z.extend(ScheduleTaskInput, { action: z.literal('schedule_task') }),
  z.extend(SendMessageInput, { action: z.literal('send_message') }),
  SendFileRequest,
]);
export type HostRequest = z.infer<typeof HostRequest>;
