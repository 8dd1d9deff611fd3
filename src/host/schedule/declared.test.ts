// Declared tasks over a real SQLite store with the scheduler's injected clock: entries added, changed and removed
// by name, timing kept when the schedule is unchanged, added tasks untouched and the CLI's refusals; then the
// agent catalog on a real directory, its file edited while the scheduler runs, the task appearing and firing.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveAgent } from '../../config/agent-files.ts';
import { resolveHome } from '../../config/home.ts';
import type { AgentSchedule } from '../../config/schedules.ts';
import { AgentConfig } from '../../config/schema.ts';
import { LOCAL_OPERATOR } from '../../policy/actions.ts';
import { EMPTY_POLICY } from '../../policy/policy.ts';
import type { TaskRow } from '../../store/daemon-types.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { Store } from '../../store/types.ts';
import type { FakeClock } from '../../util/clock.ts';
import { createFakeClock } from '../../util/clock.ts';
import { silentLogger } from '../../util/log.ts';
import { createAgentCatalog } from '../daemon/agent-catalog.ts';
import { createApprovals } from '../approvals.ts';
import type { Governance } from '../authorize.ts';
import { createDeclaredTasks, reconcileDeclared } from './declared.ts';
import { createScheduler, taskSource } from './scheduler.ts';
import type { TaskDeps } from './tasks.ts';
import { addTask, removeTask, setTaskPaused } from './tasks.ts';

let store: Store;
let clock: FakeClock;
let deps: TaskDeps;
let fired: { task: string; at: string }[];
let stops: (() => void)[];

beforeEach(() => {
  clock = createFakeClock('2026-05-01T00:00:00.000Z');
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32), clock: () => clock.now() });
  const audit: Governance['audit'] = (e) => void store.appendAudit(e);
  const policy = () => EMPTY_POLICY;
  const approvals = createApprovals({ store, policy, policyFile: '/nonexistent/policy.yaml', audit });
  deps = { store, gov: { policy, audit, approvals }, now: () => clock.now() };
  fired = [];
  stops = [];
});
afterEach(() => {
  for (const s of stops.reverse()) s();
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
      fired.push({ task: t.name ?? t.id, at: clock.now().toISOString() });
      return m.id;
    },
  });
  stops.push(() => s.stop());
  return s;
}

const entry = (e: Partial<AgentSchedule> & { name: string }): AgentSchedule => ({
  prompt: `run ${e.name}`,
  missed: 'run',
  paused: false,
  ...e,
});
const reconcile = (entries: AgentSchedule[]) => reconcileDeclared(deps, 'ops', entries);
const byName = (): Record<string, TaskRow> =>
  Object.fromEntries(
    store
      .listTasks('ops')
      .filter((t) => t.source === 'file')
      .map((t) => [t.name ?? '', t]),
  );
const finish = (messageId: string | null): void => {
  store.startMessage(messageId ?? '');
  store.failMessage({ messageId: messageId ?? '', runId: null, error: 'done here', outbox: [] });
};

