// `--since` for reports: a span back from now (`90m`, `24h`, `7d`, `2w`) or a UTC date or ISO timestamp.
import { CorralError } from '../../util/errors.ts';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

export function parseSince(text: string, now: Date): Date {
  const span = /^(\d{1,6})([mhdw])$/.exec(text);
  if (span?.[1] !== undefined && span[2] !== undefined)
    return new Date(now.getTime() - Number(span[1]) * (UNIT_MS[span[2]] ?? 0));
  const date = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : NaN;
  const stamp = /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(text) ? Date.parse(text) : NaN;
  const ms = Number.isNaN(date) ? stamp : date;
  if (Number.isNaN(ms)) {
    throw new CorralError(
      'invalid_argument',
      `cannot read --since '${text}'`,
      'write a span back from now (90m, 24h, 7d, 2w), a UTC date (2026-11-01) or an ISO timestamp',
    );
  }
  return new Date(ms);
}
