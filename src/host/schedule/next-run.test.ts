import { describe, expect, it } from 'vitest';
import { parseCron } from './cron.ts';
import { nextCronRun } from './next-run.ts';
import { parseSchedule, nextRunAfter } from './schedule.ts';
import { instantOfWall, offsetMinutes } from './zone.ts';

const iso = (ms: number): string => new Date(ms).toISOString();
const next = (expr: string, tz: string, after: string): string =>
  iso(nextCronRun(parseCron(expr), tz, Date.parse(after), expr));
/** The next `n` runs after `after`. */
function runs(expr: string, tz: string, after: string, n: number): string[] {
  const spec = parseCron(expr);
  const out: string[] = [];
  let t = Date.parse(after);
  for (let i = 0; i < n; i++) {
    t = nextCronRun(spec, tz, t, expr);
    out.push(iso(t));
  }
  return out;
}

describe('parseCron', () => {
  it('reads lists, ranges, steps, names and shorthands', () => {
    const s = parseCron('0,30 9-17/4 * jan,JUL mon-fri');
    expect([...s.minutes]).toEqual([0, 30]);
    expect([...s.hours]).toEqual([9, 13, 17]);
    expect([...s.months]).toEqual([1, 7]);
    expect([...s.weekdays]).toEqual([1, 2, 3, 4, 5]);
    expect([...parseCron('5/20 * * * *').minutes]).toEqual([5, 25, 45]);
    expect([...parseCron('0 0 * * 7').weekdays]).toEqual([0]);
    expect(parseCron('@hourly')).toEqual(parseCron('0 * * * *'));
    expect(parseCron('@weekly')).toEqual(parseCron('0 0 * * sun'));
    expect(parseCron('*/15 * * * *').everyHour).toBe(true);
    expect(parseCron('0 9 * * *').everyHour).toBe(false);
  });

  it.each([
    ['61 * * * *', 'minute field: 61 is out of range 0-59'],
    ['* 24 * * *', 'hour field: 24 is out of range 0-23'],
    ['* * 0 * *', 'day-of-month field: 0 is out of range 1-31'],
    ['* * * foo *', "month field: 'foo' is not a number or a name (jan…dec)"],
    ['* * * * funday', "day-of-week field: 'funday' is not a number"],
    ['5-1 * * * *', 'minute field: range 5-1 runs backwards'],
    ['*/0 * * * *', "minute field: step '0' must be a whole number above 0"],
    ['1,,2 * * * *', 'minute field: empty list item'],
    ['* * * *', 'has 4 field(s), not 5'],
    ['* * * * * *', 'has 6 field(s), not 5'],
    ['@reboot', "unknown shorthand '@reboot'"],
  ])('rejects %s naming the field', (expr, message) => {
    expect(() => parseCron(expr)).toThrow(message);
  });
});

