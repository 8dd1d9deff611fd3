// The scheduler over a real SQLite store with an injected clock: one timer to the earliest task, runs at the
// second they are due, no pile-up behind a slow run, missed runs once or skipped after a restart; and task
// creation through authorize().
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../policy/actions.ts';
import { LOCAL_OPERATOR } from '../../policy/actions.ts';
import { EMPTY_POLICY } from '../../policy/policy.ts';
import { declaredOnly } from '../../policy/rights.ts';
import type { TaskRow } from '../../store/daemon-types.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { Store } from '../../store/types.ts';
import type { FakeClock } from '../../util/clock.ts';
import { createFakeClock } from '../../util/clock.ts';
import { silentLogger } from '../../util/log.ts';
import { createApprovals } from '../approvals.ts';
import type { Governance } from '../authorize.ts';
import { createScheduler, taskSource } from './scheduler.ts';
import type { TaskDeps } from './tasks.ts';
import { addTask, removeTask, setTaskPaused } from './tasks.ts';

let store: Store;
let clock: FakeClock;
let deps: TaskDeps;
let fired: { task: string; message: string; at: string }[];
let schedulers: ReturnType<typeof createScheduler>[];

beforeEach(() => {
  clock = createFakeClock('2026-05-01T00:00:00.000Z');
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32), clock: () => clock.now() });
  store.ensureAgent('a');
  store.ensureAgent('b');
  const audit: Governance['audit'] = (e) => void store.appendAudit(e);
  const policy = () => EMPTY_POLICY;
  const approvals = createApprovals({ store, policy, policyFile: '/nonexistent/policy.yaml', audit });
  deps = { store, gov: { policy, audit, approvals }, now: () => clock.now() };
  fired = [];
  schedulers = [];
});
afterEach(() => {
  for (const s of schedulers) s.stop();
  store.close();
});

function scheduler() {
  const s = createScheduler({
    store,
    clock,
    log: silentLogger,
    fire: (t: TaskRow) => {
      const m = store.acceptMessage({
        agent: t.agent,
        sessionKey: `task:${t.id}`,
        kind: 'task',
        source: taskSource(t.id),
        text: t.prompt,
        queued: true,
      });
      fired.push({ task: t.id, message: m.id, at: clock.now().toISOString() });
      return m.id;
    },
  });
  schedulers.push(s);
  return s;
}

const operator = { principal: LOCAL_OPERATOR };
const finish = (messageId: string): void => {
  store.startMessage(messageId);
  store.failMessage({ messageId, runId: null, error: 'done here', outbox: [] });
};
const auditActions = (): string[] =>
  store
    .listAudit({ limit: 1000 })
    .map((e) => e.action)
    .filter((a) => a.startsWith('task.'));

