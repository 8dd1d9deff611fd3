// Scheduled tasks on SQLite: the schedule as written, the next run as an ISO instant (indexed for the timer).
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { CorralError } from '../util/errors.ts';
import type { TaskRow, TaskStore } from './daemon-types.ts';
import { NextAt, TaskDb } from './sqlite-daemon-rows.ts';
import { parseRow } from './sqlite-rows.ts';

const ACTIVE = 'paused = 0 AND next_run_at IS NOT NULL';

export function createTaskStore(db: Database.Database, now: () => string): TaskStore {
  const p = (sql: string) => db.prepare(sql);
  const q = {
    insert: p(
      `INSERT INTO tasks (id, agent, prompt, kind, schedule, tz, missed, paused, next_run_at, created_by,
         created_at, source, name)
       VALUES (@id, @agent, @prompt, @kind, @schedule, @tz, @missed, @paused, @nextRunAt, @createdBy, @now,
         @source, @name)`,
    ),
    get: p('SELECT * FROM tasks WHERE id = ?'),
    list: p('SELECT * FROM tasks WHERE (@agent IS NULL OR agent = @agent) ORDER BY agent, created_at, id'),
    delete: p('DELETE FROM tasks WHERE id = ?'),
    setPaused: p('UPDATE tasks SET paused = ?, next_run_at = ? WHERE id = ?'),
    update: p(
      `UPDATE tasks SET prompt = @prompt, kind = @kind, schedule = @schedule, tz = @tz, missed = @missed,
         paused = @paused, next_run_at = @nextRunAt WHERE id = @id`,
    ),
    setNext: p('UPDATE tasks SET next_run_at = ? WHERE id = ?'),
    ran: p('UPDATE tasks SET last_run_at = ?, last_message_id = ?, next_run_at = ? WHERE id = ?'),
    due: p(`SELECT * FROM tasks WHERE ${ACTIVE} AND next_run_at <= ? ORDER BY next_run_at, id`),
    next: p(`SELECT MIN(next_run_at) AS at FROM tasks WHERE ${ACTIVE}`),
  };
  const row = (r: unknown): TaskRow => parseRow(TaskDb, r, 'tasks');
  const getTask = (id: string): TaskRow | undefined => {
    const r: unknown = q.get.get(id);
    return r === undefined ? undefined : row(r);
  };
  const mustGet = (id: string): TaskRow => {
    const t = getTask(id);
    if (t === undefined)
      throw new CorralError('task_unknown', `no task '${id}'`, 'list them with: corral task list');
    return t;
  };
  return {
    createTask(t) {
      // short ids: people type them (corral task rm t-3f9a2c1d)
      const id = `t-${randomBytes(4).toString('hex')}`;
      try {
        q.insert.run({
          ...t,
          id,
          now: now(),
          paused: t.paused === true ? 1 : 0,
          source: t.source ?? 'added',
          name: t.name ?? null,
        });
      } catch (err) {
        if (err instanceof Error && 'code' in err && err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
          throw new CorralError('not_found', `agent "${t.agent}" does not exist`, undefined, { cause: err });
        throw err;
      }
      return mustGet(id);
    },
    getTask,
    listTasks: (agent) => q.list.all({ agent: agent ?? null }).map(row),
    deleteTask: (id) => q.delete.run(id).changes > 0,
    setTaskPaused(id, paused, nextRunAt) {
      if (q.setPaused.run(paused ? 1 : 0, nextRunAt, id).changes === 0) mustGet(id);
      return mustGet(id);
    },
    updateTask(id, u) {
      if (q.update.run({ ...u, id, paused: u.paused ? 1 : 0 }).changes === 0) mustGet(id);
      return mustGet(id);
    },
    setTaskNextRun(id, nextRunAt) {
      q.setNext.run(nextRunAt, id);
    },
    recordTaskRun(id, r) {
      q.ran.run(r.lastRunAt, r.lastMessageId, r.nextRunAt, id);
    },
    dueTasks: (at) => q.due.all(at).map(row),
    nextTaskDue: () => parseRow(NextAt, q.next.get(), 'tasks').at ?? undefined,
  };
}
