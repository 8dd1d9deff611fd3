// Allowed egress through a real gateway to real loopback origins (reached only through explicit IP:port
// rules): forwarding, streaming, CONNECT tunnels, keep-alive, redirects, limits and slow clients.
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPolicy } from '../policy/egress.ts';
import type { EgressPolicy } from '../policy/egress.ts';
import type { ResolvedAddress } from '../policy/destination.ts';
import type { Harness } from './test-harness.ts';
import { request, startHarness, unusedLoopbackPort } from './test-harness.ts';

interface Origin {
  port: number;
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; bodyHash: string; bytes: number }[];
  close(): Promise<void>;
}

/** A loopback origin: /redirect answers 302 to `redirectTo`, everything else echoes what it received. */
async function startOrigin(redirectTo = ''): Promise<Origin> {
  const seen: Origin['seen'] = [];
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyHash: hash.digest('hex'),
        bytes,
      };
      seen.push(entry);
      if (req.url === '/redirect') {
        res.writeHead(302, { location: redirectTo }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'yes' });
      res.end(JSON.stringify({ method: entry.method, url: entry.url, bytes, hash: entry.bodyHash }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { port: address.port, seen, close: () => new Promise((r) => server.close(() => r())) };
}

/** Names for tests, mapped without DNS: nothing here ever resolves a real name. */
const names: Record<string, ResolvedAddress[]> = {
  'loop.test': [{ address: '127.0.0.1', family: 4 }],
  'mixed.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
const resolve = (host: string): Promise<ResolvedAddress[]> => Promise.resolve(names[host] ?? []);

let h: Harness;
let origin: Origin;
let policy: EgressPolicy;
beforeEach(async () => {
  origin = await startOrigin();
  policy = buildPolicy('none', [`127.0.0.1:${origin.port}`]);
  h = await startHarness({
    egress: { policy: () => policy, resolve, timeouts: { connectMs: 500, idleMs: 1_000 } },
    timeouts: { headersMs: 300, requestMs: 2_000 },
  });
});
afterEach(async () => {
  await h.close();
  await origin.close();
});

/** Raw bytes on the gateway socket; resolves with everything received until the gateway closes. */
function raw(bytes: string | Buffer[], waitMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(h.endpoint.socketPath, () => {
      for (const b of typeof bytes === 'string' ? [bytes] : bytes) s.write(b);
    });
    const timer = setTimeout(() => s.destroy(), waitMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
    s.on('error', reject);
  });
}

describe('plain HTTP forwarding', () => {
  it('forwards an allowed GET to the checked address, hop-by-hop headers removed, and audits the allow', async () => {
    const res = await request(h.endpoint.socketPath, {
      method: 'GET',
      path: `http://127.0.0.1:${origin.port}/a/b?q=1`,
      headers: {
        host: 'spoofed.example',
        'proxy-authorization': 'Basic eDp5',
        'x-keep': 'me',
        'proxy-connection': 'keep-alive',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-origin']).toBe('yes');
    expect(JSON.parse(res.body)).toMatchObject({ method: 'GET', url: '/a/b?q=1' });
    const got = origin.seen[0]?.headers;
    expect(got?.host).toBe(`127.0.0.1:${origin.port}`);
    expect(got?.['x-keep']).toBe('me');
    expect(got?.['proxy-authorization']).toBeUndefined();
    expect(got?.['proxy-connection']).toBeUndefined();
    expect(h.audit).toEqual([
      {
        actor: 'agent:alice',
        action: 'egress.allow',
        subject: `127.0.0.1:${origin.port}`,
        detail: {
          sandboxId: 'sb-1',
          method: 'GET',
          path: '/a/b',
          rule: `127.0.0.1:${origin.port}`,
          address: '127.0.0.1',
        },
      },
    ]);
  });

  it('denies a destination without a rule, and a loopback one even when a name rule allows it', async () => {
    const other = await unusedLoopbackPort();
    const denied = await request(h.endpoint.socketPath, {
      method: 'GET',
      path: `http://127.0.0.1:${other}/`,
    });
    expect(denied.status).toBe(403);
    expect(denied.body).toBe(
      `corral gateway: egress to 127.0.0.1:${other} denied: no allow rule matches (egress preset none)\n`,
    );
    policy = buildPolicy('web', [`loop.test:${origin.port}`, `mixed.test:${origin.port}`]);
    for (const host of ['loop.test', 'mixed.test', '2130706433', '0177.0.0.1', '[::ffff:127.0.0.1]']) {
      const port = host.endsWith('.test') ? origin.port : 80;
      const r = await request(h.endpoint.socketPath, { method: 'GET', path: `http://${host}:${port}/` });
      expect(r.status, host).toBe(403);
      expect(r.body, host).toMatch(/loopback address/);
    }
    expect(origin.seen).toEqual([]);
    expect(h.audit.every((e) => e.action === 'egress.deny')).toBe(true);
  });

  it('reads the policy at request time', async () => {
    const path = `http://127.0.0.1:${origin.port}/`;
    expect((await request(h.endpoint.socketPath, { method: 'GET', path })).status).toBe(200);
    policy = buildPolicy('none', []);
    expect((await request(h.endpoint.socketPath, { method: 'GET', path })).status).toBe(403);
    policy = { preset: 'none', rules: [] };
    const failing = (): EgressPolicy => {
      throw new Error('agent file is broken');
    };
    const h2 = await startHarness({ egress: { policy: failing } });
    const r = await request(h2.endpoint.socketPath, { method: 'GET', path });
    await h2.close();
    expect(r.body).toMatch(/egress policy unavailable: agent file is broken/);
  });

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
    await origin.close();
    origin = await startOrigin(`http://127.0.0.1:${target.port}/secret`);
    policy = buildPolicy('none', [`127.0.0.1:${origin.port}`]);
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

  it('answers 502 when the allowed destination refuses the connection', async () => {
    const other = await unusedLoopbackPort();
    policy = buildPolicy('none', [`127.0.0.1:${other}`]);
    const res = await request(h.endpoint.socketPath, { method: 'GET', path: `http://127.0.0.1:${other}/` });
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/ECONNREFUSED/);
  });
});

describe('CONNECT', () => {
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
    policy = buildPolicy('none', [`GET 127.0.0.1:${origin.port}/x`]);
    const reply = await raw(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(reply).toContain('only HTTP-level rules match this host');
  });

  it('closes an idle tunnel', async () => {
    const started = Date.now();
    const reply = await raw(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(reply).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

describe('client limits', () => {
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
