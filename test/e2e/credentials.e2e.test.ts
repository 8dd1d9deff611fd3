// Credentials end to end through the CLI: a granted secret is a sentinel inside a real sandbox (never the
// value), the gateway's CA is trusted there, and grants and bindings are managed by `agent set`/`secret set`.
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCa } from '../../src/gateway/tls/ca.ts';
import { originCert } from '../../src/gateway/tls/test-certs.ts';
import { createE2e, hasBwrap } from './harness.ts';

const VALUE = 'ghp_e2e-REAL-VALUE-31c4';

/** An HTTPS origin on the host's loopback, its certificate from a test CA; it echoes what it was sent. */
async function startTlsOrigin(
  dir: string,
): Promise<{ port: number; caFile: string; seen: string[]; close(): Promise<void> }> {
  fs.mkdirSync(path.join(dir, 'test-ca'));
  const ca = loadOrCreateCa(path.join(dir, 'test-ca'));
  const seen: string[] = [];
  const server = https.createServer(originCert(ca), (req, res) => {
    seen.push(req.headers.authorization ?? '-');
    res.end(`got ${req.headers.authorization ?? '-'}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const caFile = path.join(dir, 'test-ca', 'ca.crt');
  return { port: address.port, caFile, seen, close: () => new Promise((r) => server.close(() => r())) };
}

describe.skipIf(!hasBwrap)('credentials (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let origin: Awaited<ReturnType<typeof startTlsOrigin>>;
  let originDir: string;

  beforeAll(async () => {
    originDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-origin-'));
    origin = await startTlsOrigin(originDir);
    // The gateway verifies the origin against Node's roots plus this one, as an operator's own CA would be.
    e = await createE2e({ env: { NODE_EXTRA_CA_CERTS: origin.caFile } });
    const steps: [string[], string?][] = [
      [['init']],
      [['provider', 'add', 'stand', '--kind', 'anthropic', '--base-url', e.modelUrl, '--key-secret', 'K']],
      [['secret', 'set', 'K'], 'sk-model'],
      [
        ['secret', 'set', 'GH_TOKEN', '--host', 'api.github.test', '--header', 'Authorization: Bearer {}'],
        VALUE,
      ],
      [['agent', 'add', 'alpha', '--model', 'stand:m', '--grant', 'GH_TOKEN']],
      [['secret', 'set', 'LOCAL', '--host', `127.0.0.1:${origin.port}`], VALUE],
      [
        [
          'agent',
          'add',
          'curler',
          '--model',
          'stand:m',
          '--grant',
          'LOCAL',
          '--allow',
          `127.0.0.1:${origin.port}`,
        ],
      ],
    ];
    for (const [args, input] of steps) {
      const r = await e.corral(args, input);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
  afterAll(async () => {
    await e?.close();
    await origin?.close();
    if (originDir) fs.rmSync(originDir, { recursive: true, force: true });
  });

  it('curl inside the sandbox sends the sentinel over HTTPS; the bound origin receives the value', async () => {
    // NO_PROXY covers the sandbox's own loopback; --noproxy '' sends this loopback URL to the gateway instead.
    const url = `https://127.0.0.1:${origin.port}/user`;
    const r = await e.corral([
      'run',
      'curler',
      `bash: curl -sS --noproxy '' -H "Authorization: Bearer $LOCAL" ${url}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(origin.seen).toEqual([`Bearer ${VALUE}`]);
    // the origin echoed it; the gateway redacted the echo before it reached the sandbox
    expect(r.stdout).toContain('tool said: got Bearer [redacted]');
    expect(r.stdout).not.toContain(VALUE);
    // Node in the sandbox trusts the gateway's certificate too (OpenSSL's store, through NODE_OPTIONS), with no
    // CA option of its own: a CONNECT through the proxy, then TLS with Node's default verification
    const node = await e.corral([
      'run',
      'curler',
      `bash: cat > /tmp/tls.js <<'EOF'
const proxy = new URL(process.env.HTTPS_PROXY);
require('http')
  .request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: '127.0.0.1:${origin.port}' })
  .on('connect', (res, socket) => {
    const tls = require('tls').connect({ socket, host: '127.0.0.1' }, () => {
      tls.write('GET /user HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nAuthorization: Bearer ' + process.env.LOCAL + '\\r\\nConnection: close\\r\\n\\r\\n');
    });
    tls.on('data', (d) => process.stdout.write(d)).on('error', (err) => console.log('node tls error: ' + err.message));
  })
  .end();
EOF
node /tmp/tls.js`,
    ]);
    expect(node.code, node.stderr).toBe(0);
    expect(node.stdout).toContain('got Bearer [redacted]');
    expect(origin.seen).toEqual([`Bearer ${VALUE}`, `Bearer ${VALUE}`]);
    // an agent without the grant is tunnelled (the origin's own certificate, which the sandbox does not trust)
    const ungranted = await e.corral(['agent', 'set', 'curler', '--revoke', 'LOCAL']);
    expect(ungranted.code, ungranted.stderr).toBe(0);
    const again = await e.corral(['run', 'curler', `bash: curl -sS --noproxy '' ${url} 2>&1 | head -c 300`]);
    expect(again.stdout).toMatch(/certificate|SSL/i);
    expect(origin.seen).toHaveLength(2);
  });

  it('init made a CA: key 0600 on the host, certificate public', () => {
    expect(fs.statSync(path.join(e.home, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(e.home, 'ca.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('lists bindings, never values', async () => {
    const r = await e.corral(['secret', 'list', '--json']);
    expect(r.stdout).toContain('api.github.test');
    expect(r.stdout).toContain('Authorization: Bearer {}');
    expect(r.stdout + r.stderr).not.toContain(VALUE);
    const bad = await e.corral(['secret', 'set', 'X', '--host', '*.com'], 'v');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('too broad');
  });

  it('a tool sees the sentinel and the CA variables, the sandbox trusts the CA, and no value is inside', async () => {
    const ca = fs.readFileSync(path.join(e.home, 'ca.crt'), 'utf8').split('\n')[1] ?? '';
    const hex = [...Buffer.from(VALUE)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    const r = await e.corral([
      'run',
      'alpha',
      `bash: echo "gh=$GH_TOKEN ca=$NODE_OPTIONS,$SSL_CERT_FILE,$CURL_CA_BUNDLE,$REQUESTS_CA_BUNDLE,$GIT_SSL_CAINFO"; ` +
        `grep -c '${ca}' /etc/ssl/certs/ca-certificates.crt; ls /etc/ssl/certs/ca-certificates.crt >/dev/null && echo bundle; ` +
        `printf '${hex}' > /tmp/.p; grep -rlsF -f /tmp/.p --exclude=.p /proc/[0-9]*/environ /workspace /tmp /root /opt /run /etc | wc -l`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/gh=corral-sentinel-[0-9a-f]{40} /);
    expect(r.stdout).toContain(
      `ca=--use-openssl-ca,${Array(4).fill('/etc/ssl/certs/ca-certificates.crt').join(',')}`,
    );
    expect(r.stdout).toMatch(/\n1\nbundle\n0/);
    expect(r.stdout).not.toContain(VALUE);
  });

  it('the sentinel is stable across sandboxes; revoking removes it from the next sandbox', async () => {
    const first = await e.corral(['run', 'alpha', 'bash: echo "gh=$GH_TOKEN"']);
    const again = await e.corral(['run', 'alpha', 'bash: echo "gh=$GH_TOKEN"']);
    const sentinel = /gh=(corral-sentinel-[0-9a-f]+)/.exec(first.stdout)?.[1];
    expect(sentinel).toBeDefined();
    expect(again.stdout).toContain(`gh=${sentinel}`);
    const revoke = await e.corral(['agent', 'set', 'alpha', '--revoke', 'GH_TOKEN']);
    expect(revoke.code, revoke.stderr).toBe(0);
    const after = await e.corral(['run', 'alpha', 'bash: echo "gh=[$GH_TOKEN]"']);
    expect(after.stdout).toContain('gh=[]');
    const audit = await e.corral(['audit', 'list', '--json']);
    expect(audit.stdout).toContain('agent.revoke');
    expect(audit.stdout).not.toContain(VALUE);
  });
});
