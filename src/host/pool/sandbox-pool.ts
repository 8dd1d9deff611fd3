// The sandbox manager: one warm sandbox per session, at most `maxSandboxes` alive (starting, busy, idle or
// stopping) and `maxPerAgent` per agent. Idle sandboxes stop after `idleMs`, or sooner when a waiting session
// needs their place (least recently used first). Sessions waiting for a place are served first come, first
// served; one held back only by its agent's limit does not block the others.
import type { AgentConfig } from '../../config/schema.ts';
import type { Clock } from '../../util/clock.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { RunningSandbox } from '../launch.ts';

export interface PoolOptions {
  maxSandboxes: number;
  maxPerAgent: number;
  idleMs: number;
  clock: Clock;
  log: Logger;
  start: (agent: AgentConfig) => Promise<RunningSandbox>;
  /** called whenever the counts change (metrics) */
  onChange?: () => void;
}

export interface Lease {
  readonly sandbox: RunningSandbox;
  /** what the sandbox was started with; a different one needs a new sandbox */
  readonly fingerprint: string;
  /** Gives the sandbox back: warm for the session's next turn, or stopped when it is broken. */
  release(opts?: { broken?: boolean }): void;
}

export interface PoolStats {
  starting: number;
  busy: number;
  idle: number;
  stopping: number;
  waiting: number;
}

type State = 'starting' | 'busy' | 'idle';
interface Entry {
  key: string;
  agent: string;
  fingerprint: string;
  state: State;
  sandbox?: RunningSandbox;
  lastUsed: number;
  cancelIdle?: () => void;
}
interface Waiter {
  key: string;
  agent: AgentConfig;
  resolve: (lease: Lease) => void;
  reject: (err: unknown) => void;
}

/** The parts of an agent's definition a running sandbox was built from. */
export function sandboxFingerprint(agent: AgentConfig): string {
  return JSON.stringify([agent.backend, agent.grants, agent.limits]);
}

