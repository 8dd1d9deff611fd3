import { describe, expect, it } from 'vitest';
import { CorralError } from '../../util/errors.ts';
import { describeLimits, nextLimits } from './agent-limits.ts';

describe('agent limit flags', () => {
  it('reads sizes, cores, counts and seconds, and `default` removes a setting', () => {
    const l = nextLimits(
      { memory: 1 },
      { memory: '1GiB', cpus: '1.5', processes: '256', disk: '8G', turnTimeout: '600', toolTimeout: '30' },
    );
    expect(l).toEqual({
      memory: 2 ** 30,
      cpus: 1.5,
      processes: 256,
      disk: 8 * 2 ** 30,
      turnSeconds: 600,
      toolSeconds: 30,
    });
    expect(nextLimits(l, { memory: 'default' }).memory).toBeUndefined();
    expect(describeLimits({ cpus: 2 })).toEqual([
      'memory 512 MiB (default)',
      'cpus 2',
      'processes 512 (default)',
      'disk 4 GiB (default)',
      'turn 600 s (default)',
      'tool call 120 s (default)',
    ]);
  });

  it.each([
    [{ memory: 'lots' }, /--memory 'lots'/],
    [{ memory: '1MiB' }, /at least 64 MiB/],
    [{ cpus: '0' }, /--cpus/],
    [{ processes: '2' }, /from 16 to 65536/],
    [{ disk: '-1G' }, /--disk/],
    [{ turnTimeout: '1.5' }, /--turn-timeout/],
  ])('refuses %o with a clear error', (flags, msg) => {
    let said = '';
    try {
      nextLimits({}, flags);
    } catch (err) {
      said = err instanceof CorralError ? `${err.message} → ${err.hint ?? ''}` : String(err);
    }
    expect(said).toMatch(msg);
  });
});
