// Scheduled tasks end to end: `corral task` against a real home, `corral up` running them in real bwrap
// sandboxes in their own sessions, a run missed while the host was down run once (or skipped) on start, and a
// task added while the host runs picked up without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Up } from './daemon-harness.ts';
import { eventually, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

const TaskJson = z.object({
  id: z.string(),
  agent: z.string(),
  kind: z.string(),
  nextRunAt: z.string().nullable(),
  lastRunAt: z.string().nullable(),
  paused: z.boolean(),
  createdBy: z.string(),
});
type TaskJson = z.infer<typeof TaskJson>;
const Conversation = z.object({ messages: z.array(z.object({ role: z.string(), text: z.string() })) });

describe.skipIf(!hasBwrap)('corral task (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let up: Up | undefined;

  beforeAll(async () => {
    e = await createE2e();
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-tasks-e2e-7c1e'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
    ]);
  });
  afterAll(async () => {
    await stopUp(up);
    await e?.close();
  });

  const add = async (args: string[]): Promise<TaskJson> => {
    const r = await e.corral(['task', 'add', 'alpha', '--json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return TaskJson.parse(JSON.parse(r.stdout));
  };
  const list = async (): Promise<TaskJson[]> => {
    const r = await e.corral(['task', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return z.array(TaskJson).parse(JSON.parse(r.stdout));
  };
  const replies = async (thread: string): Promise<string[]> => {
    const r = await (up ?? expect.fail('no host')).api(
      'GET',
      `/v1/agents/alpha/messages?channel=task&thread=${thread}`,
    );
    return Conversation.parse(r.body)
      .messages.filter((m) => m.role === 'assistant')
      .map((m) => m.text);
  };

  it('refuses what it cannot schedule, with the reason', async () => {
    const bad = await e.corral(['task', 'add', 'alpha', '--cron', '61 * * * *', '--prompt', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('minute field: 61 is out of range 0-59');
    const unknown = await e.corral(['task', 'add', 'ghost', '--every', '1h', '--prompt', 'x']);
    expect(unknown.stderr).toContain("unknown agent 'ghost'");
  });

  it('runs a missed task once on start, skips one that says skip, and picks up tasks added while up', async () => {
    const missed = await add(['--at', '+1s', '--prompt', 'missed and run']);
    const skipped = await add(['--at', '+1s', '--prompt', 'missed and skipped', '--missed', 'skip']);
    expect(missed).toMatchObject({ kind: 'at', createdBy: 'operator:cli' });
    await new Promise((r) => setTimeout(r, 1500)); // both fall due while no host runs
    up = await startUp(e, ['--idle-timeout', '30s', '--grace', '10s']);
    expect(
      await eventually(
        async () => ((await replies(missed.id)).length > 0 ? replies(missed.id) : undefined),
        'missed run',
      ),
    ).toEqual(['echo: missed and run']);
    const ticker = await add(['--every', '2s', '--prompt', 'tick']);
    // the running host was told; its own session (thread = task id) collects the runs
    await eventually(async () => ((await replies(ticker.id)).length >= 2 ? true : undefined), 'two ticks');
    expect(await replies(skipped.id)).toEqual([]);
    const tasks = await list();
    expect(tasks.find((t) => t.id === skipped.id)).toMatchObject({ nextRunAt: null, lastRunAt: null });
    expect(tasks.find((t) => t.id === missed.id)?.lastRunAt).not.toBeNull();
    const paused = await e.corral(['task', 'pause', ticker.id]);
    expect(paused.code, paused.stderr).toBe(0);
    const rm = await e.corral(['task', 'rm', ticker.id]);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await list()).map((t) => t.id)).not.toContain(ticker.id);
    const audit = e
      .db()
      .prepare("SELECT action FROM audit WHERE action LIKE 'task.%' ORDER BY seq")
      .all()
      .map((r) => (typeof r === 'object' && r !== null && 'action' in r ? r.action : undefined));
    expect(audit).toEqual(
      expect.arrayContaining(['task.create', 'task.run', 'task.skip', 'task.pause', 'task.remove']),
    );
  }, 180_000);
});
