// Agents acting through the host, end to end with real bwrap sandboxes and the HTTP API: send_message to another
// agent (allowed only by the sender's mayMessage, the reply coming back into the sender's session), a loop of
// agents messaging each other stopped at the hop limit, and schedule_task creating a task as the agent.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultScript } from '../fixtures/model-server.ts';
import type { Script } from '../fixtures/model-server.ts';
import type { Up } from './daemon-harness.ts';
import { eventually, field, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

/** `send: AGENT TEXT` and `loop: A B` message another agent; `schedule: EVERY PROMPT` schedules a task. */
const script: Script = (req) => {
  if (req.lastToolResult !== undefined) return defaultScript(req);
  const text = req.lastUserText ?? '';
  const send = /(?:^|\n)send: (\S+) ([\s\S]+)$/.exec(text);
  if (send?.[1] !== undefined)
    return { kind: 'tool', name: 'send_message', input: { to: send[1], text: send[2] ?? '' } };
  // loop: A B — send A the text "loop: B A", so two agents keep messaging each other
  const loop = /(?:^|\n)loop: (\S+) (\S+)$/.exec(text);
  if (loop?.[1] !== undefined && loop[2] !== undefined)
    return {
      kind: 'tool',
      name: 'send_message',
      input: { to: loop[1], text: `loop: ${loop[2]} ${loop[1]}` },
    };
  const schedule = /^schedule: (\S+) ([\s\S]+)$/.exec(text);
  if (schedule?.[1] !== undefined)
    return { kind: 'tool', name: 'schedule_task', input: { every: schedule[1], prompt: schedule[2] ?? '' } };
  return defaultScript(req);
};

const Conversation = z.object({ messages: z.array(z.object({ role: z.string(), text: z.string() })) });

describe.skipIf(!hasBwrap)('agents acting through the host (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let up: Up;

  beforeAll(async () => {
    e = await createE2e({ script });
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-agents-e2e-91b0'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
      [['agent', 'add', 'beta', '--model', 'stand:claude-test']],
      [['agent', 'add', 'gamma', '--model', 'stand:claude-test']],
    ]);
    // alpha may message beta; beta may message gamma; gamma may message beta (a loop) — nobody else
    const allow = (agent: string, may: string[]): void => {
      const file = path.join(e.home, 'agents', `${agent}.yaml`);
      const text = fs.readFileSync(file, 'utf8').replace(/^mayMessage:.*(\n[ -].*)*\n?/m, '');
      fs.writeFileSync(file, `${text.trimEnd()}\nmayMessage: [${may.join(', ')}]\n`);
    };
    allow('alpha', ['agent:beta']);
    allow('beta', ['agent:gamma']);
    allow('gamma', ['agent:beta']);
    up = await startUp(e, ['--idle-timeout', '30s', '--grace', '10s']);
  });
  afterAll(async () => {
    await stopUp(up);
    await e?.close();
  });

  const send = async (agent: string, text: string, thread: string): Promise<string> => {
    const r = await up.api('POST', `/v1/agents/${agent}/messages`, { text, thread });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return field(r.body, 'id');
  };
  const conversation = async (agent: string, query: string): Promise<{ role: string; text: string }[]> =>
    Conversation.parse((await up.api('GET', `/v1/agents/${agent}/messages?${query}`)).body).messages;
  const toolOutputs = (name: string): string[] =>
    e
      .db()
      .prepare('SELECT output FROM tool_calls WHERE name = ? ORDER BY rowid')
      .all(name)
      .flatMap((r) =>
        typeof r === 'object' && r !== null && 'output' in r && typeof r.output === 'string'
          ? [r.output]
          : [],
      );

  it('delivers an allowed message, brings the reply back to the sender, and refuses one no rule allows', async () => {
    await send('alpha', 'send: beta what is 6 times 7?', 'ask');
    // alpha's own conversation gets beta's reply as a new message, and alpha answers it
    const alphaConv = await eventually(async () => {
      const c = await conversation('alpha', 'thread=ask');
      return c.some((m) => m.role === 'user' && m.text.startsWith('Reply from agent beta:')) &&
        c.filter((m) => m.role === 'assistant').length >= 2
        ? c
        : undefined;
    }, 'the reply back in alpha');
    expect(alphaConv.find((m) => m.text.startsWith('Reply from agent beta:'))?.text).toContain(
      'echo: Message from agent alpha:\n\nwhat is 6 times 7?',
    );
    const betaConv = await conversation('beta', 'channel=agent&thread=alpha:default');
    expect(betaConv[0]).toEqual({ role: 'user', text: 'Message from agent alpha:\n\nwhat is 6 times 7?' });

    // beta may not message alpha: the tool result says why, nothing reaches alpha
    await send('beta', 'send: alpha hello', 'deny');
    const denied = await eventually(async () => {
      const c = await conversation('beta', 'thread=deny');
      return c.find((m) => m.role === 'assistant');
    }, 'the refusal');
    expect(denied.text).toContain(
      'message agent alpha: no rule allows agent.message on agent:alpha for agent:beta',
    );
    expect(await conversation('alpha', 'channel=agent&thread=beta:default')).toEqual([]);
  }, 240_000);

  it('stops agents messaging each other in a loop at the hop limit', async () => {
    await send('beta', 'loop: gamma beta', 'loop');
    const refused = await eventually(
      () => toolOutputs('send_message').find((o) => o.includes('limit 4')),
      'the hop limit',
      180_000,
    );
    expect(refused).toContain('already taken 4 hops (limit 4)');
    const allHops = e
      .db()
      .prepare("SELECT json_extract(detail, '$.hops') AS hops FROM audit WHERE action = 'agent.message'")
      .all()
      .map((r) => (typeof r === 'object' && r !== null && 'hops' in r ? Number(r.hops) : NaN));
    expect(Math.max(...allHops)).toBe(4);
  }, 240_000);

  it('lets an agent schedule a task for itself', async () => {
    await send('alpha', 'schedule: 1h water the plants', 'plan');
    const reply = await eventually(async () => {
      const c = await conversation('alpha', 'thread=plan');
      return c.find((m) => m.role === 'assistant');
    }, 'the schedule reply');
    expect(reply.text).toMatch(/^tool said: scheduled task t-[0-9a-f]{8}: every 1h, next run /);
    const list = await e.corral(['task', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({
        agent: 'alpha',
        kind: 'every',
        prompt: 'water the plants',
        createdBy: 'agent:alpha',
      }),
    ]);
  }, 240_000);
});
