// The gateway bridge: bytes written to the loopback TCP port arrive on the Unix socket and back, per connection.
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startBridge } from './bridge.ts';
import type { Bridge } from './bridge.ts';

let dir: string | undefined;
let server: Server | undefined;
let bridge: Bridge | undefined;
afterEach(async () => {
  await bridge?.close();
  server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const exchange = (port: number, text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
    socket.end(text);
  });

it('pipes each loopback connection to its own Unix socket connection', async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-bridge-'));
  const path = join(dir, 'gw.sock');
  let connections = 0;
  server = createServer((sock) => {
    const n = ++connections;
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    sock.on('end', () => sock.end(`#${n} upper ${got.toUpperCase()}`));
  });
  await new Promise<void>((resolve) => server?.listen(path, resolve));
  bridge = await startBridge(path, () => undefined);
  const port = bridge.port;
  const answers = await Promise.all([exchange(port, 'hello'), exchange(port, 'world')]);
  expect(answers.map((a) => a.replace(/^#\d /, '')).sort()).toEqual(['upper HELLO', 'upper WORLD']);
  expect(connections).toBe(2);
});

it('closes the client connection when the gateway socket is missing, and reports it', async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-bridge-'));
  const errors: string[] = [];
  bridge = await startBridge(join(dir, 'absent.sock'), (msg) => errors.push(msg));
  const socket = createConnection(bridge.port, '127.0.0.1');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  socket.on('error', () => undefined); // a reset is as good as a close here
  await new Promise((resolve) => socket.on('close', resolve));
  expect(got).toBe('');
  expect(errors[0]).toContain('absent.sock');
});
