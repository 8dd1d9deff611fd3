// When a cron expression fires next, in an IANA time zone. Wall times are matched the way Temporal's 'compatible'
// disambiguation reads them: a time skipped by a spring-forward gap fires when the gap ends (shifted by the gap's
// length), and a time repeated by a fall-back fires once, on its first occurrence, unless the hour field covers
// every hour (then the expression is clock-like, "every 15 minutes", and keeps firing through the repeated hour).
import { CorralError } from '../../util/errors.ts';
import type { CronSpec } from './cron.ts';
import { dayMatches } from './cron.ts';
import { offsetMinutes } from './zone.ts';

const MINUTE_MS = 60_000;
const DAY_MIN = 1440;
/** Feb 29 can be eight years away (2096 → 2104); anything further never fires. */
const HORIZON_DAYS = 366 * 8 + 31;
/** No DST shift exceeds this (the largest in use is two hours), so jumps keep this much margin. */
const MARGIN_MIN = 240;
const MAX_STEPS = 20_000;

function sorted(s: ReadonlySet<number>): number[] {
  return [...s].sort((a, b) => a - b);
}

/** Whether a naive wall minute matches the expression. */
export function wallMatches(spec: CronSpec, naiveMin: number): boolean {
  const d = new Date(naiveMin * MINUTE_MS);
  return (
    spec.minutes.has(d.getUTCMinutes()) &&
    spec.hours.has(d.getUTCHours()) &&
    dayMatches(spec, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCDay())
  );
}

/** The earliest naive wall minute at or after `from` that matches, ignoring time zones; undefined: never. */
export function nextWallMatch(spec: CronSpec, from: number): number | undefined {
  const hours = sorted(spec.hours);
  const minutes = sorted(spec.minutes);
  const firstDay = Math.floor(from / DAY_MIN);
  for (let i = 0; i <= HORIZON_DAYS; i++) {
    const day = firstDay + i;
    const date = new Date(day * DAY_MIN * MINUTE_MS);
    if (!dayMatches(spec, date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCDay())) continue;
    const start = i === 0 ? from - day * DAY_MIN : 0;
    for (const h of hours) {
      if (h * 60 + 59 < start) continue;
      for (const m of minutes) if (h * 60 + m >= start) return day * DAY_MIN + h * 60 + m;
    }
  }
  return undefined;
}

/** Whether the expression fires at instant `t` (a whole minute) in zone `tz`. */
function firesAt(spec: CronSpec, tz: string, t: number): boolean {
  const off = offsetMinutes(tz, t);
  const earlier = offsetMinutes(tz, t - MARGIN_MIN * MINUTE_MS);
  const wall = Math.floor(t / MINUTE_MS) + off;
  if (earlier > off) {
    // after a fall-back of d minutes: is this wall time the second occurrence of one seen d minutes ago?
    const d = earlier - off;
    const repeat = offsetMinutes(tz, t - d * MINUTE_MS) === off + d;
    if (repeat && !spec.everyHour) return false;
  }
  if (wallMatches(spec, wall)) return true;
  if (off > earlier) {
    // just after a spring-forward of d minutes: wall times in the gap fire now, shifted by d
    const d = off - earlier;
    if (offsetMinutes(tz, t - d * MINUTE_MS) === off - d) return wallMatches(spec, wall - d);
  }
  return false;
}

function never(expr: string): CorralError {
  return new CorralError(
    'invalid_cron',
    `cron "${expr}" never fires (no such date within eight years)`,
    'check the day-of-month and month fields, e.g. 30 2 is February 30th',
  );
}

/** The first instant strictly after `afterMs` at which the expression fires in `tz` (milliseconds). */
export function nextCronRun(spec: CronSpec, tz: string, afterMs: number, expr = ''): number {
  let t = (Math.floor(afterMs / MINUTE_MS) + 1) * MINUTE_MS;
  for (let step = 0; step < MAX_STEPS; step++) {
    if (firesAt(spec, tz, t)) return t;
    const off = offsetMinutes(tz, t);
    const wall = Math.floor(t / MINUTE_MS) + off;
    // shortly after a spring-forward, gap times behind the wall clock may still fire: look back for them
    const lookback = off > offsetMinutes(tz, t - MARGIN_MIN * MINUTE_MS) ? MARGIN_MIN : 0;
    const target = nextWallMatch(spec, wall - lookback);
    if (target === undefined) throw never(expr);
    const gap = target - wall;
    let jump = 1;
    if (gap > 0) {
      // same offset at both ends: wall and real time advance alike, land on it; else stop short and walk
      const same = offsetMinutes(tz, t + gap * MINUTE_MS) === off;
      jump = Math.max(1, same ? gap : gap - MARGIN_MIN);
    }
    t += jump * MINUTE_MS;
  }
  throw never(expr);
}
