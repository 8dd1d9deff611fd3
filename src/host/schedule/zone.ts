// Wall-clock time in an IANA time zone through Intl: the zone's offset at an instant, and checking a zone name.
// "Naive" minutes are minutes since 1970-01-01T00:00 of the wall clock, as if that clock were UTC.
import { CorralError } from '../../util/errors.ts';

const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(tz, f);
  }
  return f;
}

/** Throws `invalid_time_zone` unless Intl knows the zone; returns its canonical spelling. */
export function checkTimeZone(tz: string): string {
  try {
    return formatFor(tz).resolvedOptions().timeZone;
  } catch (err) {
    throw new CorralError(
      'invalid_time_zone',
      `unknown time zone '${tz}'`,
      'use an IANA name such as Europe/Berlin, America/New_York or UTC',
      { cause: err },
    );
  }
}

/** The zone's offset from UTC at instant `ms`, in whole minutes (wall = utc + offset). */
export function offsetMinutes(tz: string, ms: number): number {
  const parts = formatFor(tz).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === type)?.value ?? NaN);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  const utcSeconds = Math.floor(ms / 1000) * 1000;
  return Math.round((wall - utcSeconds) / 60_000);
}

/** Naive wall-clock minutes of the instant `ms` (floored to its minute). */
export function wallMinutes(tz: string, ms: number): number {
  return Math.floor(ms / 60_000) + offsetMinutes(tz, ms);
}

/**
 * The instant of a wall-clock time given as naive milliseconds, the way Temporal's 'compatible' disambiguation
 * does it: a time that occurs twice (fall back) is its earlier occurrence; a time skipped by a spring-forward gap
 * moves forward by the gap's length.
 */
export function instantOfWall(tz: string, naiveMs: number): number {
  // the offsets in force a day around the wall time: at most one transition lies between them
  const before = offsetMinutes(tz, naiveMs - 86_400_000);
  const after = offsetMinutes(tz, naiveMs + 86_400_000);
  const candidates = [before, after]
    .map((o) => naiveMs - o * 60_000)
    .filter((ms) => offsetMinutes(tz, ms) * 60_000 === naiveMs - ms);
  if (candidates.length > 0) return Math.min(...candidates);
  return naiveMs - before * 60_000; // in a gap: the earlier offset carries it past the gap
}
