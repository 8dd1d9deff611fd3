// Durations as people write them: 500ms, 30s, 5m, 1h30m, 2d.
import { CorralError } from './errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, what = 'duration'): number {
  const s = text.trim();
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  const consumed = parts.map((p) => p[0]).join('');
  if (parts.length === 0 || consumed !== s)
    throw new CorralError(
      'invalid_argument',
      `${what} '${text}' is not a duration`,
      'write e.g. 30s, 5m, 1h30m or 2d',
    );
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] ?? ''] ?? NaN), 0);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new CorralError('invalid_argument', `${what} '${text}' must be more than zero`);
  return Math.round(ms);
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
