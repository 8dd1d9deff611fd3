// A channel's health as it changes: the state, since when, and the last problem with its fix.
import type { ChannelKind, ChannelState, ChannelStatus } from './types.ts';

export function createStatus(name: string, kind: ChannelKind, now: () => Date = () => new Date()) {
  let current: ChannelStatus = { name, kind, state: 'starting', since: now().toISOString() };
  return {
    get: (): ChannelStatus => current,
    /** Moves to `state`; `since` stays while the state does not change (retrying since the first failure). */
    set(state: ChannelState, extra: { detail?: string; fix?: string } = {}): void {
      const since = current.state === state ? current.since : now().toISOString();
      current = { name, kind, state, since, ...extra };
    },
  };
}

/** Waits `ms`, or less when `signal` aborts (then resolves all the same: the caller checks the signal). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
