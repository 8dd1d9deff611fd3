// CONNECT tunnels to allowed destinations, and the limits every client of the endpoint is held to.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { buildPolicy } from '../policy/egress.ts';
import { h, origin, raw, setPolicy, useEgressFixture } from './egress-fixture.ts';

useEgressFixture();

describe('CONNECT and client limits', () => {
  it('tunnels raw bytes to an allowed destination after 200 Connection Established', async () => {
    const reply = await raw([
      Buffer.from(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`),
      Buffer.from(`GET /tunnelled HTTP/1.1\r\nHost: inner\r\nConnection: close\r\n\r\n`),
    ]);
    expect(reply.startsWith('HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK\r\n')).toBe(true);
    expect(reply).toContain('"url":"/tunnelled"');
    expect(h.audit).toMatchObject([
      { action: 'egress.allow', detail: { method: 'CONNECT', address: '127.0.0.1' } },
    ]);
  });

  it('refuses a denied CONNECT with 403 naming the reason, and never connects', async () => {
    const reply = await raw(`CONNECT loop.test:${origin.port} HTTP/1.1\r\nHost: loop.test\r\n\r\n`);
    expect(reply.startsWith('HTTP/1.1 403 Forbidden\r\n')).toBe(true);
    expect(reply).toContain(
      `corral gateway: egress to loop.test:${origin.port} denied: no allow rule matches`,
    );
    expect(origin.seen).toEqual([]);
  });

  it('does not let an HTTP-level rule open a tunnel', async () => {
    setPolicy(buildPolicy('none', [`GET 127.0.0.1:${origin.port}/x`]));
    const reply = await raw(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(reply).toContain('only HTTP-level rules match this host');
  });

  it('closes an idle tunnel', async () => {
    const started = Date.now();
    const reply = await raw(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(reply).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('refuses huge headers with 431', async () => {
    const reply = await raw(
      `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    );
    expect(reply.startsWith('HTTP/1.1 431 ')).toBe(true);
    expect(origin.seen).toEqual([]);
  });

  it('answers a malformed request with 400', async () => {
    expect((await raw('GARBAGE\r\n\r\n')).startsWith('HTTP/1.1 400 ')).toBe(true);
    expect((await raw('GET http://[zz/ HTTP/1.1\r\nHost: x\r\n\r\n')).startsWith('HTTP/1.1 400 ')).toBe(true);
    expect((await raw('GET ftp://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n')).startsWith('HTTP/1.1 400 ')).toBe(
      true,
    );
  });

  it('drops a client that sends its headers too slowly', async () => {
    const started = Date.now();
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      const s = net.connect(h.endpoint.socketPath, () =>
        s.write(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n`),
      );
      s.on('data', (c: Buffer) => (text += c.toString()));
      s.on('close', () => resolve(text));
      s.on('error', () => resolve(text));
    });
    expect(reply.startsWith('HTTP/1.1 408 ')).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(origin.seen).toEqual([]);
  });
});
