// Allowed plain-HTTP egress through a real gateway to loopback origins reached only through explicit IP:port
// rules: the checked address, hop-by-hop headers, denials, the policy read per request, HTTP-level rules, 502s.
import { describe, expect, it } from 'vitest';
import { buildPolicy } from '../policy/egress.ts';
import type { EgressPolicy } from '../policy/egress.ts';
import type { ResolvedAddress } from '../policy/destination.ts';
import { request, startHarness, unusedLoopbackPort } from './test-harness.ts';
import { h, origin, setPolicy, useEgressFixture } from './egress-fixture.ts';

useEgressFixture();

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
    setPolicy(buildPolicy('web', [`loop.test:${origin.port}`, `mixed.test:${origin.port}`]));
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
    setPolicy(buildPolicy('none', []));
    expect((await request(h.endpoint.socketPath, { method: 'GET', path })).status).toBe(403);
    setPolicy({ preset: 'none', rules: [] });
    const failing = (): EgressPolicy => {
      throw new Error('agent file is broken');
    };
    const h2 = await startHarness({ egress: { policy: failing } });
    const r = await request(h2.endpoint.socketPath, { method: 'GET', path });
    await h2.close();
    expect(r.body).toMatch(/egress policy unavailable: agent file is broken/);
  });

  it('applies HTTP-level rules to the method and path of each request', async () => {
    setPolicy(buildPolicy('none', [`GET 127.0.0.1:${origin.port}/api/*`]));
    const base = `http://127.0.0.1:${origin.port}`;
    const ok = await request(h.endpoint.socketPath, { method: 'GET', path: `${base}/api/items?x=1` });
    expect(ok.status).toBe(200);
    const post = await request(h.endpoint.socketPath, {
      method: 'POST',
      path: `${base}/api/items`,
      body: 'x',
    });
    expect(post.status).toBe(403);
    const deeper = await request(h.endpoint.socketPath, { method: 'GET', path: `${base}/api/items/1` });
    expect(deeper.status).toBe(403);
    expect(origin.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/items?x=1']);
  });

  it('answers 502 when resolving takes longer than its timeout', async () => {
    const h2 = await startHarness({
      egress: {
        policy: () => buildPolicy('web', []),
        resolve: () => new Promise<ResolvedAddress[]>(() => undefined),
        timeouts: { resolveMs: 100 },
      },
    });
    const res = await request(h2.endpoint.socketPath, { method: 'GET', path: 'http://slow.test/' });
    await h2.close();
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/cannot resolve slow.test \(ETIMEOUT\)/);
  });

  it('answers 502 when the allowed destination refuses the connection', async () => {
    const other = await unusedLoopbackPort();
    setPolicy(buildPolicy('none', [`127.0.0.1:${other}`]));
    const res = await request(h.endpoint.socketPath, { method: 'GET', path: `http://127.0.0.1:${other}/` });
    expect(res.status).toBe(502);
    expect(res.body).toMatch(/ECONNREFUSED/);
  });
});
