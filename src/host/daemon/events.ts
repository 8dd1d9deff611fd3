// The daemon's live events (runs, tool calls, replies, tasks, agent reloads) for GET /v1/events and
// `corral logs -f`. Kept in memory only, the last few hundred, so a client that reconnects with
// Last-Event-ID misses nothing recent; the store and the audit trail are the record.
import type { Clock } from '../../util/clock.ts';

export type DaemonEvent =
  | { type: 'message.accepted'; agent: string; messageId: string; thread: string; kind: string }
  | { type: 'run.started'; agent: string; messageId: string; attempt: number }
  | { type: 'tool.call'; agent: string; messageId: string; name: string; input: string }
  | { type: 'run.text'; agent: string; messageId: string; delta: string }
  | {
      type: 'tool.result';
      agent: string;
      messageId: string;
      isError: boolean;
      durationMs: number;
      /** the start of the tool's output */
      output?: string;
    }
  | { type: 'limit.hit'; agent: string; messageId: string; message: string }
  | { type: 'egress'; agent: string; allowed: boolean; target: string; reason: string }
  | { type: 'run.done'; agent: string; messageId: string; stopReason: string; ms: number }
  | { type: 'run.failed'; agent: string; messageId: string; error: string }
  | { type: 'run.requeued'; agent: string; messageId: string }
  | {
      type: 'reply';
      agent: string;
      messageId: string;
      thread: string;
      text: string;
      /** files sent with it (GET /v1/messages/MESSAGE/files/ID) */
      files?: { id: string; name: string; size: number }[];
    }
  | { type: 'task.fired'; agent: string; taskId: string; messageId: string }
  | { type: 'task.skipped'; agent: string; taskId: string; reason: string }
  | { type: 'agent.loaded'; agent: string }
  | { type: 'agent.invalid'; agent: string; error: string }
  | { type: 'agent.removed'; agent: string }
  | { type: 'host.draining'; graceMs: number };

export interface PublishedEvent {
  id: number;
  at: string;
  event: DaemonEvent;
}

export const KEEP_EVENTS = 500;

export function createEventBus(opts: { clock: Clock; keep?: number }) {
  const keep = opts.keep ?? KEEP_EVENTS;
  const recent: PublishedEvent[] = [];
  const listeners = new Set<(e: PublishedEvent) => void>();
  let next = 1;
  return {
    publish(event: DaemonEvent): void {
      const e = { id: next++, at: opts.clock.now().toISOString(), event };
      recent.push(e);
      if (recent.length > keep) recent.splice(0, recent.length - keep);
      for (const l of listeners) l(e);
    },
    /** Events after `afterId` still kept, then every new one; returns the unsubscribe function. */
    subscribe(listener: (e: PublishedEvent) => void, afterId?: number): () => void {
      if (afterId !== undefined) for (const e of recent) if (e.id > afterId) listener(e);
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    subscribers: (): number => listeners.size,
  };
}

export type EventBus = ReturnType<typeof createEventBus>;
