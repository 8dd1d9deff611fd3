// Schedules declared in an agent file under a running `corral up`: an entry written into the file while the host
// runs becomes a task that fires in a real bwrap sandbox, the API lists it as declared and refuses to delete it,
// a broken edit leaves it alone, and removing the entry removes the task; all without a restart.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Up } from './daemon-harness.ts';
import { eventually, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

const Tasks = z.object({
  tasks: z.array(z.object({ id: z.string(), name: z.string().nullable(), source: z.string() })),
});
const Conversation = z.object({ messages: z.array(z.object({ role: z.string(), text: z.string() })) });

describe.skipIf(!hasBwrap)('schedules in an agent file under corral up (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let up: Up | undefined;

  beforeAll(async () => {
    e = await createE2e();
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-schedules-e2e-41d0'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
    ]);
  });
  afterAll(async () => {
    await stopUp(up);
    await e?.close();
  });

  it('applies an edited file: the task appears, fires, is refused to the API, and goes with its entry', async () => {
    up = await startUp(e, ['--idle-timeout', '30s', '--grace', '10s']);
    const host = up;
    const file = path.join(e.home, 'agents', 'alpha.yaml');
    const original = fs.readFileSync(file, 'utf8');
    expect(original).toContain('schedules: []');
    const declared = (entries: string): string =>
      original.replace('schedules: []\n', `schedules:\n${entries}`);
    const tasks = async () => Tasks.parse((await host.api('GET', '/v1/agents/alpha/tasks')).body).tasks;

    fs.writeFileSync(file, declared('  - name: tick\n    every: 2s\n    prompt: tick from the file\n'));
    const task = await eventually(
      async () => (await tasks()).find((t) => t.name === 'tick'),
      'declared task',
    );
    expect(task.source).toBe('file');
    const replies = async (): Promise<string[]> =>
      Conversation.parse(
        (await host.api('GET', `/v1/agents/alpha/messages?channel=task&thread=${task.id}`)).body,
      )
        .messages.filter((m) => m.role === 'assistant')
        .map((m) => m.text);
    expect(
      await eventually(async () => ((await replies()).length > 0 ? replies() : undefined), 'a run'),
    ).toContain('echo: tick from the file');

    const refused = await host.api('DELETE', `/v1/tasks/${task.id}`);
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'task_declared' } } });
    const cli = await e.corral(['task', 'rm', task.id]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('is declared in agents/alpha.yaml (schedules: tick)');

    // a broken edit keeps the last good definition and the task; dropping the entry removes it
    fs.writeFileSync(file, declared('  - name: tick\n    every: sometimes\n    prompt: tick\n'));
    await eventually(
      () => (up?.stderr().includes('schedules.0.every') ? true : undefined),
      'the error logged',
    );
    expect((await tasks()).map((t) => t.id)).toEqual([task.id]);
    fs.writeFileSync(file, original);
    await eventually(async () => ((await tasks()).length === 0 ? true : undefined), 'the task removed');
  }, 180_000);
});