export function createSandboxPool(opts: PoolOptions) {
  const entries = new Map<string, Entry>();
  const stopping = new Map<Entry, Promise<void>>();
  const waiters: Waiter[] = [];
  const starts = new Set<Promise<unknown>>();
  /** sessions whose sandbox is starting: told at once when the host stops, not when the start ends */
  const startingWaiters = new Set<Waiter>();
  let draining = false;
  const changed = (): void => opts.onChange?.();

  const count = (agent?: string): number => {
    let n = 0;
    for (const e of entries.values()) if (agent === undefined || e.agent === agent) n++;
    for (const e of stopping.keys()) if (agent === undefined || e.agent === agent) n++;
    return n;
  };
  const stoppingOf = (agent?: string): number =>
    [...stopping.keys()].filter((e) => agent === undefined || e.agent === agent).length;
  const oldestIdle = (agent?: string): Entry | undefined => {
    let found: Entry | undefined;
    for (const e of entries.values())
      if (
        e.state === 'idle' &&
        (agent === undefined || e.agent === agent) &&
        (!found || e.lastUsed < found.lastUsed)
      )
        found = e;
    return found;
  };

  /** Stops an entry; it keeps its place in the counts until its sandbox is gone. */
  const retire = (e: Entry, why: string): Promise<void> => {
    if (entries.get(e.key) === e) entries.delete(e.key);
    e.cancelIdle?.();
    const done = (async () => {
      opts.log.debug('stopping sandbox', { agent: e.agent, session: e.key, why });
      await e.sandbox
        ?.stop()
        .catch((err: unknown) => opts.log.warn('sandbox stop failed', { err: errorMessage(err) }));
    })().finally(() => {
      stopping.delete(e);
      changed();
      pump();
    });
    stopping.set(e, done);
    changed();
    return done;
  };

  const lease = (e: Entry, sandbox: RunningSandbox): Lease => {
    let released = false;
    return {
      sandbox,
      fingerprint: e.fingerprint,
      release(r = {}) {
        if (released) return;
        released = true;
        if (entries.get(e.key) !== e) return; // already stopped (the host is stopping)
        if (r.broken === true || draining) return void retire(e, r.broken === true ? 'broken' : 'draining');
        e.state = 'idle';
        e.lastUsed = opts.clock.now().getTime();
        e.cancelIdle = opts.clock.setTimer(opts.idleMs, () => void retire(e, 'idle timeout'));
        changed();
        pump();
      },
    };
  };

  const refuseStarting = (): void => {
    for (const w of startingWaiters) w.reject(new CorralError('draining', 'the host is stopping'));
    startingWaiters.clear();
  };

  const place = (w: Waiter): void => {
    const e: Entry = {
      key: w.key,
      agent: w.agent.name,
      fingerprint: sandboxFingerprint(w.agent),
      state: 'starting',
      lastUsed: opts.clock.now().getTime(),
    };
    entries.set(w.key, e);
    changed();
    startingWaiters.add(w);
    const started = opts.start(w.agent);
    starts.add(started);
    void started.then(
      () => starts.delete(started),
      () => starts.delete(started),
    );
    started.then(
      (sandbox) => {
        e.sandbox = sandbox;
        // a sandbox that dies while nobody uses it leaves the pool at once; a busy one fails its turn first
        void sandbox.channel.exit.then(() => {
          if (e.state === 'idle' && entries.get(e.key) === e) void retire(e, 'exited');
        });
        startingWaiters.delete(w);
        if (draining || entries.get(e.key) !== e) {
          void retire(e, 'draining');
          return w.reject(new CorralError('draining', 'the host is stopping'));
        }
        e.state = 'busy';
        changed();
        w.resolve(lease(e, sandbox));
      },
      (err: unknown) => {
        startingWaiters.delete(w);
        if (entries.get(e.key) === e) entries.delete(e.key);
        changed();
        w.reject(err);
        pump();
      },
    );
  };

  /** Serves waiters in order, making room by stopping idle sandboxes where that helps. */
  function pump(): void {
    let freeing = stoppingOf();
    for (let i = 0; i < waiters.length;) {
      const w = waiters[i];
      if (w === undefined) break;
      const agent = w.agent.name;
      if (count(agent) >= opts.maxPerAgent) {
        const idle = stoppingOf(agent) === 0 ? oldestIdle(agent) : undefined;
        if (idle !== undefined) void retire(idle, 'making room for the same agent');
        i++;
        continue;
      }
      if (count() >= opts.maxSandboxes) {
        if (freeing > 0) freeing--;
        else {
          const idle = oldestIdle();
          if (idle === undefined) break; // nothing frees a place until a turn ends
          void retire(idle, 'making room');
        }
        i++;
        continue;
      }
      waiters.splice(i, 1);
      place(w);
    }
    changed();
  }

  return {
    /** A sandbox for this session's next turn: its warm one, or a new one once there is room. */
    acquire(key: string, agent: AgentConfig): Promise<Lease> {
      if (draining) return Promise.reject(new CorralError('draining', 'the host is stopping'));
      const warm = entries.get(key);
      if (warm !== undefined && warm.state !== 'idle')
        return Promise.reject(new CorralError('session_busy', `session ${key} already has a turn running`));
      if (warm?.sandbox !== undefined) {
        if (warm.fingerprint === sandboxFingerprint(agent)) {
          warm.cancelIdle?.();
          warm.state = 'busy';
          changed();
          return Promise.resolve(lease(warm, warm.sandbox));
        }
        void retire(warm, 'the agent definition changed');
      }
      return new Promise<Lease>((resolve, reject) => {
        waiters.push({ key, agent, resolve, reject });
        pump();
      });
    },
    hasWaiters: (): boolean => waiters.length > 0,
    /** Whether a session waits for a place, and how many wait before it. */
    waitingAhead(key: string): number | undefined {
      const i = waiters.findIndex((w) => w.key === key);
      return i < 0 ? undefined : i;
    },
    stats(): PoolStats {
      const by = (s: State): number => [...entries.values()].filter((e) => e.state === s).length;
      return {
        starting: by('starting'),
        busy: by('busy'),
        idle: by('idle'),
        stopping: stopping.size,
        waiting: waiters.length,
      };
    },
    /** No new sandboxes: waiters are refused, idle sandboxes stopped; busy ones stop when released. */
    drain(): void {
      draining = true;
      for (const w of waiters.splice(0)) w.reject(new CorralError('draining', 'the host is stopping'));
      refuseStarting();
      for (const e of [...entries.values()]) if (e.state === 'idle') void retire(e, 'draining');
    },
    /** Stops every sandbox, busy ones included, and resolves once all are gone. */
    async stopAll(): Promise<void> {
      draining = true;
      for (const w of waiters.splice(0)) w.reject(new CorralError('draining', 'the host is stopping'));
      for (const e of [...entries.values()]) if (e.state !== 'starting') void retire(e, 'stopping the host');
      // a sandbox still starting is retired as soon as it is up (see place)
      await Promise.allSettled([...starts]);
      while (stopping.size > 0) await Promise.all(stopping.values());
    },
  };
}

export type SandboxPool = ReturnType<typeof createSandboxPool>;
