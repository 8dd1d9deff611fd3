// Cron expressions as people write them: five fields (minute hour day-of-month month day-of-week) with lists,
// ranges, steps and names (jan-dec, sun-sat), or a shorthand such as @hourly. Parsing only; next-run.ts finds
// the times they fire at.
import { CorralError } from '../../util/errors.ts';

export interface CronSpec {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday (7 is read as Sunday) */
  weekdays: ReadonlySet<number>;
  /** cron's rule: when both day fields are restricted, a day matches if EITHER does */
  daysRestricted: boolean;
  weekdaysRestricted: boolean;
  /** the hour field covers every hour: a wall time repeated by a DST fall-back then runs on both occurrences */
  everyHour: boolean;
}

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** the value names start at (months: jan = 1) */
  nameBase?: number;
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: readonly FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
];

const SHORTHANDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const HINT = 'write five fields: minute hour day-of-month month day-of-week, e.g. "30 9 * * mon-fri"';

function invalid(expr: string, what: string): CorralError {
  return new CorralError('invalid_cron', `cron "${expr}": ${what}`, HINT);
}

function value(text: string, f: FieldDef, expr: string): number {
  const lower = text.toLowerCase();
  const named = f.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (f.nameBase ?? 0);
  if (!/^\d+$/.test(text)) {
    const names = f.names === undefined ? '' : ` or a name (${f.names[0] ?? ''}…${f.names.at(-1) ?? ''})`;
    throw invalid(expr, `${f.name} field: '${text}' is not a number${names}`);
  }
  const n = Number(text);
  if (n < f.min || n > f.max) throw invalid(expr, `${f.name} field: ${n} is out of range ${f.min}-${f.max}`);
  return n;
}

function parseField(text: string, f: FieldDef, expr: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw invalid(expr, `${f.name} field: empty list item in '${text}'`);
    const [range = '', stepText, extra] = part.split('/');
    if (extra !== undefined) throw invalid(expr, `${f.name} field: '${part}' has more than one step`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0)
        throw invalid(expr, `${f.name} field: step '${stepText}' must be a whole number above 0`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = f.min;
      hi = f.max;
    } else {
      const bounds = range.split('-');
      if (bounds.length > 2 || bounds.some((b) => b === ''))
        throw invalid(expr, `${f.name} field: '${range}' is not a value or a range A-B`);
      lo = value(bounds[0] ?? '', f, expr);
      // "5/15" means from 5 to the end, every 15
      hi = bounds[1] !== undefined ? value(bounds[1], f, expr) : stepText !== undefined ? f.max : lo;
      if (hi < lo) throw invalid(expr, `${f.name} field: range ${range} runs backwards`);
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

const full = (s: ReadonlySet<number>, f: FieldDef): boolean => {
  for (let v = f.min; v <= f.max; v++) if (!s.has(v)) return false;
  return true;
};

/** Parses a cron expression; throws `invalid_cron` naming the field that is wrong. */
export function parseCron(expr: string): CronSpec {
  const trimmed = expr.trim();
  const expanded = trimmed.startsWith('@') ? SHORTHANDS[trimmed.toLowerCase()] : trimmed;
  if (expanded === undefined)
    throw invalid(expr, `unknown shorthand '${trimmed}' (known: ${Object.keys(SHORTHANDS).join(', ')})`);
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) throw invalid(expr, `has ${parts.length} field(s), not 5`);
  const [minutes, hours, days, months, weekdays] = FIELDS.map((f, i) => parseField(parts[i] ?? '', f, expr));
  const [, hourDef, dayDef, , weekdayDef] = FIELDS;
  if (!minutes || !hours || !days || !months || !weekdays || !hourDef || !dayDef || !weekdayDef)
    throw invalid(expr, 'internal: fields missing');
  if (weekdays.delete(7)) weekdays.add(0);
  const weekdayFull = full(weekdays, { ...weekdayDef, max: 6 });
  return {
    minutes,
    hours,
    days,
    months,
    weekdays,
    daysRestricted: parts[2] !== '*' && !full(days, dayDef),
    weekdaysRestricted: parts[4] !== '*' && !weekdayFull,
    everyHour: full(hours, hourDef),
  };
}

/** Whether a calendar day (month 1-12, weekday 0-6) matches the spec's day fields. */
export function dayMatches(spec: CronSpec, month: number, day: number, weekday: number): boolean {
  if (!spec.months.has(month)) return false;
  const byDay = spec.days.has(day);
  const byWeekday = spec.weekdays.has(weekday);
  if (spec.daysRestricted && spec.weekdaysRestricted) return byDay || byWeekday;
  return byDay && byWeekday;
}
