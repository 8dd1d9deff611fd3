// runTurn over an in-memory control channel: events relayed, end and errors resolved, cancel and death handled.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HostFrame, RuntimeFrame, TurnFrame } from '../protocol/frames.ts';
import type { SandboxExit } from '../sandbox/types.ts';
import type { ControlChannel } from './control.ts';
import type { TurnEvent } from './turn.ts';
import { CANCEL_GRACE_MS, runTurn } from './turn.ts';

function fakeChannel() {
  const events = new EventEmitter();
  const sent: HostFrame[] = [];
  let die: (e: SandboxExit) => void = () => undefined;
  const exit = new Promise<SandboxExit>((r) => (die = r));
  const channel: ControlChannel = {
    sandbox: {
      id: 'sb',
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      exited: exit,
      stop: () => Promise.resolve(),
    },
    send: (f) => void sent.push(f),
    onFrame: (l) => {
      events.on('frame', l);
      return () => events.off('frame', l);
    },
    ready: () => Promise.resolve(1),
    stderrTail: () => 'last words',
    exit,
  };
  return { channel, sent, emit: (f: RuntimeFrame) => events.emit('frame', f), die };
}

const turn: TurnFrame = {
  type: 'turn',
  turnId: 't1',
  instructions: '',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
  model: { provider: 'p', kind: 'anthropic', model: 'm', maxTokens: 10 },
  tools: [],
  maxSteps: 1,
};

describe('runTurn', () => {
  afterEach(() => vi.useRealTimers());

  it('sends the turn, relays its events (not other turns’), and resolves on turn_end', async () => {
    const f = fakeChannel();
    const seen: TurnEvent[] = [];
    const done = runTurn(f.channel, turn, { onEvent: (e) => seen.push(e) });
    expect(f.sent).toEqual([turn]);
    f.emit({ type: 'text', turnId: 'other', delta: 'not mine' });
    f.emit({ type: 'text', turnId: 't1', delta: 'hel' });
    f.emit({ type: 'tool_call', turnId: 't1', callId: 'c', name: 'bash', input: {} });
    f.emit({ type: 'turn_end', turnId: 't1', stopReason: 'end', text: 'hello', messages: [] });
    await expect(done).resolves.toMatchObject({ type: 'turn_end', text: 'hello' });
    expect(seen.map((e) => e.type)).toEqual(['text', 'tool_call']);
  });

  it('resolves a turn_error as an outcome', async () => {
    const f = fakeChannel();
    const done = runTurn(f.channel, turn, { onEvent: () => undefined });
    f.emit({ type: 'turn_error', turnId: 't1', code: 'model_auth', message: '401' });
    await expect(done).resolves.toMatchObject({ type: 'turn_error', code: 'model_auth' });
  });

  it('rejects with the runtime’s last words when the sandbox dies mid-turn', async () => {
    const f = fakeChannel();
    const done = runTurn(f.channel, turn, { onEvent: () => undefined });
    f.die({ code: 137, signal: null });
    const err: unknown = await done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'sandbox_died' });
    expect(String(err)).toContain('last words');
  });

  it('on abort sends cancel and takes the runtime’s cancelled end', async () => {
    const f = fakeChannel();
    const ac = new AbortController();
    const done = runTurn(f.channel, turn, { onEvent: () => undefined, signal: ac.signal });
    ac.abort();
    expect(f.sent.at(-1)).toEqual({ type: 'cancel', turnId: 't1' });
    f.emit({ type: 'turn_end', turnId: 't1', stopReason: 'cancelled', text: '', messages: [] });
    await expect(done).resolves.toMatchObject({ stopReason: 'cancelled' });
  });

  it('gives up on a runtime that ignores a cancel, so the session replaces the sandbox', async () => {
    vi.useFakeTimers();
    const f = fakeChannel();
    const ac = new AbortController();
    const done = runTurn(f.channel, turn, { onEvent: () => undefined, signal: ac.signal });
    ac.abort();
    vi.advanceTimersByTime(CANCEL_GRACE_MS + 1);
    await expect(done).rejects.toMatchObject({ code: 'sandbox_unresponsive' });
  });
});
