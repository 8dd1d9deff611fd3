// serialByKey: one key's calls never overlap and a failure does not block the next; other keys are not held up.
import { describe, expect, it } from 'vitest';
import { serialByKey } from './serial.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('serialByKey', () => {
  it("runs one key's calls in order, after a failure too, and other keys alongside", async () => {
    const serial = serialByKey();
    const log: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = serial('a', async () => {
      log.push('a1 start');
      await gate;
      log.push('a1 end');
      throw new Error('a1 failed');
    });
    const a2 = serial('a', () => {
      log.push('a2');
      return Promise.resolve(2);
    });
    const b1 = serial('b', () => {
      log.push('b1');
      return Promise.resolve(1);
    });
    await tick();
    expect(log).toEqual(['a1 start', 'b1']);
    release();
    await expect(a1).rejects.toThrow('a1 failed');
    await expect(a2).resolves.toBe(2);
    await expect(b1).resolves.toBe(1);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
  });
});
