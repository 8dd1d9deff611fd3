// The Docker HTTP client against a stand-in engine on a Unix socket: long-lived requests (per session an event
// stream and a container wait) do not take connections from the pool that other requests need.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createDockerHttp } from './http.ts';

const SESSIONS = 50; // the fleet bench's count; the pool holds 32

let dir: string;
let server: http.Server;
const held: http.ServerResponse[] = [];
let closed = 0;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-docker-http-'));
  server = http.createServer((req, res) => {
    if (req.url?.includes('/wait') === true) return void held.push(res); // answered when the container stops
    if (req.url?.includes('/events') === true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"Action":"start"}\n'); // and then nothing, as the engine until a container event
      held.push(res);
      return;
    }
    res.end('OK');
  });
  // as the engine: an event stream stays open for as long as the client wants (Node's server would cut it)
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  closed = 0;
  server.on('connection', (socket) => socket.once('close', () => (closed += 1)));
  await new Promise<void>((r) => server.listen(path.join(dir, 'docker.sock'), r));
});
afterEach(async () => {
  for (const res of held.splice(0)) res.end();
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

// pooled, the 33rd stream waits for a connection until one of the others ends: against the engine, never
it(
  'answers a request while more event streams are open than the pool has connections',
  { timeout: 20_000 },
  async () => {
    const h = createDockerHttp(path.join(dir, 'docker.sock'));
    const streams: Readable[] = [];
    for (let i = 0; i < SESSIONS; i++) streams.push(await h.stream('GET', '/events'));
    const ping = await h.request('GET', '/_ping', { timeoutMs: 5_000 });
    expect(ping.body.toString()).toBe('OK');
    // every stream still open: nothing had to end for the later ones and the request to get through
    expect(closed).toBe(0);
    expect(streams.filter((s) => s.destroyed || s.readableEnded)).toEqual([]);
    for (const s of streams) s.destroy();
  },
);

it(
  'answers a request while more container waits are pending than the pool has connections',
  { timeout: 20_000 },
  async () => {
    const h = createDockerHttp(path.join(dir, 'docker.sock'));
    const waits = Array.from({ length: SESSIONS }, (_, i) =>
      h.request('POST', `/containers/c${i}/wait`, { timeoutMs: 0 }).catch(() => undefined),
    );
    while (held.length < SESSIONS) await new Promise((r) => setTimeout(r, 20)); // the engine has them all
    const ping = await h.request('GET', '/_ping', { timeoutMs: 5_000 });
    expect(ping.body.toString()).toBe('OK');
    const still = await Promise.all(
      waits.map((w) => Promise.race([w.then(() => 'ended'), Promise.resolve('pending')])),
    );
    expect(still.filter((x) => x !== 'pending')).toEqual([]);
    for (const res of held.splice(0)) res.end('{"StatusCode":0}');
    await Promise.all(waits);
  },
);
