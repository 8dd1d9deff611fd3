// The endpoint itself: default-deny proxy traffic, the socket file's permissions, limits and shutdown.
import { stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCorralError } from '../util/errors.ts';
import { MAX_CONNECTIONS_PER_ENDPOINT } from './gateway.ts';
import type { Harness } from './test-harness.ts';
import { request, startHarness } from './test-harness.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

/** Sends raw bytes on the socket and reads until the gateway closes the connection. */
function raw(socketPath: string, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(socketPath, () => s.write(bytes));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

describe('egress', () => {
  it('denies an absolute-form proxy request with 403 and audits it', async () => {
    const res = await request(h.endpoint.socketPath, {
      method: 'GET',
      path: 'http://example.com/simple/pip/?x=1',
      headers: { host: 'example.com' },
    });
    expect(res.status).toBe(403);
    expect(res.body).toBe(
      'corral gateway: egress to example.com:80 denied: no egress policy configured (default deny)\n',
    );
    expect(h.audit).toEqual([
      {
        actor: 'agent:alice',
        action: 'egress.deny',
        subject: 'example.com:80',
        detail: {
          sandboxId: 'sb-1',
          method: 'GET',
          path: '/simple/pip/',
          reason: 'no egress policy configured (default deny)',
        },
      },
    ]);
  });

  it('denies CONNECT with 403 on the raw socket, then closes it', async () => {
    const reply = await raw(
      h.endpoint.socketPath,
      'CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n',
    );
    expect(reply.startsWith('HTTP/1.1 403 Forbidden\r\n')).toBe(true);
    expect(
      reply.endsWith(
        'corral gateway: egress to pypi.org:443 denied: no egress policy configured (default deny)\n',
      ),
    ).toBe(true);
    expect(h.audit).toMatchObject([
      { action: 'egress.deny', subject: 'pypi.org:443', detail: { method: 'CONNECT' } },
    ]);
  });

  it('denies other gateway paths and answers malformed targets with 400', async () => {
    const stray = await request(h.endpoint.socketPath, {
      method: 'GET',
      path: '/etc/passwd',
      headers: { host: 'x.test' },
    });
    expect(stray.status).toBe(403);
    expect(stray.body).toContain('egress to x.test denied');
    const bad = await raw(h.endpoint.socketPath, 'CONNECT nowhere HTTP/1.1\r\nHost: nowhere\r\n\r\n');
    expect(bad.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
    expect(h.audit.map((e) => e.action)).toEqual(['egress.deny']);
  });

  it('knows the agent from the socket, not from anything the request says', async () => {
    await request(h.endpoint.socketPath, {
      method: 'GET',
      path: 'http://example.com/',
      headers: { 'x-corral-agent': 'bob', 'proxy-authorization': 'Basic Ym9iOg==' },
    });
    expect(h.audit[0]?.actor).toBe('agent:alice');
  });
});

describe('socket file', () => {
  it('is a socket only its owner can use', async () => {
    const st = await stat(h.endpoint.socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it.skipIf(process.getuid?.() !== 0)('is chowned to the sandbox uid when corral runs as root', async () => {
    const socketPath = path.join(h.dir, 'owned.sock');
    await h.gateway.attach({
      agent: 'bob',
      sandboxId: 'sb-2',
      socketPath,
      owner: { uid: 65534, gid: 65533 },
    });
    const st = await stat(socketPath);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([65534, 65533, 0o600]);
  });

  it('refuses a path where something already exists', async () => {
    const occupied = path.join(h.dir, 'occupied');
    await writeFile(occupied, 'not a socket');
    for (const socketPath of [occupied, h.endpoint.socketPath, 'relative.sock']) {
      const err: unknown = await h.gateway
        .attach({ agent: 'bob', sandboxId: 'sb-2', socketPath })
        .catch((e: unknown) => e);
      expect(isCorralError(err) && err.code, socketPath).toBe('gateway_socket_path');
    }
  });

  it('is removed on close, and a closed gateway attaches nothing', async () => {
    const second = await h.gateway.attach({
      agent: 'bob',
      sandboxId: 'sb-2',
      socketPath: path.join(h.dir, 'b.sock'),
    });
    await h.gateway.close();
    await expect(stat(h.endpoint.socketPath)).rejects.toThrow(/ENOENT/);
    await expect(stat(second.socketPath)).rejects.toThrow(/ENOENT/);
    const err: unknown = await h.gateway
      .attach({ agent: 'bob', sandboxId: 'sb-3', socketPath: path.join(h.dir, 'c.sock') })
      .catch((e: unknown) => e);
    expect(isCorralError(err) && err.code).toBe('gateway_closed');
  });
});

describe('limits', () => {
  it(`drops connections beyond ${MAX_CONNECTIONS_PER_ENDPOINT} per endpoint`, async () => {
    const open = async (): Promise<net.Socket> => {
      const s = net.connect(h.endpoint.socketPath);
      await new Promise((resolve) => s.once('connect', resolve));
      return s;
    };
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS_PER_ENDPOINT }, open));
    const extra = await open();
    await new Promise((resolve) => extra.once('close', resolve));
    // The held connections still work.
    const first = held[0];
    const reply = new Promise<string>((resolve) => first?.once('data', (c: Buffer) => resolve(c.toString())));
    first?.write('GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n');
    expect(await reply).toMatch(/^HTTP\/1.1 403 /);
    for (const s of held) s.destroy();
  });

  it('refuses oversized request headers with 431', async () => {
    const reply = await raw(
      h.endpoint.socketPath,
      `GET /model/anthropic/v1/messages HTTP/1.1\r\nHost: g\r\nx-big: ${'a'.repeat(32 * 1024)}\r\n\r\n`,
    );
    expect(reply.startsWith('HTTP/1.1 431 ')).toBe(true);
  });
});
