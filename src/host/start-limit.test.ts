// The start limiter with stand-in work: the bound, first come first served, release on failure, leaving the queue.
import { describe, expect, it } from 'vitest';
import type { StartLimiter, StartSlot } from './start-limit.ts';
import { createStartLimiter, defaultMaxStarting } from './start-limit.ts';

/** Lets every pending promise callback run. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A start that holds its slot until the test ends it (ok or failing), recording the order of events. */
function startsOn(limiter: StartLimiter, events: string[]) {
  return (name: string, signal?: AbortSignal) => {
    let finish: (ok: boolean) => void = () => undefined;
    const done = new Promise<boolean>((r) => (finish = r));
    const run = (async () => {
      const slot: StartSlot = await limiter.acquire(signal);
      events.push(`${name} started`);
      try {
        if (!(await done)) throw new Error(`${name} failed`);
      } finally {
        slot.release();
      }
    })();
    run.catch(() => undefined); // the test looks at it where it matters
    return { run, ok: () => finish(true), fail: () => finish(false) };
  };
}

describe('start limiter', () => {
  it('lets `limit` starts run at once and the rest wait their turn, in the order they came', async () => {
    const events: string[] = [];
    const limiter = createStartLimiter({ limit: 2 });
    const start = startsOn(limiter, events);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => start(n));
    await flush();
    expect(events).toEqual(['a started', 'b started']);
    expect(limiter.stats()).toMatchObject({ starting: 2, waiting: 2 });
    b?.ok();
    await flush();
    expect(events).toEqual(['a started', 'b started', 'c started']);
    a?.ok();
    await flush();
    expect(events).toEqual(['a started', 'b started', 'c started', 'd started']);
    c?.ok();
    d?.ok();
    await Promise.all([a?.run, b?.run, c?.run, d?.run]);
    expect(limiter.stats()).toEqual({ limit: 2, starting: 0, waiting: 0, peak: 2, started: 4, queued: 2 });
  });

  it('gives the slot of a failed start to the next one', async () => {
    const events: string[] = [];
    const limiter = createStartLimiter({ limit: 1 });
    const start = startsOn(limiter, events);
    const a = start('a');
    const b = start('b');
    await flush();
    expect(events).toEqual(['a started']);
    a.fail();
    await expect(a.run).rejects.toThrow('a failed');
    await flush();
    expect(events).toEqual(['a started', 'b started']);
    expect(limiter.stats()).toMatchObject({ starting: 1, waiting: 0 });
    b.ok();
    await b.run;
    expect(limiter.stats()).toMatchObject({ starting: 0, peak: 1 });
  });

  it('a second release does not free a second slot', async () => {
    const limiter = createStartLimiter({ limit: 1 });
    const slot = await limiter.acquire();
    const next = limiter.acquire();
    const third = limiter.acquire();
    slot.release();
    slot.release();
    await next;
    expect(limiter.stats()).toMatchObject({ starting: 1, waiting: 1 });
    (await next).release();
    (await third).release();
  });

  it('a start whose caller gives up leaves the queue and never starts; the others keep their order', async () => {
    const events: string[] = [];
    const limiter = createStartLimiter({ limit: 1 });
    const start = startsOn(limiter, events);
    const gaveUp = new AbortController();
    const a = start('a');
    const b = start('b', gaveUp.signal);
    const c = start('c');
    await flush();
    gaveUp.abort(new Error('the host is stopping'));
    await expect(b.run).rejects.toMatchObject({ code: 'start_cancelled' });
    expect(limiter.stats()).toMatchObject({ starting: 1, waiting: 1 });
    a.ok();
    await a.run;
    await flush();
    expect(events).toEqual(['a started', 'c started']);
    c.ok();
    await c.run;
    // aborted before asking: refused at once, nothing held
    await expect(limiter.acquire(gaveUp.signal)).rejects.toMatchObject({ code: 'start_cancelled' });
    expect(limiter.stats()).toMatchObject({ starting: 0, waiting: 0, started: 2 });
  });

  it('an abort after the start got its turn changes nothing', async () => {
    const limiter = createStartLimiter({ limit: 1 });
    const gaveUp = new AbortController();
    const first = await limiter.acquire();
    const second = limiter.acquire(gaveUp.signal);
    first.release();
    const slot = await second;
    gaveUp.abort();
    expect(limiter.stats()).toMatchObject({ starting: 1, waiting: 0 });
    slot.release();
    expect(limiter.stats()).toMatchObject({ starting: 0 });
  });

  it('reports each wait from asking to the turn, zero for a start that did not wait', async () => {
    let t = 0;
    const waits: number[] = [];
    const limiter = createStartLimiter({ limit: 1, now: () => t, onWaited: (ms) => waits.push(ms) });
    const first = await limiter.acquire();
    t = 100;
    const second = limiter.acquire();
    t = 350;
    first.release();
    expect((await second).waitedMs).toBe(250);
    expect(waits).toEqual([0, 250]);
  });

  it('refuses a limit below one, and defaults to four per core', () => {
    expect(() => createStartLimiter({ limit: 0 })).toThrow(/whole number/);
    expect(() => createStartLimiter({ limit: 1.5 })).toThrow(/whole number/);
    expect(defaultMaxStarting(1)).toBe(4);
    expect(defaultMaxStarting(8)).toBe(32);
  });
});
