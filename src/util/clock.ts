// Time as a dependency: the daemon's timers (idle sandboxes, schedules, retries) go through a Clock, so tests
// move time forward instead of waiting for it.
export interface Clock {
  now(): Date;
  /** Calls `fn` once after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** setTimeout's own limit (about 24.8 days); longer waits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(ms, fn) {
    let handle: NodeJS.Timeout;
    const due = Date.now() + Math.max(0, ms);
    const arm = (): void => {
      const left = due - Date.now();
      handle = setTimeout(left > MAX_TIMEOUT_MS ? arm : fn, Math.min(Math.max(0, left), MAX_TIMEOUT_MS));
      handle.unref();
    };
    arm();
    return () => clearTimeout(handle);
  },
};

export interface FakeClock extends Clock {
  /** Moves time forward, firing due timers in order and letting their promise chains settle in between. */
  advance(ms: number): Promise<void>;
  /** Timers not yet fired. */
  pending(): number;
}

export function createFakeClock(start: Date | string): FakeClock {
  let now = new Date(start).getTime();
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  return {
    now: () => new Date(now),
    setTimer(ms, fn) {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), fn });
      return () => void timers.delete(id);
    },
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (;;) {
        let first: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers)
          if (entry[1].at <= target && (!first || entry[1].at < first[1].at)) first = entry;
        if (first === undefined) break;
        timers.delete(first[0]);
        now = Math.max(now, first[1].at);
        first[1].fn();
        await settle();
      }
      now = target;
      await settle();
    },
    pending: () => timers.size,
  };
}
