// Per-session FIFO queues over the sandbox pool: turns of one session never overlap, sessions run side by
// side as far as the pool's limits allow. A session keeps its sandbox for up to `quantum` turns in a row while
// others wait for a place, then goes to the back of the line (warm sandboxes are cheap to reuse, not to start).
import type { AgentConfig } from '../../config/schema.ts';
import type { InboundRow } from '../../store/daemon-types.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { Lease, SandboxPool } from '../pool/sandbox-pool.ts';
import { sandboxFingerprint } from '../pool/sandbox-pool.ts';

/** How a turn ended, as far as the queue cares. */
export type TurnOutcome = 'done' | 'failed' | 'requeued' | 'broken';

export interface RouterDeps {
  pool: SandboxPool;
  log: Logger;
  /** the current definition of an agent, or why there is none */
  agent: (name: string) => AgentConfig | CorralError;
  /** runs one turn of a committed message on a leased sandbox; never throws */
  run: (job: {
    message: InboundRow;
    agent: AgentConfig;
    lease: Lease;
    signal: AbortSignal;
  }) => Promise<TurnOutcome>;
  /** ends a message that cannot run (its agent is gone, no sandbox could start) */
  fail: (message: InboundRow, error: string) => void;
  /** consecutive turns a session may run while others wait for a sandbox */
  quantum?: number;
  onChange?: () => void;
}

export const DEFAULT_QUANTUM = 8;

interface SessionQueue {
  id: string;
  agent: string;
  items: InboundRow[];
  active: boolean;
  running?: { messageId: string; abort: AbortController };
}

export interface QueuePosition {
  /** 1 = next in its session */
  position: number;
  /** sessions ahead of this one waiting for a sandbox (only while its session waits for one) */
  waitingForSandbox: number | null;
}

export function createRouter(deps: RouterDeps) {
  const sessions = new Map<string, SessionQueue>();
  const quantum = deps.quantum ?? DEFAULT_QUANTUM;
  let draining = false;
  const idleWaiters: (() => void)[] = [];
  const changed = (): void => deps.onChange?.();

  const checkIdle = (): void => {
    if (sessions.size > 0) return;
    for (const wake of idleWaiters.splice(0)) wake();
  };

  async function pump(sq: SessionQueue): Promise<void> {
    if (sq.active) return;
    sq.active = true;
    let lease: Lease | undefined;
    let streak = 0;
    try {
      while (!draining) {
        const message = sq.items[0];
        if (message === undefined) break;
        const agent = deps.agent(message.agent);
        if (agent instanceof CorralError) {
          sq.items.shift();
          deps.fail(message, agent.message);
          continue;
        }
        if (agent.paused) break; // its messages wait here; resume() starts the session again
        const stale = lease !== undefined && lease.fingerprint !== sandboxFingerprint(agent);
        if (lease !== undefined && (stale || (streak >= quantum && deps.pool.hasWaiters()))) {
          lease.release();
          lease = undefined;
          streak = 0;
        }
        if (lease === undefined) {
          try {
            lease = await deps.pool.acquire(sq.id, agent);
          } catch (err) {
            if (draining) break;
            sq.items.shift();
            deps.fail(message, errorMessage(err));
            continue;
          }
          if (draining) break;
        }
        sq.items.shift();
        const abort = new AbortController();
        sq.running = { messageId: message.id, abort };
        changed();
        const outcome = await deps.run({ message, agent, lease, signal: abort.signal });
        sq.running = undefined;
        streak++;
        if (outcome === 'broken') {
          lease.release({ broken: true });
          lease = undefined;
        }
        changed();
      }
    } finally {
      lease?.release();
      sq.active = false;
      if (sq.items.length === 0 || draining) sessions.delete(sq.id);
      changed();
      checkIdle();
    }
  }

  const running = (): number => {
    let n = 0;
    for (const sq of sessions.values()) if (sq.running !== undefined) n++;
    return n;
  };

  return {
    /** Queues a committed message behind the others of its session. */
    enqueue(message: InboundRow): void {
      if (draining)
        throw new CorralError('draining', 'the host is stopping; the message runs when it starts again');
      let sq = sessions.get(message.sessionId);
      if (sq === undefined) {
        sq = { id: message.sessionId, agent: message.agent, items: [], active: false };
        sessions.set(sq.id, sq);
      }
      sq.items.push(message);
      changed();
      void pump(sq).catch((err: unknown) =>
        deps.log.error('session queue failed', { session: message.sessionId, err: errorMessage(err) }),
      );
    },
    position(messageId: string): QueuePosition | undefined {
      for (const sq of sessions.values()) {
        const i = sq.items.findIndex((m) => m.id === messageId);
        if (i < 0) continue;
        const ahead = sq.running === undefined ? deps.pool.waitingAhead(sq.id) : undefined;
        return { position: i + 1, waitingForSandbox: ahead ?? null };
      }
      return undefined;
    },
    /** Messages waiting (not running), per agent. */
    depths(): Map<string, number> {
      const out = new Map<string, number>();
      for (const sq of sessions.values()) out.set(sq.agent, (out.get(sq.agent) ?? 0) + sq.items.length);
      return out;
    },
    running,
    /** Turns running now, per agent. */
    runningByAgent(): Map<string, number> {
      const out = new Map<string, number>();
      for (const sq of sessions.values())
        if (sq.running !== undefined) out.set(sq.agent, (out.get(sq.agent) ?? 0) + 1);
      return out;
    },
    /** Starts the waiting sessions of an agent again (after it was resumed or its definition changed). */
    resume(agent: string): void {
      for (const sq of sessions.values())
        if (sq.agent === agent && !sq.active && sq.items.length > 0 && !draining)
          void pump(sq).catch((err: unknown) =>
            deps.log.error('session queue failed', { session: sq.id, err: errorMessage(err) }),
          );
    },
    /** Resolves once no session has work (tests, the benchmark). */
    idle(): Promise<void> {
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
    },
    /**
     * Stops starting turns (queued messages stay committed and run after a restart), gives running turns
     * `graceMs` to finish, then cancels them; resolves once every session has stopped.
     */
    async drain(graceMs: number, sleep: (ms: number) => Promise<void>): Promise<void> {
      draining = true;
      deps.pool.drain();
      const stopped = new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      });
      const timedOut = await Promise.race([stopped.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) {
        deps.log.warn('grace period over; cancelling running turns', { running: running() });
        for (const sq of sessions.values()) sq.running?.abort.abort();
        await stopped;
      }
    },
  };
}

export type Router = ReturnType<typeof createRouter>;
