// Cancellation: a hanging model call and a long-running bash command both end with turn_end 'cancelled', and
// the command's whole process group is really gone afterwards.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderKind } from '../protocol/frames.ts';
import { startHarness } from './testing.ts';
import type { Harness } from './testing.ts';

const POLL_MS = 20;
const POLL_LIMIT_MS = 10_000;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function until<T>(probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Alive = exists and is not a zombie (an orphan may wait for a reaper that this container may not run). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const readPid = async (path: string): Promise<number | undefined> => {
  const text = await readFile(path, 'utf8').catch(() => '');
  return /^\d+\n$/.test(text) ? Number(text) : undefined;
};

describe.each<ProviderKind>(['anthropic', 'openai'])('%s', (kind) => {
  it('cancels a hanging model call', async () => {
    h = await startHarness(kind, { script: () => ({ kind: 'hang' }) });
    const turnId = h.startTurn('hello?');
    const model = h.model;
    await until(() => (model.requests.length > 0 ? true : undefined));
    h.send({ type: 'cancel', turnId });
    expect(await h.finished(turnId)).toMatchObject({
      type: 'turn_end',
      stopReason: 'cancelled',
      messages: [],
    });
  });

  it('cancels a long bash command and kills its whole process group', async () => {
    h = await startHarness(kind);
    const ws = h.workspace;
    const turnId = h.startTurn('bash: sleep 300 & echo $! > child.pid; echo $$ > shell.pid; wait');
    const shell = await until(() => readPid(join(ws, 'shell.pid')));
    const child = await until(() => readPid(join(ws, 'child.pid')));
    expect(await alive(child)).toBe(true);
    h.send({ type: 'cancel', turnId });
    const end = await h.finished(turnId);
    expect(end).toMatchObject({ type: 'turn_end', stopReason: 'cancelled' });
    const result = h.frames.find((f) => f.type === 'tool_result');
    expect(result).toMatchObject({ isError: true });
    expect(result?.type === 'tool_result' && result.output).toContain('cancelled; process group killed');
    // the transcript stays valid: the tool_use has its tool_result
    expect(end.type === 'turn_end' && end.messages.map((m) => m.role)).toEqual(['assistant', 'user']);
    await until(async () => ((await alive(shell)) || (await alive(child)) ? undefined : true));
  });
});
