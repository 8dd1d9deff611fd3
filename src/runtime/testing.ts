// Test harness (not bundled: main.ts does not import it): runs startRuntime in-process on PassThrough streams
// against the stand-in model server, in a fresh temp workspace, and collects the frames it writes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { startModelServer } from '../../test/fixtures/model-server.ts';
import type { Script } from '../../test/fixtures/model-server.ts';
import { RuntimeFrame } from '../protocol/frames.ts';
import type { HostFrame, ProviderKind, TurnFrame } from '../protocol/frames.ts';
import { encodeFrame, readFrames } from '../protocol/ndjson.ts';
import type { ModelBaseURL } from './providers/index.ts';
import { startRuntime } from './runtime.ts';

export type Harness = Awaited<ReturnType<typeof startHarness>>;

export async function startHarness(
  kind: ProviderKind,
  opts: { script?: Script; modelBaseURL?: ModelBaseURL } = {},
) {
  const workspace = await mkdtemp(join(tmpdir(), 'corral-runtime-'));
  const model = await startModelServer(opts.script ? { script: opts.script } : {});
  const input = new PassThrough();
  const output = new PassThrough();
  const frames: RuntimeFrame[] = [];
  const waiters = new Set<() => void>();
  readFrames(output, RuntimeFrame, {
    onFrame: (frame) => {
      frames.push(frame);
      for (const wake of waiters) wake();
    },
    onError: (err) => {
      throw err; // the runtime wrote something that is not a frame: fail loudly
    },
  });
  const runtime = await startRuntime({
    input,
    output,
    gatewaySocket: join(workspace, 'no-gateway.sock'),
    workspace,
    env: { PATH: process.env['PATH'] },
    modelBaseURL: opts.modelBaseURL ?? (() => model.url),
  });

  /** Resolves with the first frame (already seen or future) that matches. */
  const waitFor = <T extends RuntimeFrame>(match: (f: RuntimeFrame) => f is T): Promise<T> =>
    new Promise((resolve) => {
      const check = (): void => {
        const found = frames.find(match);
        if (found) {
          waiters.delete(check);
          resolve(found);
        }
      };
      waiters.add(check);
      check();
    });
  const send = (frame: HostFrame): void => void input.write(encodeFrame(frame));
  let turns = 0;
  const startTurn = (text: string, over: Partial<TurnFrame> = {}): string => {
    const turnId = `t${++turns}`;
    send({
      type: 'turn',
      turnId,
      instructions: 'You are a test agent.',
      messages: [{ role: 'user', content: [{ type: 'text', text }] }],
      model: { provider: `stand-in-${kind}`, kind, model: 'stand-in-model', maxTokens: 1000 },
      tools: ['bash', 'read_file', 'write_file', 'edit_file', 'list_files', 'web_fetch'],
      maxSteps: 5,
      ...over,
    });
    return turnId;
  };
  const finished = (turnId: string) =>
    waitFor(
      (f): f is Extract<RuntimeFrame, { type: 'turn_end' | 'turn_error' }> =>
        (f.type === 'turn_end' || f.type === 'turn_error') && f.turnId === turnId,
    );
  const turn = async (text: string, over: Partial<TurnFrame> = {}) => {
    const turnId = startTurn(text, over);
    const end = await finished(turnId);
    return { end, frames: frames.filter((f) => 'turnId' in f && f.turnId === turnId) };
  };
  const close = async (): Promise<void> => {
    input.end();
    await runtime.done;
    await model.close();
    await rm(workspace, { recursive: true, force: true });
  };
  return { workspace, model, frames, runtime, send, waitFor, startTurn, finished, turn, close };
}
