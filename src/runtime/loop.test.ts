// The agent loop end to end: startRuntime in-process against the stand-in model server, for both provider APIs.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderKind } from '../protocol/frames.ts';
import { MEMORY_HEADING } from './system-prompt.ts';
import { startHarness } from './testing.ts';
import type { Harness } from './testing.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe.each<ProviderKind>(['anthropic', 'openai'])('%s', (kind) => {
  it('announces itself, then streams a text reply', async () => {
    h = await startHarness(kind);
    // ready carries the start self-test's report: facts seen inside, and the environment only as digests
    expect(h.frames[0]).toMatchObject({
      type: 'ready',
      protocol: 1,
      gatewayPort: h.runtime.port,
      selfTest: { facts: { uid: String(process.getuid?.() ?? -1) } },
    });
    expect(JSON.stringify(h.frames[0])).toMatch(/"env":\{"PATH":"[0-9a-f]{32}"\}/);
    const { end, frames } = await h.turn('hello');
    expect(end).toMatchObject({ type: 'turn_end', stopReason: 'end', text: 'echo: hello' });
    const deltas = frames.flatMap((f) => (f.type === 'text' ? [f.delta] : []));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('echo: hello');
    expect(frames.filter((f) => f.type === 'usage')).toHaveLength(1);
    expect(end.type === 'turn_end' && end.messages).toEqual([
      { role: 'assistant', content: [{ type: 'text', text: 'echo: hello' }] },
    ]);
  });

  it('runs a bash tool call in the workspace and feeds the result back', async () => {
    h = await startHarness(kind);
    await writeFile(join(h.workspace, 'marker.txt'), 'found-it');
    const { end, frames } = await h.turn('bash: cat marker.txt; echo " $HTTP_PROXY"');
    const proxy = `http://127.0.0.1:${h.runtime.port}`;
    expect(frames.find((f) => f.type === 'tool_call')).toMatchObject({
      name: 'bash',
      input: { command: 'cat marker.txt; echo " $HTTP_PROXY"' },
    });
    const result = frames.find((f) => f.type === 'tool_result');
    expect(result).toMatchObject({ isError: false, output: `found-it ${proxy}\n\n[exit code 0]` });
    expect(end).toMatchObject({ stopReason: 'end', text: `tool said: found-it ${proxy}\n\n[exit code 0]` });
    expect(frames.filter((f) => f.type === 'usage')).toHaveLength(2);
    if (end.type !== 'turn_end') throw new Error('expected turn_end');
    expect(end.messages.map((m) => [m.role, m.content.map((b) => b.type)])).toEqual([
      ['assistant', ['tool_use']],
      ['user', ['tool_result']],
      ['assistant', ['text']],
    ]);
    expect(h.model.requests.at(-1)?.body).toBeTruthy();
  });

  it('stops a tool call at the per-call time limit, process group and all, and goes on', async () => {
    h = await startHarness(kind);
    const { end, frames } = await h.turn('bash: sleep 30 & sleep 30; echo never', { toolTimeoutMs: 1000 });
    const result = frames.find((f) => f.type === 'tool_result');
    expect(result).toMatchObject({ isError: true });
    expect(result?.type === 'tool_result' && result.output).toContain(
      '[tool time limit 1 s reached; the process group was stopped]',
    );
    expect(end).toMatchObject({ type: 'turn_end', stopReason: 'end' });
  });

  it('stops after maxSteps model calls', async () => {
    h = await startHarness(kind, {
      script: () => ({ kind: 'tool', name: 'bash', input: { command: 'true' } }),
    });
    const { end, frames } = await h.turn('loop forever', { maxSteps: 3 });
    expect(end).toMatchObject({ type: 'turn_end', stopReason: 'max_steps' });
    expect(h.model.requests).toHaveLength(3);
    expect(frames.filter((f) => f.type === 'tool_result')).toHaveLength(3);
  });

  it('puts the memory file into the system prompt the model sees', async () => {
    h = await startHarness(kind);
    await writeFile(join(h.workspace, 'MEMORY.md'), 'the user likes blue');
    await h.turn('hi');
    const body = JSON.stringify(h.model.requests[0]?.body);
    expect(body).toContain(JSON.stringify(`You are a test agent.${MEMORY_HEADING}the user likes blue`));
  });

  it('reports a tool the turn did not enable as an error result', async () => {
    h = await startHarness(kind);
    const { frames } = await h.turn('bash: echo no', { tools: ['read_file'] });
    expect(frames.find((f) => f.type === 'tool_result')).toMatchObject({
      isError: true,
      output: 'unknown or disabled tool: bash',
    });
  });

  it('refuses a second turn while one runs', async () => {
    h = await startHarness(kind, { script: () => ({ kind: 'hang' }) });
    const first = h.startTurn('wait');
    const { end } = await h.turn('me too');
    expect(end).toMatchObject({ type: 'turn_error', code: 'bad_request' });
    h.send({ type: 'cancel', turnId: first });
    expect(await h.finished(first)).toMatchObject({ type: 'turn_end', stopReason: 'cancelled' });
  });
});
