// The runtime as it ships: the bundle the sandbox mounts (a CommonJS start file, ES modules loaded after ready) run
// as `node runtime.cjs`, with model calls going bridge → gateway Unix socket (here a plain pipe to the stand-in
// model server) and back.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startModelServer } from '../../test/fixtures/model-server.ts';
import { RuntimeFrame } from '../protocol/frames.ts';
import { ENV_GATEWAY_SOCKET } from '../protocol/sandbox-env.ts';
import { ensureRuntimeBundle, RUNTIME_FILE } from '../sandbox/runtime-bundle.ts';
import { encodeFrame, readFrames } from '../protocol/ndjson.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('bundles, starts, answers a turn through the gateway socket, and exits 0 on shutdown', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'corral-main-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(await ensureRuntimeBundle(dir), RUNTIME_FILE);

  const model = await startModelServer();
  cleanups.push(() => model.close());
  const { port: modelPort } = new URL(model.url);
  const socketPath = join(dir, 'gateway.sock');
  const gateway: Server = createServer((sock) =>
    sock.pipe(connect(Number(modelPort), '127.0.0.1')).pipe(sock),
  );
  await new Promise<void>((resolve) => gateway.listen(socketPath, resolve));
  cleanups.push(() => new Promise((resolve) => gateway.close(() => resolve())));

  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env['PATH'], [ENV_GATEWAY_SOCKET]: socketPath },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const frames: RuntimeFrame[] = [];
  const ended = new Promise<void>((resolve) =>
    readFrames(child.stdout, RuntimeFrame, {
      onFrame: (f) => {
        frames.push(f);
        if (f.type === 'turn_end' || f.type === 'turn_error') resolve();
      },
      onError: (err) =>
        frames.push({ type: 'log', level: 'error', msg: `not a frame on stdout: ${err.message}` }),
    }),
  );
  child.stdin.write(
    encodeFrame({
      type: 'turn',
      turnId: 't1',
      instructions: 'be brief',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      model: { provider: 'main-test', kind: 'anthropic', model: 'stand-in', maxTokens: 100 },
      tools: [],
      maxSteps: 2,
    }),
  );
  await ended;
  child.stdin.end(encodeFrame({ type: 'shutdown' }));
  expect(await exited).toBe(0);

  expect(frames[0]).toMatchObject({ type: 'ready', protocol: 1 });
  expect(frames.at(-1)).toMatchObject({
    type: 'turn_end',
    turnId: 't1',
    stopReason: 'end',
    text: 'echo: hi',
  });
  expect(frames.filter((f) => f.type === 'log' && f.level === 'error')).toEqual([]);
  const seen = model.requests[0];
  expect(seen?.path).toBe('/model/main-test/v1/messages');
  expect(seen?.headers['authorization']).toBe('Bearer corral-gateway'); // the placeholder; the gateway swaps it
});