describe('nextCronRun in UTC', () => {
  it('finds the next matching minute, strictly after the given instant', () => {
    expect(next('*/15 * * * *', 'UTC', '2025-01-01T10:07:30Z')).toBe('2025-01-01T10:15:00.000Z');
    expect(next('*/15 * * * *', 'UTC', '2025-01-01T10:15:00Z')).toBe('2025-01-01T10:30:00.000Z');
    // Friday 2025-01-03 10:00 → Monday 09:00
    expect(next('0 9 * * mon-fri', 'UTC', '2025-01-03T10:00:00Z')).toBe('2025-01-06T09:00:00.000Z');
    expect(next('@monthly', 'UTC', '2025-01-31T23:59:59Z')).toBe('2025-02-01T00:00:00.000Z');
  });

  it('matches either day field when both are restricted (cron rule)', () => {
    // the 13th, or any Friday: Friday 2025-06-06 comes before Friday the 13th
    expect(runs('0 0 13 * fri', 'UTC', '2025-06-01T00:00:00Z', 3)).toEqual([
      '2025-06-06T00:00:00.000Z',
      '2025-06-13T00:00:00.000Z',
      '2025-06-20T00:00:00.000Z',
    ]);
  });

  it('finds Feb 29 years ahead and refuses a date that never comes', () => {
    expect(next('0 0 29 2 *', 'UTC', '2025-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
    expect(() => next('0 0 30 2 *', 'UTC', '2025-03-01T00:00:00Z')).toThrow('never fires');
  });
});

describe('nextCronRun across DST (Europe/Berlin: 2025-03-30 02:00→03:00, 2025-10-26 03:00→02:00)', () => {
  it('runs a daily job whose time is skipped when the gap ends, shifted by the gap', () => {
    // 02:30 does not exist on 2025-03-30: it runs at 03:30 CEST (01:30Z), then at 02:30 CEST as usual
    expect(runs('30 2 * * *', 'Europe/Berlin', '2025-03-29T12:00:00Z', 2)).toEqual([
      '2025-03-30T01:30:00.000Z',
      '2025-03-31T00:30:00.000Z',
    ]);
    expect(next('0 2 * * *', 'Europe/Berlin', '2025-03-29T12:00:00Z')).toBe('2025-03-30T01:00:00.000Z');
  });

  it('runs a daily job whose time repeats once, on the first occurrence', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2025-10-25T12:00:00Z', 2)).toEqual([
      '2025-10-26T00:30:00.000Z', // 02:30 CEST
      '2025-10-27T01:30:00.000Z', // 02:30 CET the next day; not 02:30 CET on the 26th
    ]);
  });

  it('keeps a clock-like job going every 30 real minutes through both transitions', () => {
    expect(runs('*/30 * * * *', 'Europe/Berlin', '2025-10-26T00:00:00Z', 4)).toEqual([
      '2025-10-26T00:30:00.000Z', // 02:30 CEST
      '2025-10-26T01:00:00.000Z', // 02:00 CET (the repeated hour)
      '2025-10-26T01:30:00.000Z', // 02:30 CET
      '2025-10-26T02:00:00.000Z', // 03:00 CET
    ]);
    expect(runs('*/30 * * * *', 'Europe/Berlin', '2025-03-30T00:00:00Z', 3)).toEqual([
      '2025-03-30T00:30:00.000Z', // 01:30 CET
      '2025-03-30T01:00:00.000Z', // 03:00 CEST (02:00 and 02:30 do not exist; no double run)
      '2025-03-30T01:30:00.000Z', // 03:30 CEST
    ]);
  });

  it('handles other zones: New York, and Lord Howe with its 30-minute shift', () => {
    expect(next('30 2 * * *', 'America/New_York', '2025-03-08T12:00:00Z')).toBe('2025-03-09T07:30:00.000Z');
    expect(next('30 1 * * *', 'America/New_York', '2025-11-01T12:00:00Z')).toBe('2025-11-02T05:30:00.000Z');
    // Lord Howe: 2025-10-05 02:00 (+10:30) → 02:30 (+11); 02:15 is skipped and runs at 02:45 (+11)
    expect(next('15 2 * * *', 'Australia/Lord_Howe', '2025-10-04T00:00:00Z')).toBe(
      '2025-10-04T15:45:00.000Z',
    );
  });

  it('converts wall times with the same rules', () => {
    expect(offsetMinutes('Europe/Berlin', Date.parse('2025-07-01T00:00:00Z'))).toBe(120);
    expect(iso(instantOfWall('Europe/Berlin', Date.parse('2025-03-30T02:30:00Z')))).toBe(
      '2025-03-30T01:30:00.000Z',
    );
    expect(iso(instantOfWall('Europe/Berlin', Date.parse('2025-10-26T02:30:00Z')))).toBe(
      '2025-10-26T00:30:00.000Z',
    );
  });
});

describe('parseSchedule', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');
  it('stores each kind and computes its first and next runs', () => {
    const every = parseSchedule({ every: '90s' }, now);
    expect(every).toMatchObject({ kind: 'every', schedule: '90000', tz: null, firstRun: now + 90_000 });
    expect(nextRunAfter(every, now + 5_000)).toBe(now + 95_000);
    const cron = parseSchedule({ cron: '0 9 * * *', tz: 'Europe/Berlin' }, now);
    expect(iso(cron.firstRun)).toBe('2025-01-02T08:00:00.000Z');
    const at = parseSchedule({ at: '2025-01-02 09:00', tz: 'Europe/Berlin' }, now);
    expect(at).toMatchObject({ kind: 'at', schedule: '2025-01-02T08:00:00.000Z' });
    expect(nextRunAfter(at, at.firstRun)).toBeNull();
    expect(parseSchedule({ at: '+10m' }, now).firstRun).toBe(now + 600_000);
  });

  it.each([
    [{}, 'a task needs a schedule'],
    [{ cron: '* * * * *', every: '1m' }, 'give only one'],
    [{ every: '500ms' }, 'shorter than 1s'],
    [{ every: '1m', tz: 'UTC' }, '--tz applies to --cron and --at'],
    [{ cron: '* * * * *', tz: 'Mars/Olympus' }, "unknown time zone 'Mars/Olympus'"],
    [{ at: '2024-01-01T00:00:00Z' }, 'is in the past'],
    [{ at: 'tomorrow' }, "--at 'tomorrow' is not a time"],
    [{ at: '2025-02-30 10:00' }, 'is not a time'],
  ])('refuses %j', (input, message) => {
    expect(() => parseSchedule(input, now)).toThrow(message);
  });
});
