// Forwarded plain HTTP streams both ways, keeps the client connection alive, and never follows a redirect.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { buildPolicy } from '../policy/egress.ts';
import { startOrigin } from './egress-test-origin.ts';
import { request, unusedLoopbackPort } from './test-harness.ts';
import { h, origin, raw, replaceOrigin, setPolicy, useEgressFixture } from './egress-fixture.ts';

useEgressFixture();

describe('plain HTTP streaming and connections', () => {
  it('streams a large POST body both ways without holding it whole', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const chunks = 20;
    const expected = createHash('sha256');
    for (let i = 0; i < chunks; i++) expected.update(chunk);
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: h.endpoint.socketPath,
          method: 'POST',
          path: `http://127.0.0.1:${origin.port}/upload`,
          headers: { 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      let i = 0;
      const write = (): void => {
        while (i < chunks) {
          i++;
          if (!req.write(chunk)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    expect(JSON.parse(body)).toMatchObject({ bytes: chunks * chunk.length, hash: expected.digest('hex') });
  });

  it('streams the answer as it arrives instead of waiting for its end', async () => {
    const slow = http.createServer((_req, res) => {
      res.writeHead(200);
      res.write('first\n');
      setTimeout(() => res.end('second\n'), 400);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const address = slow.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    setPolicy(buildPolicy('none', [`127.0.0.1:${port}`]));
    const arrivals = await new Promise<[string, number][]>((resolve, reject) => {
      const got: [string, number][] = [];
      const started = Date.now();
      http
        .get({ socketPath: h.endpoint.socketPath, path: `http://127.0.0.1:${port}/` }, (res) => {
          res.on('data', (c: Buffer) => got.push([c.toString(), Date.now() - started]));
          res.on('end', () => resolve(got));
        })
        .on('error', reject);
    });
    await new Promise<void>((r) => slow.close(() => r()));
    expect(arrivals.map(([text]) => text).join('')).toBe('first\nsecond\n');
    const [first, last] = [arrivals[0], arrivals[arrivals.length - 1]];
    expect(first?.[0]).toBe('first\n');
    expect((last?.[1] ?? 0) - (first?.[1] ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it('keeps the client connection alive across requests, each one judged anew', async () => {
    const other = await unusedLoopbackPort();
    const reply = await raw(
      `GET http://127.0.0.1:${origin.port}/one HTTP/1.1\r\nHost: x\r\n\r\n` +
        `GET http://127.0.0.1:${other}/two HTTP/1.1\r\nHost: x\r\n\r\n` +
        `GET http://127.0.0.1:${origin.port}/three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(reply.match(/^HTTP\/1.1 \d{3}/gm)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 403', 'HTTP/1.1 200']);
    expect(origin.seen.map((s) => s.url)).toEqual(['/one', '/three']);
  });

  it('passes a redirect back without following it', async () => {
    const target = await startOrigin();
    await replaceOrigin(await startOrigin(`http://127.0.0.1:${target.port}/secret`));
    setPolicy(buildPolicy('none', [`127.0.0.1:${origin.port}`]));
    const res = await request(h.endpoint.socketPath, {
      method: 'GET',
      path: `http://127.0.0.1:${origin.port}/redirect`,
    });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://127.0.0.1:${target.port}/secret`);
    // the client's next request, to the redirect target, is judged on its own and denied
    const next = await request(h.endpoint.socketPath, {
      method: 'GET',
      path: `http://127.0.0.1:${target.port}/secret`,
    });
    expect(next.status).toBe(403);
    expect(target.seen).toEqual([]);
    await target.close();
  });
});
