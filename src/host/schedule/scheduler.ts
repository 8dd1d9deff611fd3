// The daemon's scheduler: one timer, armed for the earliest due task (never a sweep). A due task becomes a
// message of kind `task` in its own session through the same queue as everything else. At most one run per task
// is in flight: a run falling due while the previous one still waits or runs is skipped, and an interval task
// counts its interval from the previous run's end. Runs missed while the host was down run once on start, or are
// skipped, per task.
import type { InboundRow, TaskRow } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import type { Clock } from '../../util/clock.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { nextRunAfter } from './schedule.ts';

export interface SchedulerDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Commits and queues one run of the task; returns the message's id. */
  fire: (task: TaskRow) => string;
}

export const taskSource = (taskId: string): string => `task:${taskId}`;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function createScheduler(deps: SchedulerDeps) {
  const { store, clock, log } = deps;
  let cancel: (() => void) | undefined;
  let stopped = false;

  const audit = (action: string, t: TaskRow, detail: Record<string, unknown>): void =>
    void store.appendAudit({ actor: 'host', action, subject: t.agent, detail: { taskId: t.id, ...detail } });

  const inFlight = (t: TaskRow): boolean => {
    if (t.lastMessageId === null) return false;
    const m = store.getInbound(t.lastMessageId);
    return m !== undefined && (m.status === 'received' || m.status === 'running');
  };

  /** Runs a due task now (or skips it when its previous run is not finished) and sets its next run. */
  function runDue(t: TaskRow, nowMs: number, why: 'due' | 'missed'): void {
    const next = iso(nextRunAfter(t, nowMs));
    const scheduledFor = t.nextRunAt;
    if (inFlight(t)) {
      store.setTaskNextRun(t.id, next);
      audit('task.skip', t, { scheduledFor, reason: 'the previous run has not finished', nextRunAt: next });
      log.info('task run skipped: previous run not finished', { task: t.id, agent: t.agent });
      return;
    }
    let messageId: string;
    try {
      messageId = deps.fire(t);
    } catch (err) {
      // e.g. the agent's file is gone: keep the schedule, say why this run did not happen
      store.setTaskNextRun(t.id, next);
      audit('task.fail', t, { scheduledFor, error: errorMessage(err), nextRunAt: next });
      log.warn('task could not run', { task: t.id, agent: t.agent, err: errorMessage(err) });
      return;
    }
    store.recordTaskRun(t.id, {
      lastRunAt: new Date(nowMs).toISOString(),
      lastMessageId: messageId,
      nextRunAt: next,
    });
    audit('task.run', t, { scheduledFor, messageId, why, nextRunAt: next });
  }

  function tick(): void {
    cancel = undefined;
    if (stopped) return;
    const now = clock.now();
    for (const t of store.dueTasks(now.toISOString())) {
      try {
        runDue(t, now.getTime(), 'due');
      } catch (err) {
        log.error('task scheduling failed', { task: t.id, err: errorMessage(err) });
      }
    }
    arm();
  }

  function arm(): void {
    cancel?.();
    cancel = undefined;
    if (stopped) return;
    const next = store.nextTaskDue();
    if (next === undefined) return;
    cancel = clock.setTimer(Math.max(0, Date.parse(next) - clock.now().getTime()), tick);
  }

  return {
    /** Handles runs missed while the host was down, then arms the timer. */
    start(): void {
      const now = clock.now();
      for (const t of store.dueTasks(now.toISOString())) {
        if (Date.parse(t.nextRunAt ?? '') >= now.getTime()) continue;
        if (t.missed === 'run_once') {
          runDue(t, now.getTime(), 'missed');
          continue;
        }
        const next = iso(nextRunAfter(t, now.getTime()));
        store.setTaskNextRun(t.id, next);
        audit('task.skip', t, {
          scheduledFor: t.nextRunAt,
          reason: 'missed while the host was down',
          nextRunAt: next,
        });
      }
      arm();
    },
    /** Re-reads the earliest due task (after tasks were added, paused, resumed or removed). */
    refresh: arm,
    /** A task's run ended: an interval task runs next one interval after this end. */
    ended(m: InboundRow): void {
      if (m.kind !== 'task' || m.source === null || !m.source.startsWith('task:')) return;
      const t = store.getTask(m.source.slice('task:'.length));
      if (t === undefined || t.kind !== 'every' || t.paused || t.lastMessageId !== m.id) return;
      store.setTaskNextRun(t.id, iso(nextRunAfter(t, clock.now().getTime())));
      arm();
    },
    stop(): void {
      stopped = true;
      cancel?.();
      cancel = undefined;
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
