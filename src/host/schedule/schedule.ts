// A task's schedule as the CLI and the schedule_task tool take it (--cron EXPR [--tz ZONE] | --every DURATION |
// --at TIME), checked and stored in the tasks table's form, and the instant it runs next.
import type { ScheduleKind } from '../../store/daemon-types.ts';
import { formatDuration, parseDuration } from '../../util/duration.ts';
import { CorralError } from '../../util/errors.ts';
import { parseCron } from './cron.ts';
import { nextCronRun } from './next-run.ts';
import { checkTimeZone, instantOfWall } from './zone.ts';

export interface ScheduleInput {
  cron?: string;
  every?: string;
  at?: string;
  tz?: string;
}

/** The stored form: a cron expression, an interval in milliseconds, or an ISO-8601 instant. */
export interface Schedule {
  kind: ScheduleKind;
  schedule: string;
  tz: string | null;
}

/** Shortest interval: the scheduler is accurate to the second, and a run needs a sandbox turn anyway. */
export const MIN_EVERY_MS = 1000;

export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;
const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

function parseAt(text: string, tz: string, nowMs: number, flag: string): number {
  const t = text.trim();
  if (t.startsWith('+')) return nowMs + parseDuration(t.slice(1), `${flag}at`);
  if (ISO_INSTANT.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  const m = WALL_TIME.exec(t);
  if (m !== null) {
    const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? '0'));
    const naive = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0);
    const check = new Date(naive);
    if (check.getUTCMonth() + 1 === mo && check.getUTCDate() === d && (h ?? 0) < 24 && (mi ?? 0) < 60)
      return instantOfWall(tz, naive);
  }
  throw new CorralError(
    'invalid_argument',
    `${flag}at '${text}' is not a time`,
    `write e.g. 2030-01-31T09:00:00Z, "2030-01-31 09:00" (in ${flag}tz, default the host zone) or +10m`,
  );
}

/**
 * Checks a schedule and returns its stored form with its first run (ms); a one-off time already past has none
 * (null). `flag` prefixes the field names in messages: '--' for the CLI, '' for a file or an API body.
 */
export function storedSchedule(
  input: ScheduleInput,
  nowMs: number,
  flag = '--',
): Schedule & { firstRun: number | null } {
  const given = [input.cron, input.every, input.at].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new CorralError(
      'invalid_argument',
      given === 0 ? 'a task needs a schedule' : `give only one of ${flag}cron, ${flag}every and ${flag}at`,
      `use ${flag}cron "0 9 * * *", ${flag}every 30m or ${flag}at 2030-01-31T09:00:00Z`,
    );
  if (input.every !== undefined) {
    if (input.tz !== undefined)
      throw new CorralError(
        'invalid_argument',
        `${flag}tz applies to ${flag}cron and ${flag}at, not ${flag}every`,
      );
    const ms = parseDuration(input.every, `${flag}every`);
    if (ms < MIN_EVERY_MS)
      throw new CorralError('invalid_argument', `${flag}every ${input.every} is shorter than 1s`);
    return { kind: 'every', schedule: String(ms), tz: null, firstRun: nowMs + ms };
  }
  const tz = checkTimeZone(input.tz ?? hostTimeZone());
  if (input.cron !== undefined) {
    const expr = input.cron.trim();
    const firstRun = nextCronRun(parseCron(expr), tz, nowMs, expr);
    return { kind: 'cron', schedule: expr, tz, firstRun };
  }
  const at = parseAt(input.at ?? '', tz, nowMs, flag);
  return { kind: 'at', schedule: new Date(at).toISOString(), tz, firstRun: at > nowMs ? at : null };
}

/** Checks a schedule to be added now: as storedSchedule, and a one-off time must lie ahead. */
export function parseSchedule(
  input: ScheduleInput,
  nowMs: number,
  flag = '--',
): Schedule & { firstRun: number } {
  const s = storedSchedule(input, nowMs, flag);
  if (s.firstRun === null)
    throw new CorralError('invalid_argument', `${flag}at ${s.schedule} is in the past`, 'give a future time');
  return { ...s, firstRun: s.firstRun };
}

/** The run after one at `afterMs` (ms), or null when the schedule has no more runs. */
export function nextRunAfter(s: Schedule, afterMs: number): number | null {
  switch (s.kind) {
    case 'every':
      return afterMs + Number(s.schedule);
    case 'cron':
      return nextCronRun(parseCron(s.schedule), s.tz ?? 'UTC', afterMs, s.schedule);
    case 'at':
      return null;
  }
}

/** One line for people: "cron 0 9 * * * (Europe/Berlin)", "every 30m", "at 2030-01-31T09:00:00.000Z". */
export function describeSchedule(s: Schedule): string {
  switch (s.kind) {
    case 'every':
      return `every ${formatDuration(Number(s.schedule))}`;
    case 'cron':
      return `cron ${s.schedule}${s.tz === null ? '' : ` (${s.tz})`}`;
    case 'at':
      return `at ${s.schedule}`;
  }
}
