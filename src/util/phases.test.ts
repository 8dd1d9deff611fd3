import { describe, expect, it } from 'vitest';
import { startPhases } from './phases.ts';

describe('startPhases', () => {
  it('records each phase from the previous mark, and overlapping steps on their own', async () => {
    let t = 0;
    const phases = startPhases(() => t);
    t = 5;
    phases.mark('image');
    const slow = phases.time('layer', new Promise<string>((r) => setTimeout(() => r('ok'), 0)));
    t = 12.345;
    phases.mark('volume');
    t = 20;
    expect(await slow).toBe('ok');
    t = 30;
    phases.mark('start');
    expect(phases.summary()).toEqual({ image: 5, volume: 7.3, layer: 15, start: 17.7, totalMs: 30 });
  });

  it('still records a step that failed, and passes its failure on', async () => {
    let t = 0;
    const phases = startPhases(() => t);
    const failing = phases.time('netns', Promise.reject(new Error('no unshare')));
    t = 3;
    await expect(failing).rejects.toThrow('no unshare');
    expect(phases.summary()['netns']).toBe(3);
  });
});