describe('reconcileDeclared', () => {
  it('adds, updates and removes entries by name, keeping timing where the schedule is unchanged', async () => {
    store.ensureAgent('ops');
    const s = scheduler();
    const first = reconcile([
      entry({ name: 'poll', every: '10s' }),
      entry({ name: 'report', cron: '*/5 * * * *', tz: 'UTC', missed: 'skip' }),
      entry({ name: 'gone', every: '1h' }),
    ]);
    expect(first.added.map((t) => t.name)).toEqual(['poll', 'report', 'gone']);
    expect(byName()['report']).toMatchObject({
      source: 'file',
      kind: 'cron',
      schedule: '*/5 * * * *',
      tz: 'UTC',
      missed: 'skip',
      createdBy: 'file:agents/ops.yaml',
      nextRunAt: '2026-05-01T00:05:00.000Z',
    });
    s.start();
    await clock.advance(10_000);
    expect(fired).toEqual([{ task: 'poll', at: '2026-05-01T00:00:10.000Z' }]);
    const ran = byName()['poll'];
    finish(ran?.lastMessageId ?? null);
    s.ended(store.getInbound(ran?.lastMessageId ?? '') ?? expect.fail('no message'));
    const before = byName();
    await clock.advance(3_000);

    // reloaded at 00:00:13: a new prompt keeps the interval task's timing and last run; a new cron is re-timed
    const second = reconcile([
      entry({ name: 'poll', every: '10s', prompt: 'a better prompt' }),
      entry({ name: 'report', cron: '*/2 * * * *', tz: 'UTC', missed: 'skip' }),
      entry({ name: 'new', at: '2026-05-01T01:00:00Z' }),
    ]);
    expect(second.added.map((t) => t.name)).toEqual(['new']);
    expect(second.updated.map((t) => t.name)).toEqual(['poll', 'report']);
    expect(second.removed.map((t) => t.name)).toEqual(['gone']);
    const after = byName();
    expect(after['poll']).toEqual({ ...before['poll'], prompt: 'a better prompt' });
    expect(after['report']).toMatchObject({
      id: before['report']?.id,
      nextRunAt: '2026-05-01T00:02:00.000Z',
    });
    expect(after['new']).toMatchObject({ kind: 'at', nextRunAt: '2026-05-01T01:00:00.000Z' });
    expect(Object.keys(after).sort()).toEqual(['new', 'poll', 'report']);

    // the same entries again change nothing
    expect(
      reconcile([
        entry({ name: 'poll', every: '10s', prompt: 'a better prompt' }),
        entry({ name: 'report', cron: '*/2 * * * *', tz: 'UTC', missed: 'skip' }),
        entry({ name: 'new', at: '2026-05-01T01:00:00Z' }),
      ]),
    ).toEqual({ added: [], updated: [], removed: [], failed: [] });
    expect(byName()).toEqual(after);
    const actions = store
      .listAudit({ limit: 100 })
      .filter((e) => e.actor === 'file:agents/ops.yaml')
      .map((e) => `${e.action} ${String(e.detail?.['name'])}`);
    expect(actions).toEqual([
      'task.create poll',
      'task.create report',
      'task.create gone',
      'task.update poll',
      'task.update report',
      'task.create new',
      'task.remove gone',
    ]);
  });

  it('pauses and resumes through the file; a one-off time already past is done, not an error', async () => {
    store.ensureAgent('ops');
    reconcile([entry({ name: 'p', every: '1m' }), entry({ name: 'old', at: '2020-01-01T00:00:00Z' })]);
    expect(byName()['old']).toMatchObject({ nextRunAt: null, paused: false });
    reconcile([
      entry({ name: 'p', every: '1m', paused: true }),
      entry({ name: 'old', at: '2020-01-01T00:00:00Z' }),
    ]);
    expect(byName()['p']).toMatchObject({ paused: true, nextRunAt: '2026-05-01T00:01:00.000Z' });
    await clock.advance(5 * 60_000);
    reconcile([entry({ name: 'p', every: '1m' })]);
    expect(byName()['p']).toMatchObject({ paused: false, nextRunAt: '2026-05-01T00:06:00.000Z' });
    expect(byName()['old']).toBeUndefined();
  });

  it('never touches tasks added by the CLI or the agent, and the CLI refuses to change declared ones', async () => {
    store.ensureAgent('ops');
    const added = await addTask(
      deps,
      { principal: LOCAL_OPERATOR },
      {
        agent: 'ops',
        prompt: 'mine',
        schedule: { every: '1h' },
      },
    );
    reconcile([entry({ name: 'd', every: '1m' })]);
    reconcile([]);
    expect(store.listTasks('ops')).toEqual([added]);
    const [declared] = reconcile([entry({ name: 'd', every: '1m' })]).added;
    const id = declared?.id ?? expect.fail('not added');
    const op = { principal: LOCAL_OPERATOR };
    await expect(removeTask(deps, op, id)).rejects.toThrow(
      `task ${id} is declared in agents/ops.yaml (schedules: d); it cannot be removed here`,
    );
    await expect(setTaskPaused(deps, op, id, true)).rejects.toMatchObject({
      code: 'task_declared',
      hint: "set paused: true on the entry 'd' in agents/ops.yaml; the running host applies it",
    });
    expect(store.getTask(id)).toEqual(declared);
  });

  it('keeps an entry that cannot be applied as it was, and applies the others', () => {
    store.ensureAgent('ops');
    reconcile([entry({ name: 'a', every: '1m' }), entry({ name: 'b', every: '1m' })]);
    const before = byName();
    // schema-checked entries cannot fail like this; a defect or a zone removed from the system could
    const r = reconcile([
      entry({ name: 'a', cron: '@hourly', tz: 'Nowhere/Atlantis' }),
      entry({ name: 'b', every: '2m' }),
    ]);
    expect(r.failed).toEqual([{ name: 'a', error: "unknown time zone 'Nowhere/Atlantis'" }]);
    expect(r.updated.map((t) => t.name)).toEqual(['b']);
    expect(byName()['a']).toEqual(before['a']);
  });
});

describe('declared tasks under the agent catalog', () => {
  it('picks up a schedule written into an agent file while the scheduler runs, and fires it', async () => {
    const home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-declared-')) });
    stops.push(() => fs.rmSync(home.root, { recursive: true, force: true }));
    fs.mkdirSync(home.agentsDir, { recursive: true });
    saveAgent(home, AgentConfig.parse({ name: 'ops', model: 'p:m' }));
    const s = scheduler();
    const declared = createDeclaredTasks({
      store,
      now: () => clock.now(),
      log: silentLogger,
      refresh: s.refresh,
    });
    const seen: string[] = [];
    const catalog = createAgentCatalog({
      home,
      log: silentLogger,
      debounceMs: 20,
      onChange: (c) => {
        seen.push(c.type);
        if (c.type === 'loaded') {
          store.ensureAgent(c.agent.name);
          declared.loaded(c.agent);
        }
        if (c.type === 'removed') declared.removed(c.name);
      },
    });
    stops.push(() => catalog.close());
    catalog.start();
    s.start();
    expect(store.listTasks()).toEqual([]);

    const file = path.join(home.agentsDir, 'ops.yaml');
    const yaml = 'name: ops\nmodel: p:m\n';
    fs.writeFileSync(file, `${yaml}schedules:\n  - name: tick\n    every: 30s\n    prompt: tick\n`);
    const task = await eventually(() => store.listTasks('ops')[0]);
    expect(task).toMatchObject({ name: 'tick', source: 'file', nextRunAt: '2026-05-01T00:00:30.000Z' });
    await clock.advance(30_000);
    expect(fired).toEqual([{ task: 'tick', at: '2026-05-01T00:00:30.000Z' }]);

    // a broken edit leaves the task alone; removing the file removes it
    fs.writeFileSync(file, `${yaml}schedules:\n  - name: tick\n    every: often\n    prompt: tick\n`);
    await eventually(() => (seen.includes('invalid') ? true : undefined));
    expect(store.listTasks('ops').map((t) => t.id)).toEqual([task.id]);
    fs.rmSync(file);
    await eventually(() => (store.listTasks('ops').length === 0 ? true : undefined));
  });
});

/** Waits for a file event to be handled (inotify is fast, but not synchronous). */
async function eventually<T>(probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('nothing happened within 3 s');
}
