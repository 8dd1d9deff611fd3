// TLS termination end to end with a real curl: curl → loopback bridge → gateway socket → CONNECT → leaf
// signed by the corral CA → real HTTPS origin on 127.0.0.1 (its certificate from a test CA) with the value.
import { execFile } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPolicy } from '../../policy/egress.ts';
import { createSentinels } from '../credentials/sentinel.ts';
import type { Harness } from '../test-harness.ts';
import { startBridge, startHarness } from '../test-harness.ts';
import { loadOrCreateCa } from './ca.ts';
import type { SecureContext } from 'node:tls';
import { createLeafIssuer } from './leaf.ts';
import { originCert } from './test-certs.ts';

const hasCurl = spawnSync('curl', ['--version']).status === 0;
const VALUE = 'ghp_REAL-tls-VALUE-9a8b';
const CURL_TIMEOUT_MS = 15_000;

interface Origin {
  port: number;
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Echoes the authorization header it received, as a hostile or careless origin might. */
async function startOrigin(make: (h: http.RequestListener) => http.Server): Promise<Origin> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = make((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`got ${req.headers.authorization ?? '-'} ${String(req.headers['x-token'] ?? '-')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { port: address.port, seen, close: () => new Promise((r) => server.close(() => r())) };
}

function curl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '10', ...args],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, timeout: CURL_TIMEOUT_MS },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }),
    );
  });
}

describe.skipIf(!hasCurl)('TLS termination for bound hosts (real curl)', () => {
  let h: Harness;
  let bridge: Awaited<ReturnType<typeof startBridge>>;
  let bound: Origin;
  let other: Origin;
  let plain: Origin;
  let files: { dir: string; corralCa: string; bothCas: string; testCa: string };
  const tlsDeps: { contextFor: (host: string) => SecureContext; upstreamCa: string[] } = {
    contextFor: () => {
      throw new Error('not ready');
    },
    upstreamCa: [],
  };
  let upstreamCaWrong: string[] = [];
  const sentinel = createSentinels(randomBytes(32));
  const grants = ['GH', 'PLAIN'];
  const bindings: { name: string; hosts: string[]; header: string | null }[] = [];

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join('/tmp', 'corral-tls-'));
    for (const d of ['corral', 'test']) fs.mkdirSync(path.join(dir, d));
    const corral = loadOrCreateCa(path.join(dir, 'corral'));
    const test = loadOrCreateCa(path.join(dir, 'test'));
    const originTls = originCert(test);
    const tlsServer = (handler: http.RequestListener) => https.createServer(originTls, handler);
    bound = await startOrigin(tlsServer);
    other = await startOrigin(tlsServer);
    plain = await startOrigin((handler) => http.createServer(handler));
    files = {
      dir,
      corralCa: path.join(dir, 'corral', 'ca.crt'),
      testCa: path.join(dir, 'test', 'ca.crt'),
      bothCas: path.join(dir, 'both.crt'),
    };
    fs.writeFileSync(files.bothCas, corral.certPem + test.certPem);
    bindings.push(
      { name: 'GH', hosts: [`127.0.0.1:${bound.port}`], header: null },
      { name: 'PLAIN', hosts: [`127.0.0.1:${plain.port}`], header: 'X-Token: tok {}' },
    );
    const issuer = createLeafIssuer(corral);
    tlsDeps.contextFor = (host) => issuer.contextFor(host);
    tlsDeps.upstreamCa = [test.certPem];
    upstreamCaWrong = [corral.certPem];
    const policy = buildPolicy(
      'none',
      [bound, other, plain].map((o) => `127.0.0.1:${o.port}`),
    );
    h = await startHarness({
      egress: { policy: () => policy },
      credentials: {
        grants: () => grants,
        bindings: () => bindings,
        sentinel,
        tls: tlsDeps,
      },
    });
    h.secrets.set('GH', VALUE);
    h.secrets.set('PLAIN', 'plain-REAL-value');
    bridge = await startBridge(h.endpoint.socketPath);
  });
  afterAll(async () => {
    await bridge?.close();
    await h?.close();
    await Promise.all([bound, other, plain].map((o) => o?.close()));
    if (files) fs.rmSync(files.dir, { recursive: true, force: true });
  });

  const viaGateway = (ca: string, url: string, header: string) =>
    curl(['--proxy', `http://127.0.0.1:${bridge.port}`, '--cacert', ca, '-H', header, url]);
  const gh = () => sentinel('alice', 'GH');

  it('swaps the sentinel on the bound host, verifies the real certificate, and redacts the echo', async () => {
    const r = await viaGateway(
      files.corralCa,
      `https://127.0.0.1:${bound.port}/user`,
      `Authorization: Bearer ${gh()}`,
    );
    expect(r.out).toBe('got Bearer [redacted] -\n');
    expect(bound.seen.at(-1)?.authorization).toBe(`Bearer ${VALUE}`);
    const actions = h.audit.map((a) => a.action);
    expect(actions).toContain('egress.intercept');
    expect(actions).toContain('secret.inject');
    expect(JSON.stringify(h.audit) + h.logs.join('')).not.toContain(VALUE);
  });

  it('keeps one intercepted connection for several requests, swapping on each', async () => {
    const before = bound.seen.length;
    const intercepts = h.audit.filter((a) => a.action === 'egress.intercept').length;
    const url = `https://127.0.0.1:${bound.port}/`;
    const r = await curl([
      '--proxy',
      `http://127.0.0.1:${bridge.port}`,
      '--cacert',
      files.corralCa,
      '-H',
      `Authorization: Bearer ${gh()}`,
      url,
      url,
    ]);
    expect(r.out).toBe('got Bearer [redacted] -\n'.repeat(2));
    expect(bound.seen.slice(before).map((s) => s.authorization)).toEqual([
      `Bearer ${VALUE}`,
      `Bearer ${VALUE}`,
    ]);
    expect(h.audit.filter((a) => a.action === 'egress.intercept').length).toBe(intercepts + 1);
  });

  it('tunnels an allowed host with nothing bound untouched: it receives the sentinel, never the value', async () => {
    const r = await viaGateway(
      files.testCa,
      `https://127.0.0.1:${other.port}/`,
      `Authorization: Bearer ${gh()}`,
    );
    expect(r.out).toBe(`got Bearer ${gh()} -\n`);
    expect(JSON.stringify(other.seen)).not.toContain(VALUE);
  });

  it('plain HTTP: a bound host gets the header template; elsewhere the sentinel is inert and audited', async () => {
    const r = await curl(['--proxy', `http://127.0.0.1:${bridge.port}`, `http://127.0.0.1:${plain.port}/`]);
    expect(r.out).toBe('got - tok plain-REAL-value\n'.replace('plain-REAL-value', '[redacted]'));
    expect(plain.seen.at(-1)?.['x-token']).toBe('tok plain-REAL-value');
    bindings.splice(1, 1);
    const stray = await curl([
      '--proxy',
      `http://127.0.0.1:${bridge.port}`,
      '-H',
      `Authorization: Bearer ${gh()}`,
      `http://127.0.0.1:${plain.port}/`,
    ]);
    expect(stray.out).toBe(`got Bearer ${gh()} -\n`);
    expect(
      h.audit.filter((a) => a.action === 'secret.sentinel_elsewhere').map((a) => a.detail?.['secret']),
    ).toContain('GH');
  });

  it('rotation and revocation apply to the very next request', async () => {
    h.secrets.set('GH', 'ghp_ROTATED-value');
    await viaGateway(files.corralCa, `https://127.0.0.1:${bound.port}/`, `Authorization: Bearer ${gh()}`);
    expect(bound.seen.at(-1)?.authorization).toBe('Bearer ghp_ROTATED-value');
    grants.splice(0, grants.length);
    // no grant: the CONNECT is tunnelled, so the origin's own certificate answers and the sentinel stays inert
    const r = await viaGateway(
      files.bothCas,
      `https://127.0.0.1:${bound.port}/`,
      `Authorization: Bearer ${gh()}`,
    );
    expect(r.out).toBe(`got Bearer ${gh()} -\n`);
  });

  it('refuses an upstream whose certificate does not verify: 502, and the value is never sent', async () => {
    grants.push('GH');
    const before = bound.seen.length;
    tlsDeps.upstreamCa = upstreamCaWrong;
    const r = await curl([
      '--proxy',
      `http://127.0.0.1:${bridge.port}`,
      '--cacert',
      files.corralCa,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `Authorization: Bearer ${gh()}`,
      `https://127.0.0.1:${bound.port}/`,
    ]);
    expect(r.out).toBe('502');
    expect(bound.seen.length).toBe(before);
  });
});
