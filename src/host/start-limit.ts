// Bounds how many sandboxes of this process are in their start phase at once (backend start → runtime ready):
// a burst of starts waits its turn, first come first served, instead of all racing for the CPU and missing the
// ready timeout together. One limiter per process (openHost builds it); separate processes do not share one.
import os from 'node:os';
import { CorralError } from '../util/errors.ts';

/**
 * Starts per core: a start phase is part CPU (the runtime's Node starting) and part waiting (mounts, process
 * starts, the control stream). With 50 and 100 at once on 2 busy cores (docs/isolation.md, Benchmarks), 8 at
 * once readied them as quickly as anything tried or quicker, 4 or 2 at once left the CPU idle between steps,
 * and all at once was slower and (before the runtime's start got cheaper) refused some at the ready timeout.
 */
export const STARTS_PER_CORE = 4;

export function defaultMaxStarting(cores: number = os.availableParallelism()): number {
  return STARTS_PER_CORE * Math.max(1, cores);
}

/** A start's turn. Give it back as soon as the runtime is ready or the start failed; a second release is a no-op. */
export interface StartSlot {
  /** how long this start waited for its turn */
  readonly waitedMs: number;
  release(): void;
}

export interface StartStats {
  limit: number;
  /** starts holding a slot now */
  starting: number;
  /** starts waiting for a slot now */
  waiting: number;
  /** the most that ever held a slot at once */
  peak: number;
  /** slots given out so far */
  started: number;
  /** of those, how many had to wait */
  queued: number;
}

export interface StartLimiter {
  readonly limit: number;
  /** The caller's turn, in the order asked; a `signal` aborted first takes the caller out of the queue. */
  acquire(signal?: AbortSignal): Promise<StartSlot>;
  stats(): StartStats;
}

export interface StartLimiterOptions {
  limit: number;
  /** told each start's wait when it gets its turn (0 when it did not wait), e.g. for a metric */
  onWaited?: (ms: number) => void;
  now?: () => number;
}

function cancelled(signal: AbortSignal): CorralError {
  return new CorralError(
    'start_cancelled',
    'the sandbox start was cancelled while it waited for its turn',
    undefined,
    { cause: signal.reason },
  );
}

export function createStartLimiter(opts: StartLimiterOptions): StartLimiter {
  const { limit } = opts;
  if (!Number.isInteger(limit) || limit < 1)
    throw new CorralError(
      'invalid_argument',
      `the start limit must be a whole number ≥ 1, not ${String(limit)}`,
    );
  const now = opts.now ?? (() => performance.now());
  const waiters: (() => void)[] = [];
  const counts = { starting: 0, peak: 0, started: 0, queued: 0 };

  const grant = (waitedMs: number): StartSlot => {
    counts.starting++;
    counts.started++;
    counts.peak = Math.max(counts.peak, counts.starting);
    opts.onWaited?.(waitedMs);
    let held = true;
    return {
      waitedMs,
      release() {
        if (!held) return;
        held = false;
        counts.starting--;
        waiters.shift()?.();
      },
    };
  };

  return {
    limit,
    acquire(signal) {
      if (signal?.aborted === true) return Promise.reject(cancelled(signal));
      if (counts.starting < limit && waiters.length === 0) return Promise.resolve(grant(0));
      counts.queued++;
      const t0 = now();
      return new Promise<StartSlot>((resolve, reject) => {
        const onAbort = (): void => {
          const i = waiters.indexOf(turn);
          if (i >= 0) waiters.splice(i, 1);
          if (signal !== undefined) reject(cancelled(signal));
        };
        const turn = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve(grant(now() - t0));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(turn);
      });
    },
    stats: () => ({ limit, ...counts, waiting: waiters.length }),
  };
}
