// `schedules:` in an agent's file: prompts the agent runs on a schedule, declared like the rest of its definition.
// Each entry is checked as `corral task add` checks it (cron fields, zone, duration, time), so a wrong one is
// reported with its file, line and field; the daemon reconciles the entries into the tasks table by name.
// The schedule parsers are pure functions (they import only util/), the one reach from config/ into host/.
import { z } from 'zod';
import { parseCron } from '../host/schedule/cron.ts';
import { nextCronRun } from '../host/schedule/next-run.ts';
import { MIN_EVERY_MS, storedSchedule } from '../host/schedule/schedule.ts';
import { checkTimeZone } from '../host/schedule/zone.ts';
import { parseDuration } from '../util/duration.ts';
import { errorMessage } from '../util/errors.ts';

/** The same cap as tasks added at run time (src/host/schedule/tasks.ts). */
export const MAX_SCHEDULES = 100;
export const MAX_SCHEDULE_PROMPT_CHARS = 20_000;

const check = (ctx: z.RefinementCtx, field: string, fn: () => unknown): void => {
  try {
    fn();
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: [field], message: errorMessage(err) });
  }
};

export const AgentSchedule = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, _ and - (max 64), e.g. daily-report')
      .describe("the entry's identity: renaming it replaces the task (and forgets when it last ran)"),
    cron: z
      .string()
      .optional()
      .describe('five-field cron expression or @daily, @hourly, …; quote it in YAML'),
    tz: z.string().optional().describe('IANA time zone of cron and at (default: the host zone)'),
    every: z.string().optional().describe('interval counted from the end of the previous run, e.g. 30m'),
    at: z.string().optional().describe('once, at 2030-01-31T09:00:00Z or "2030-01-31 09:00" (in tz)'),
    prompt: z
      .string()
      .trim()
      .min(1, 'a schedule needs a prompt')
      .max(MAX_SCHEDULE_PROMPT_CHARS)
      .describe('what the agent is asked each time'),
    missed: z
      .enum(['run', 'skip'])
      .default('run')
      .describe('a run missed while the host was down: run it once on start, or skip it'),
    paused: z.boolean().default(false).describe('keep the task but do not run it'),
  })
  .strict()
  .superRefine((s, ctx) => {
    const given = (['cron', 'every', 'at'] as const).filter((k) => s[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          given.length === 0
            ? 'give one of cron, every or at'
            : `give only one of cron, every and at (found ${given.join(', ')})`,
      });
      return;
    }
    if (s.tz !== undefined) {
      if (s.every !== undefined)
        ctx.addIssue({ code: 'custom', path: ['tz'], message: 'tz applies to cron and at, not every' });
      else check(ctx, 'tz', () => checkTimeZone(s.tz ?? ''));
    }
    if (s.cron !== undefined) {
      const expr = s.cron;
      check(ctx, 'cron', () => nextCronRun(parseCron(expr), 'UTC', Date.now(), expr));
    }
    if (s.every !== undefined) {
      const every = s.every;
      check(ctx, 'every', () => {
        if (parseDuration(every, 'every') < MIN_EVERY_MS)
          throw new Error(`every ${every} is shorter than 1s`);
      });
    }
    if (s.at !== undefined) {
      const at = s.at;
      check(ctx, 'at', () => {
        // a file is read again and again: a delay would start afresh each time
        if (at.trim().startsWith('+'))
          throw new Error(
            'a delay has no fixed start in a file; write an instant such as 2030-01-31T09:00:00Z',
          );
        storedSchedule({ at, tz: 'UTC' }, Date.now(), '');
      });
    }
  });
export type AgentSchedule = z.infer<typeof AgentSchedule>;

export const AgentSchedules = z
  .array(AgentSchedule)
  .max(MAX_SCHEDULES)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `'${s.name}' is used by an earlier entry`,
        });
      seen.add(s.name);
    });
  })
  .default([])
  .describe('prompts the agent runs on a schedule (see docs/tasks.md)');
