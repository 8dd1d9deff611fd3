import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.ts';

describe('durations', () => {
  it('reads the usual spellings and writes them back', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(172_800_000)).toBe('2d');
    expect(formatDuration(1500)).toBe('1500ms');
  });

  it('refuses what is not a duration', () => {
    for (const bad of ['', '5', '5 minutes', 'm5', '0s', '1h x', '-5s'])
      expect(() => parseDuration(bad), bad).toThrow(/duration|more than zero/);
  });
});