describe('scheduler', () => {
  it('fires at the second a task is due, with one timer for all tasks', async () => {
    clock = createFakeClock('2026-05-01T00:00:30.250Z');
    deps.now = () => clock.now();
    const s = scheduler();
    const cron = await addTask(deps, operator, {
      agent: 'a',
      prompt: 'p1',
      schedule: { cron: '* * * * *', tz: 'UTC' },
    });
    await addTask(deps, operator, { agent: 'b', prompt: 'p2', schedule: { every: '45s' } });
    s.start();
    expect(clock.pending()).toBe(1);
    await clock.advance(29_749);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired.map((f) => [f.task, f.at])).toEqual([[cron.id, '2026-05-01T00:01:00.000Z']]);
    expect(store.getInbound(fired[0]?.message ?? '')).toMatchObject({
      kind: 'task',
      sessionKey: `task:${cron.id}`,
    });
    expect(clock.pending()).toBe(1);
    await clock.advance(15_250); // 00:01:15.250: the 45 s task
    expect(fired.map((f) => f.at)).toEqual(['2026-05-01T00:01:00.000Z', '2026-05-01T00:01:15.250Z']);
  });

  it('does not pile up: a run due while the previous one is unfinished is skipped, intervals count from the end', async () => {
    const s = scheduler();
    const t = await addTask(deps, operator, { agent: 'a', prompt: 'slow', schedule: { every: '10s' } });
    s.start();
    await clock.advance(10_000);
    expect(fired).toHaveLength(1);
    await clock.advance(10_000); // 20 s: the first run still waits in the queue
    await clock.advance(10_000); // 30 s
    expect(fired).toHaveLength(1);
    expect(auditActions().filter((a) => a === 'task.skip')).toHaveLength(2);
    await clock.advance(3_000); // ends at 33 s: the next run comes 10 s later
    finish(fired[0]?.message ?? '');
    s.ended(store.getInbound(fired[0]?.message ?? '') ?? expect.fail('no message'));
    expect(store.getTask(t.id)?.nextRunAt).toBe('2026-05-01T00:00:43.000Z');
    await clock.advance(9_999);
    expect(fired).toHaveLength(1);
    await clock.advance(1);
    expect(fired.map((f) => f.at)).toEqual(['2026-05-01T00:00:10.000Z', '2026-05-01T00:00:43.000Z']);
  });

  it('after a restart runs a missed task once (not once per missed slot) or skips it, per task', async () => {
    const first = scheduler();
    const once = await addTask(deps, operator, { agent: 'a', prompt: 'once', schedule: { every: '1m' } });
    const skip = await addTask(deps, operator, {
      agent: 'b',
      prompt: 'skip',
      schedule: { cron: '*/5 * * * *', tz: 'UTC' },
      missed: 'skip',
    });
    first.start();
    first.stop(); // the host goes down before anything is due
    await clock.advance(30 * 60_000);
    const second = scheduler();
    second.start();
    await clock.advance(0);
    expect(fired.map((f) => [f.task, f.at])).toEqual([[once.id, '2026-05-01T00:30:00.000Z']]);
    expect(store.getTask(once.id)?.nextRunAt).toBe('2026-05-01T00:31:00.000Z');
    expect(store.getTask(skip.id)?.nextRunAt).toBe('2026-05-01T00:35:00.000Z');
    expect(store.listAudit({ limit: 100 }).find((e) => e.action === 'task.skip')?.detail).toMatchObject({
      taskId: skip.id,
      reason: 'missed while the host was down',
    });
    await clock.advance(5 * 60_000);
    expect(fired.filter((f) => f.task === skip.id).map((f) => f.at)).toEqual(['2026-05-01T00:35:00.000Z']);
  });

  it('runs a one-off task once, then has nothing to wait for', async () => {
    const s = scheduler();
    const t = await addTask(deps, operator, { agent: 'a', prompt: 'once', schedule: { at: '+90s' } });
    s.start();
    await clock.advance(90_000);
    expect(fired).toHaveLength(1);
    expect(store.getTask(t.id)).toMatchObject({ nextRunAt: null, lastMessageId: fired[0]?.message });
    expect(clock.pending()).toBe(0);
  });

  it('follows pause, resume and removal after a refresh', async () => {
    const s = scheduler();
    const t = await addTask(deps, operator, { agent: 'a', prompt: 'p', schedule: { every: '10s' } });
    s.start();
    await setTaskPaused(deps, operator, t.id, true);
    s.refresh();
    await clock.advance(60_000);
    expect(fired).toEqual([]);
    expect(clock.pending()).toBe(0);
    await setTaskPaused(deps, operator, t.id, false);
    s.refresh();
    await clock.advance(10_000);
    expect(fired).toHaveLength(1);
    await removeTask(deps, operator, t.id);
    s.refresh();
    expect(clock.pending()).toBe(0);
    expect(auditActions()).toEqual(['task.create', 'task.pause', 'task.resume', 'task.run', 'task.remove']);
  });
});

describe('addTask through authorize()', () => {
  const agent = (
    name: string,
  ): { principal: Principal; context: { agent: ReturnType<typeof declaredOnly> } } => ({
    principal: { kind: 'agent', name },
    context: { agent: declaredOnly(name) },
  });

  it('lets an agent schedule for itself, not for another agent; an operator for any', async () => {
    const own = await addTask(deps, agent('a'), { agent: 'a', prompt: 'mine', schedule: { every: '1h' } });
    expect(own.createdBy).toBe('agent:a');
    await expect(
      addTask(deps, agent('a'), { agent: 'b', prompt: 'yours', schedule: { every: '1h' } }),
    ).rejects.toThrow('schedule a task for agent b: no rule allows task.schedule on agent:b for agent:a');
    const viewer: Principal = { kind: 'operator', name: 'v', role: 'viewer' };
    await expect(
      addTask(deps, { principal: viewer }, { agent: 'b', prompt: 'x', schedule: { every: '1h' } }),
    ).rejects.toThrow('needs an admin');
    expect(
      (await addTask(deps, operator, { agent: 'b', prompt: 'ok', schedule: { every: '1h' } })).createdBy,
    ).toBe('operator:cli');
    const decisions = store
      .listAudit({ limit: 100 })
      .filter((e) => e.action === 'policy.decide')
      .map((e) => [e.actor, e.detail?.['effect']]);
    expect(decisions).toEqual([
      ['agent:a', 'allow'],
      ['agent:a', 'deny'],
      ['operator:v', 'deny'],
      ['operator:cli', 'allow'],
    ]);
  });
});
