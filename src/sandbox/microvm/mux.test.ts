// The gateway multiplexer end to end in one process: real Unix sockets on both sides, the port between the two
// muxes replaced by a direct hand-over (what QEMU's virtio-serial does, minus the VM).
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Mux } from './mux.ts';
import { createFrameDecoder, createMux, encodeFrame, FRAME, MAX_PAYLOAD_BYTES, WINDOW_BYTES } from './mux.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-mux-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

let n = 0;
async function listen(handler: (s: net.Socket) => void): Promise<string> {
  const file = path.join(tmp, `s${n++}.sock`);
  const server = net.createServer({ allowHalfOpen: true }, handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(file, r));
  return file;
}

/** The guest's listener and the host's mux, joined: returns the path a client connects to inside "the VM". */
async function link(gatewaySocket: string): Promise<{ socket: string; host: Mux; guest: Mux }> {
  const peer: { guest?: Mux } = {};
  const host = createMux({
    send: (b) => setImmediate(() => peer.guest?.receive(b)),
    onOpen: () => net.createConnection({ path: gatewaySocket, allowHalfOpen: true }),
  });
  const guest = createMux({ send: (b) => setImmediate(() => host.receive(b)) });
  peer.guest = guest;
  let id = 0;
  const socket = await listen((client) => {
    const sid = ++id;
    host.receive(encodeFrame(sid, FRAME.open));
    guest.attach(sid, client);
  });
  return { socket, host, guest };
}

function roundTrip(socket: string, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection({ path: socket, allowHalfOpen: true });
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    c.on('end', () => resolve(Buffer.concat(got)));
    c.on('error', reject);
    c.end(payload);
  });
}

const echo = (s: net.Socket): void => void s.pipe(s);

describe('mux', () => {
  it('carries large payloads both ways through the credit window, half-close included', async () => {
    const { socket } = await link(await listen(echo));
    const payload = crypto.randomBytes(WINDOW_BYTES * 8 + 12345);
    expect((await roundTrip(socket, payload)).equals(payload)).toBe(true);
  });

  it('keeps many streams apart', async () => {
    const { socket, host, guest } = await link(await listen(echo));
    const payloads = Array.from({ length: 24 }, (_, i) => crypto.randomBytes(1000 * (i + 1)));
    const back = await Promise.all(payloads.map((p) => roundTrip(socket, p)));
    back.forEach((b, i) => expect(b.equals(payloads[i] ?? Buffer.alloc(0))).toBe(true));
    await new Promise((r) => setTimeout(r, 50));
    expect([host.size(), guest.size()]).toEqual([0, 0]);
  });

  it('lets one stream go on while another does not read', async () => {
    const big = crypto.randomBytes(4 * WINDOW_BYTES);
    const { socket } = await link(await listen((s) => s.end(big)));
    const stalled = net.createConnection({ path: socket });
    stalled.pause(); // reads nothing until the other stream is done
    const other = await roundTrip(socket, Buffer.alloc(0));
    expect(other.equals(big)).toBe(true);
    const late: Buffer[] = [];
    stalled.on('data', (d: Buffer) => late.push(d));
    stalled.resume();
    await new Promise((r) => stalled.once('end', r));
    expect(Buffer.concat(late).equals(big)).toBe(true);
  });

  it('resets the stream when the host cannot reach the gateway', async () => {
    const { socket } = await link(path.join(tmp, 'nobody-listens.sock'));
    const c = net.createConnection({ path: socket });
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    c.on('error', () => undefined);
    await new Promise((r) => c.once('close', r));
    expect(got).toEqual([]);
  });
});

describe('frame decoder', () => {
  it('reassembles frames split anywhere and refuses oversized ones', () => {
    const bytes = Buffer.concat([
      encodeFrame(7, FRAME.data, Buffer.from('hello')),
      encodeFrame(7, FRAME.end),
    ]);
    const decode = createFrameDecoder();
    const frames = [...bytes].flatMap((b) => decode(Buffer.from([b])));
    expect(frames.map((f) => [f.id, f.type, f.payload.toString()])).toEqual([
      [7, FRAME.data, 'hello'],
      [7, FRAME.end, ''],
    ]);
    const huge = Buffer.alloc(9);
    huge.writeUInt32BE(MAX_PAYLOAD_BYTES + 1, 5);
    expect(() => createFrameDecoder()(huge)).toThrow(/frame of/);
  });
});
