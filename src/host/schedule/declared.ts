// Tasks declared in an agent's file (`schedules:`), reconciled into the tasks table by their name whenever the
// daemon loads the file: new entries are added, changed ones updated, entries no longer in the file removed.
// When an entry's schedule is unchanged its next run and last run stay as they are, so a reload (an edited
// prompt, a `git pull`) neither delays nor repeats a run. Tasks added by the CLI, the API or the agent's
// schedule_task tool are never touched here.
import type { AgentSchedule } from '../../config/schedules.ts';
import type { TaskRow, TaskUpdate } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { storedSchedule } from './schedule.ts';
import { resumedNext } from './tasks.ts';

export interface Reconciled {
  added: TaskRow[];
  updated: TaskRow[];
  removed: TaskRow[];
  /** entries that could not be applied (their task, if any, is kept as it was) */
  failed: { name: string; error: string }[];
}

/** The audit actor and `createdBy` of declared tasks. */
export const declaredBy = (agent: string): string => `file:agents/${agent}.yaml`;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The row an entry asks for, given the row it had (if any). */
function wanted(e: AgentSchedule, old: TaskRow | undefined, nowMs: number): TaskUpdate {
  const s = storedSchedule(
    {
      ...(e.cron === undefined ? {} : { cron: e.cron }),
      ...(e.every === undefined ? {} : { every: e.every }),
      ...(e.at === undefined ? {} : { at: e.at }),
      ...(e.tz === undefined ? {} : { tz: e.tz }),
    },
    nowMs,
    '',
  );
  const base = {
    prompt: e.prompt,
    kind: s.kind,
    schedule: s.schedule,
    tz: s.tz,
    missed: e.missed === 'skip' ? ('skip' as const) : ('run_once' as const),
    paused: e.paused,
  };
  const sameSchedule =
    old !== undefined && old.kind === s.kind && old.schedule === s.schedule && old.tz === s.tz;
  if (old === undefined || !sameSchedule) return { ...base, nextRunAt: iso(s.firstRun) };
  // the same schedule: keep its timing; a resumed task runs on from now, as `corral task resume` does
  return { ...base, nextRunAt: old.paused && !e.paused ? resumedNext(old, nowMs) : old.nextRunAt };
}

const FIELDS = [
  'prompt',
  'kind',
  'schedule',
  'tz',
  'missed',
  'paused',
  'nextRunAt',
] as const satisfies readonly (keyof TaskUpdate)[];
const differs = (old: TaskRow, u: TaskUpdate): boolean => FIELDS.some((k) => old[k] !== u[k]);

/** Brings an agent's declared tasks in line with its file's entries (none: the file is gone). */
export function reconcileDeclared(
  deps: { store: Store; now: () => Date },
  agent: string,
  entries: readonly AgentSchedule[],
): Reconciled {
  const { store } = deps;
  const nowMs = deps.now().getTime();
  const out: Reconciled = { added: [], updated: [], removed: [], failed: [] };
  const left = new Map(
    store
      .listTasks(agent)
      .filter((t) => t.source === 'file')
      .map((t) => [t.name ?? '', t]),
  );
  const actor = declaredBy(agent);
  const audit = (action: string, t: TaskRow, detail: Record<string, unknown>): void =>
    void store.appendAudit({
      actor,
      action,
      subject: agent,
      detail: { taskId: t.id, name: t.name, source: 'file', ...detail },
    });
  for (const e of entries) {
    const old = left.get(e.name);
    left.delete(e.name); // kept, whatever happens below
    try {
      const u = wanted(e, old, nowMs);
      const detail = {
        kind: u.kind,
        schedule: u.schedule,
        tz: u.tz,
        paused: u.paused,
        nextRunAt: u.nextRunAt,
      };
      if (old === undefined) {
        store.ensureAgent(agent);
        const row = store.createTask({ agent, ...u, createdBy: actor, source: 'file', name: e.name });
        out.added.push(row);
        audit('task.create', row, { ...detail, prompt: u.prompt, missed: u.missed });
      } else if (differs(old, u)) {
        const row = store.updateTask(old.id, u);
        out.updated.push(row);
        audit('task.update', row, detail);
      }
    } catch (err) {
      out.failed.push({ name: e.name, error: errorMessage(err) });
    }
  }
  for (const t of left.values()) {
    store.deleteTask(t.id);
    out.removed.push(t);
    audit('task.remove', t, {});
  }
  return out;
}

/** The daemon's side: reconcile on every load of an agent's file and when it is removed, then re-arm the timer. */
export function createDeclaredTasks(deps: {
  store: Store;
  now: () => Date;
  log: Logger;
  /** the scheduler's refresh (it may not exist yet while the catalog first loads) */
  refresh: () => void;
}) {
  const apply = (agent: string, entries: readonly AgentSchedule[]): Reconciled => {
    const r = reconcileDeclared(deps, agent, entries);
    for (const f of r.failed)
      deps.log.error('declared schedule not applied; its task is kept as it was', { agent, ...f });
    if (r.added.length + r.updated.length + r.removed.length > 0) {
      deps.log.info('declared schedules applied', {
        agent,
        added: r.added.length,
        updated: r.updated.length,
        removed: r.removed.length,
      });
      deps.refresh();
    }
    return r;
  };
  return {
    loaded: (agent: { name: string; schedules: readonly AgentSchedule[] }): Reconciled =>
      apply(agent.name, agent.schedules),
    removed: (name: string): Reconciled => apply(name, []),
    /** At start: drops the declared tasks of agents whose file went away while the host was down. */
    forgetMissing(exists: (agent: string) => boolean): void {
      const agents = new Set(
        deps.store
          .listTasks()
          .filter((t) => t.source === 'file')
          .map((t) => t.agent),
      );
      for (const agent of agents) if (!exists(agent)) apply(agent, []);
    },
  };
}
