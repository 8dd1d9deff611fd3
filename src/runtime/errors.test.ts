// Every way a model call can fail becomes a turn_error with the code the host acts on and a one-line message.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScriptStep } from '../../test/fixtures/model-server.ts';
import type { ProviderKind, TurnErrorCode } from '../protocol/frames.ts';
import { startHarness } from './testing.ts';
import type { Harness } from './testing.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A loopback port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const cases: [ScriptStep, TurnErrorCode, string][] = [
  [{ kind: 'status', status: 401, message: 'invalid x-api-key' }, 'model_auth', 'HTTP 401'],
  [{ kind: 'status', status: 403, message: 'forbidden' }, 'model_auth', 'HTTP 403'],
  [{ kind: 'status', status: 429, message: 'slow down' }, 'model_rate_limited', 'HTTP 429'],
  [{ kind: 'status', status: 500, message: 'boom' }, 'model_error', 'HTTP 500'],
  [{ kind: 'status', status: 529, message: 'overloaded' }, 'model_error', 'HTTP 529'],
  [{ kind: 'malformed' }, 'model_bad_response', 'malformed or incomplete'],
  [{ kind: 'truncated' }, 'model_bad_response', 'malformed or incomplete'],
];

describe.each<ProviderKind>(['anthropic', 'openai'])('%s', (kind) => {
  it.each(cases)('%o → %s', async (step, code, says) => {
    h = await startHarness(kind, { script: () => step });
    const { end } = await h.turn('hi');
    expect(end).toMatchObject({ type: 'turn_error', code });
    const message = end.type === 'turn_error' ? end.message : '';
    expect(message).toContain(says);
    expect(message).toContain(`stand-in-${kind}`);
    expect(message).not.toContain('\n');
  });

  it('connection refused → model_unreachable', async () => {
    const port = await closedPort();
    h = await startHarness(kind, { modelBaseURL: () => `http://127.0.0.1:${port}` });
    const { end } = await h.turn('hi');
    expect(end).toMatchObject({ type: 'turn_error', code: 'model_unreachable' });
    expect(end.type === 'turn_error' && end.message).toContain('could not reach the model API');
  });
});
