import { describe, expect, it } from 'vitest';
import { logLevelFrom } from './log.ts';

describe('logLevelFrom (CORRAL_LOG)', () => {
  it('takes each level by name, and the fallback for anything else', () => {
    for (const level of ['debug', 'info', 'warn', 'error'] as const)
      expect(logLevelFrom(level, 'info')).toBe(level);
    expect(logLevelFrom(undefined, 'error')).toBe('error');
    expect(logLevelFrom('', 'info')).toBe('info');
    expect(logLevelFrom('DEBUG', 'warn')).toBe('warn');
  });
});
